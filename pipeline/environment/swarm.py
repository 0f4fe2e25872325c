"""The ``swarm:`` section of an environment (``target.kind: swarm``): the nodes of a multi-node
Docker Swarm reached over SSH (managers, workers, which of them carry the edge), the virtual IP
keepalived moves between the edge nodes, where PostgreSQL and Redis are pinned, the registry the
nodes pull from, and, for ``swarm-local``, the stand-in cluster of node containers on this machine.

Like ``vm:``, every value here ends up in an Ansible inventory, a keepalived configuration or a
command line on a host: each is held to a charset no quoting rule has anything to act on, and the
inventory is written as YAML data, never joined from strings. A mistake names its key
(``swarm.edge_nodes``, ``swarm.workers.1.address``) in one line with a hint.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from pipeline.environment.base import Strict
from pipeline.environment.vm import DOMAIN, Ssh, is_address, is_host

Port = Annotated[int, Field(ge=1, le=65535)]
NODE_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}\Z")
INTERFACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}\Z")
# the node labels the stack's placement constraints read (node.labels.pl.<role>==true)
ROLES = ("db", "cache")


def _misfit(key: str, message: str, hint: str) -> PydanticCustomError:
    """A check of the whole section that names the key it is about (folded into the key path)."""
    return PydanticCustomError("swarm", "{key}: {message}", {"key": key, "message": message, "hint": hint})


class Node(Strict):
    """One host of the swarm."""

    name: str = Field(description="the node's name in the swarm (lowercase letters, digits, '-'), unique")
    address: str = Field(description="the IP address the other nodes reach it at: the swarm's advertise address, VRRP's source")
    ssh_host: str = Field(default="", description="where this machine reaches its SSH; empty: address")
    ssh_port: Port | None = Field(default=None, description="its SSH port; empty: swarm.ssh.port")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NODE_NAME.match(value):
            raise ValueError("must be lowercase letters, digits and '-', starting with a letter (at most 31)")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not is_address(value):
            raise ValueError("must be an IP address (the swarm advertises it; a name could resolve differently per node)")
        return value

    @field_validator("ssh_host")
    @classmethod
    def _ssh_host(cls, value: str) -> str:
        if value and not is_host(value):
            raise ValueError("must be a host name or an IP address")
        return value

    def login(self, ssh: Ssh) -> tuple[str, int]:
        """Where this machine logs in: host and port."""
        return self.ssh_host or self.address, self.ssh_port or ssh.port


class Vip(Strict):
    """The one address in front of the edge nodes: keepalived (VRRP) holds it on a healthy edge node."""

    address: str = Field(description="the virtual IP, on the edge nodes' network and no node's own address")
    interface: str = Field(default="eth0", description="the network interface it is added to on the edge nodes")
    router_id: Annotated[int, Field(ge=1, le=255)] = Field(
        default=51, description="VRRP's virtual router id, unique on that network"
    )

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not is_address(value):
            raise ValueError("must be an IP address")
        return value

    @field_validator("interface")
    @classmethod
    def _interface(cls, value: str) -> str:
        if not INTERFACE.match(value):
            raise ValueError("must be a network interface name (letters, digits, '_.@-', at most 15)")
        return value


class Registry(Strict):
    """The image registry on a node (Debian's docker-registry) the nodes pull from; this machine
    pushes to it through an SSH tunnel, so its port is open to the nodes only."""

    node: str = Field(default="", description="the node it runs on; empty: the first manager")
    port: Port = 5000


class LocalSwarm(Strict):
    """The stand-in cluster: node containers built from the base image on a network of their own,
    SSH published on 127.0.0.1 only (each node's ssh_host: 127.0.0.1, ssh_port: its published port)."""

    subnet: str = Field(default="10.231.0.0/24", description="the node network's subnet; node addresses lie in it")

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, value: str) -> str:
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise ValueError("must be a network such as 10.231.0.0/24 (host bits zero)") from None
        if not net.is_private or net.version != 4 or net.prefixlen > 28:
            raise ValueError("must be a private IPv4 network of /28 or larger")
        return value


class Swarm(Strict):
    """Everything about a ``kind: swarm`` environment."""

    ssh: Ssh = Ssh()
    managers: list[Node] = Field(
        min_length=1, max_length=7, description="the manager nodes (1, 3 or 5: Raft needs a majority of them)"
    )
    workers: list[Node] = Field(default_factory=list, max_length=64, description="the worker nodes")
    edge_nodes: list[str] = Field(
        min_length=1, description="the names of the nodes that run an edge replica (at least two when redundant)"
    )
    redundant_edge: bool = Field(
        default=True, description="at least two edge nodes behind one address; false: one edge node, a single point of failure"
    )
    front: Literal["vip", "dns"] = Field(
        default="vip",
        description="what is in front of the edge nodes: vip, a virtual IP keepalived moves between them (one L2 "
        "network); dns, the edge nodes' addresses under swarm.domain, round robin with health checks (clouds without VRRP)",
    )
    vip: Vip | None = Field(default=None, description="the virtual IP in front of the edge nodes (front: vip, redundant)")
    domain: str = Field(default="", description="the name users reach (front: dns): its records are the edge nodes' addresses")
    db_node: str = Field(default="", description="the node PostgreSQL is pinned to, with its volume; empty: the first manager")
    cache_node: str = Field(default="", description="the node Redis is pinned to; empty: the db node")
    app_nodes: list[str] = Field(
        default_factory=list,
        description="the nodes the app's tracks run on, spread evenly over them; empty: the workers (so the managers "
        "keep the control plane and the data), or every node of a cluster of managers only",
    )
    registry: Registry = Registry()
    engine_packages: Literal["debian", "docker"] = Field(
        default="debian",
        description="where the nodes' Docker engine comes from: debian, the distribution's docker.io; docker, "
        "Docker's own apt repository (docker-ce; a newer libnetwork, recommended on a real cluster: "
        "docs/swarm.md says why)",
    )
    replica_port: Port = Field(
        default=18080,
        description="where each edge replica's nginx is published on its node: the relay (haproxy) on every edge "
        "node forwards users' requests to the replicas there; open to the nodes only",
    )
    local: LocalSwarm | None = Field(default=None, description="set only for the local stand-in (swarm-local)")

    @property
    def nodes(self) -> list[Node]:
        return [*self.managers, *self.workers]

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    @property
    def manager(self) -> Node:
        """The manager the pipeline talks to (the first)."""
        return self.managers[0]

    @property
    def app_placement(self) -> list[str]:
        """The nodes the app's tracks run on: ``app_nodes``, else the workers, else every node."""
        return self.app_nodes or [w.name for w in self.workers] or [n.name for n in self.nodes]

    def role_node(self, role: str) -> str:
        """The node a stateful part is pinned to (``db``, ``cache``)."""
        db = self.db_node or self.manager.name
        return db if role == "db" else (self.cache_node or db)

    def key_of(self, name: str) -> str:
        """The node's key path in the section: ``managers.0``, ``workers.1``."""
        for group, nodes in (("managers", self.managers), ("workers", self.workers)):
            for at, node in enumerate(nodes):
                if node.name == name:
                    return f"{group}.{at}"
        raise KeyError(name)

    @property
    def registry_node(self) -> Node:
        return self.node(self.registry.node or self.manager.name)

    @model_validator(mode="after")
    def _cluster(self) -> Swarm:
        if len(self.managers) % 2 == 0:
            raise _misfit(
                "managers",
                f"{len(self.managers)} managers: an even count survives no more losses than one fewer",
                "list 1, 3 or 5 managers",
            )
        seen: dict[str, str] = {}
        for index, node in enumerate(self.nodes):
            key = _position(self, index)
            host, port = node.login(self.ssh)
            for kind, value in (("name", node.name), ("address", node.address), ("ssh", f"{host}:{port}")):
                other = seen.get(f"{kind}={value}")
                if other is not None:
                    raise _misfit(
                        f"{key}.{'ssh_port' if kind == 'ssh' else kind}",
                        f"{node.name}: {kind} {value} is listed twice (also {other})",
                        "each node once, with its own name, address and SSH login",
                    )
                seen[f"{kind}={value}"] = f"{key} {node.name}"
        names = {n.name for n in self.nodes}
        for index, name in enumerate(self.edge_nodes):
            if name not in names:
                raise _misfit(f"edge_nodes.{index}", f"'{name}' is not a node", f"nodes: {', '.join(sorted(names))}")
        if len(set(self.edge_nodes)) != len(self.edge_nodes):
            raise _misfit("edge_nodes", "a node is listed twice", "each edge node once")
        if self.redundant_edge:
            if len(self.edge_nodes) < 2:
                raise _misfit(
                    "edge_nodes",
                    f"{len(self.edge_nodes)} edge node: a redundant edge needs at least two",
                    "list a second node, or set swarm.redundant_edge: false (one edge: a single point of failure)",
                )
            if self.front == "vip" and self.vip is None:
                raise _misfit(
                    "vip", "missing: a redundant edge needs a virtual IP in front of it", "add vip.address, or set front: dns"
                )
        elif len(self.edge_nodes) != 1:
            raise _misfit("edge_nodes", "redundant_edge is false: one edge node", "list one, or set redundant_edge: true")
        if self.front == "dns":
            if self.vip is not None:
                raise _misfit("vip", "front: dns has no virtual IP", "remove vip, or set front: vip")
            if not DOMAIN.fullmatch(self.domain):
                raise _misfit("domain", "front: dns needs the name users reach (e.g. app.example.com)", "set swarm.domain")
        if self.vip is not None and self.vip.address in {n.address for n in self.nodes}:
            raise _misfit("vip.address", f"{self.vip.address} is a node's own address", "pick a free address on their network")
        taken = {2377: "swarm management", 7946: "swarm gossip", 4789: "overlay traffic", self.registry.port: "registry.port"}
        if self.replica_port in taken:
            raise _misfit(
                "replica_port",
                f"{self.replica_port} is taken on the nodes ({taken[self.replica_port]})",
                "pick a free port (the default is 18080)",
            )
        for key, name in (("db_node", self.db_node), ("cache_node", self.cache_node), ("registry.node", self.registry.node)):
            if name and name not in names:
                raise _misfit(key, f"'{name}' is not a node", f"nodes: {', '.join(sorted(names))}")
        for index, name in enumerate(self.app_nodes):
            if name not in names:
                raise _misfit(f"app_nodes.{index}", f"'{name}' is not a node", f"nodes: {', '.join(sorted(names))}")
        if len(set(self.app_nodes)) != len(self.app_nodes):
            raise _misfit("app_nodes", "a node is listed twice", "each node once")
        if self.local is not None:
            self._stand_in(self.local)
        return self

    def _stand_in(self, local: LocalSwarm) -> None:
        net = ipaddress.ip_network(local.subnet)
        for index, node in enumerate(self.nodes):
            key = _position(self, index)
            if node.ssh_host not in ("", "127.0.0.1") or node.ssh_port is None:
                raise _misfit(
                    f"{key}.ssh_port",
                    f"{node.name}: a stand-in node is reached on 127.0.0.1 at a port of its own",
                    "set ssh_port (and no ssh_host other than 127.0.0.1)",
                )
            if ipaddress.ip_address(node.address) not in net or node.address == str(next(net.hosts())):
                raise _misfit(
                    f"{key}.address",
                    f"{node.name}: {node.address} is not a node address in swarm.local.subnet {local.subnet}",
                    "an address of the subnet other than its first (the bridge's gateway)",
                )
        if self.vip is not None and ipaddress.ip_address(self.vip.address) not in net:
            raise _misfit("vip.address", f"{self.vip.address} is outside swarm.local.subnet {local.subnet}", "one in the subnet")


def _position(swarm: Swarm, index: int) -> str:
    """The key path of the ``index``-th of ``swarm.nodes`` (managers first)."""
    if index < len(swarm.managers):
        return f"managers.{index}"
    return f"workers.{index - len(swarm.managers)}"
