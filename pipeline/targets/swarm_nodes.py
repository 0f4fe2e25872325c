"""The hosts of a ``kind: swarm`` environment: how each is reached over SSH, the Ansible inventory and
variables of ``playbooks/swarm.yml``, and the cluster's identity.

* **Logins**: one ``Login`` per node (key only, the environment's own known_hosts, one multiplexed
  connection per node), from ``swarm.ssh`` and each node's ``ssh_host``/``ssh_port``.
* **The inventory** is YAML data (groups ``swarm_managers``, ``swarm_workers``, ``swarm_edge``,
  ``swarm_registry``), never lines joined from strings; each node's address, labels and keepalived
  settings are its host variables.
* **The identity guard**: before a playbook touches a node, each node's engine is asked which
  swarm it is in. The swarm's cluster id is recorded at the first ``up``
  (``.pipeline/swarm/<env>/cluster.json``); a node in another swarm (another cluster id, or a
  worker whose managers are not ours) stops ``up`` in one line naming the node, nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.commands import Command, Result
from pipeline.commands.ansible import Recap, host_entry, inventory_of, playbook, recap
from pipeline.commands.executor import Executor
from pipeline.commands.ssh import Login, classify, probe, remote
from pipeline.environment import Environment, kinds
from pipeline.environment.swarm import Node, Swarm
from pipeline.errors import ConfigError, ForeignSwarm, HostConfigFailed
from pipeline.project import Project

Say = Callable[[str], None]
LOGIN_USER = "admin"  # the stand-in nodes' login (as on Debian's cloud images)
# the node labels placement reads: a role (``node.labels.pl.<role>==true``), and each node's own name
# (``pl.host``), which the app's tracks are spread over (one label value per node: evenly per node)
LABELS = {"edge": "pl.edge", "db": "pl.db", "cache": "pl.cache", "app": "pl.app", "host": "pl.host"}


def require_swarm(env: Environment) -> Swarm:
    """The environment's swarm: section, or one line saying it is missing."""
    return kinds.section_of(env.name, "swarm", env.swarm)


def state_dir(project: Project, env: Environment) -> Path:
    """The environment's folder in the state dir (key pair, known_hosts, inventory, cluster id)."""
    return project.state / "swarm" / env.name


@dataclass(frozen=True)
class EngineSwarm:
    """What a node's engine says of its swarm membership (``docker info``'s Swarm)."""

    state: str  # "", inactive, pending, active, error, locked ("": no engine yet)
    cluster: str  # the cluster id (managers only)
    managers: tuple[str, ...]  # addresses of the managers it knows (ip:port)

    @classmethod
    def parse(cls, text: str) -> EngineSwarm:
        try:
            data = json.loads(text) if text.strip() else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        cluster = data.get("Cluster") or {}
        managers = tuple(sorted(str(m.get("Addr", "")) for m in data.get("RemoteManagers") or []))
        return cls(str(data.get("LocalNodeState") or ""), str(cluster.get("ID") or ""), managers)


def foreign(swarm: Swarm, node: Node, seen: EngineSwarm, recorded: str | None) -> str | None:
    """Why ``node`` is in another swarm than ours (one line), or None. Ours: the recorded cluster id,
    or before one is recorded, a swarm whose managers are all our managers."""
    if seen.state in ("", "inactive"):
        return None
    if seen.cluster and recorded and seen.cluster != recorded:
        return f"{node.name} ({node.address}) is in swarm {seen.cluster[:12]}, not this environment's {recorded[:12]}"
    ours = {f"{m.address}:2377" for m in swarm.managers}
    strangers = [addr for addr in seen.managers if addr not in ours]
    if strangers:
        return f"{node.name} ({node.address}) is in a swarm managed by {', '.join(strangers)}, not by this environment's managers"
    return None


class SwarmNodes:
    """The nodes over SSH, the swarm playbook, and the identity guard, for one environment."""

    def __init__(self, env: Environment, ex: Executor, project: Project, say: Say, login_user: str | None = None) -> None:
        self.env = env
        self.swarm = require_swarm(env)
        self.ex = ex
        self.project = project
        self.say = say
        self.dir = state_dir(project, env)
        user = login_user or self.swarm.ssh.user
        key = Path(self.swarm.ssh.key).expanduser() if self.swarm.ssh.key else self.dir / "id_ed25519"
        self.logins: dict[str, Login] = {}
        for node in self.swarm.nodes:
            host, port = node.login(self.swarm.ssh)
            self.logins[node.name] = Login(host, port, user, key, self.dir / "known_hosts", self.dir)
        self.last_recap: Recap | None = None

    @property
    def key(self) -> Path:
        return self.logins[self.swarm.manager.name].key

    def make_dir(self) -> None:
        if not self.ex.dry_run:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.dir.chmod(0o700)

    # --- reaching the nodes ---------------------------------------------------------
    def on(self, node: str, script: str, description: str, **kw: Any) -> Result:
        """``script`` run on ``node`` over SSH (as the login user)."""
        return self.ex.run(remote(self.logins[node], script, f"{node}: {description}", **kw))

    def reach(self, timeout: float = 0.0) -> None:
        """Every node answers SSH with our key, or one line naming the first that does not (60, 61)."""
        import time

        deadline = time.monotonic() + timeout
        waiting = {n.name for n in self.swarm.nodes}
        while waiting:
            for name in sorted(waiting):
                key = f"swarm.{self.swarm.key_of(name)} ({name})"
                error = classify(self.logins[name], self.ex.run(probe(self.logins[name])), key, "swarm")
                if error is None or self.ex.dry_run:
                    waiting.discard(name)
                    continue
                if time.monotonic() >= deadline:
                    raise error
            if waiting:
                time.sleep(1)

    def close(self) -> None:
        """End each node's multiplexed connection (a new one sees a group the playbook added)."""
        for name, login in self.logins.items():
            self.ex.run(
                Command(
                    ("ssh", *login.options(), "-O", "exit", login.destination),
                    description=f"{name}: close the shared SSH connection",
                    check=False,
                    mutates=False,
                )
            )

    # --- identity -------------------------------------------------------------------
    def recorded(self) -> str | None:
        path = self.dir / "cluster.json"
        try:
            return str(json.loads(path.read_text())["id"]) or None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def record(self, cluster: str) -> None:
        if self.ex.dry_run or not cluster or cluster == self.recorded():
            return
        path = self.dir / "cluster.json"
        path.write_text(json.dumps({"id": cluster, "managers": [m.address for m in self.swarm.managers]}) + "\n")
        self.say(f"swarm: cluster {cluster[:12]} recorded")

    def engine_swarm(self, node: str) -> EngineSwarm:
        found = self.on(
            node,
            "command -v docker >/dev/null 2>&1 && sudo -n docker info --format '{{json .Swarm}}' 2>/dev/null || true",
            "which swarm is the engine in",
            mutates=False,
            check=False,
        )
        return EngineSwarm.parse(found.stdout)

    def guard(self) -> None:
        """Refuse (``ForeignSwarm``, one line naming the node) before a node of another swarm is touched."""
        recorded = self.recorded()
        for node in self.swarm.nodes:
            why = foreign(self.swarm, node, self.engine_swarm(node.name), recorded)
            if why is not None:
                raise ForeignSwarm(
                    f"swarm node {why}",
                    hint="take it out of that swarm (docker swarm leave) or list another host; nothing was changed",
                )

    # --- the playbook -----------------------------------------------------------------
    def host_vars(self, node: Node, extra: dict[str, Any]) -> dict[str, Any]:
        swarm = self.swarm
        labels = {LABELS["edge"]: "true"} if node.name in swarm.edge_nodes else {}
        for role in ("db", "cache"):
            if swarm.role_node(role) == node.name:
                labels[LABELS[role]] = "true"
        if node.name in swarm.app_placement:
            labels[LABELS["app"]] = "true"
        labels[LABELS["host"]] = node.name
        entry: dict[str, Any] = {"swarm_address": node.address, "swarm_labels": labels, **extra}
        if node.name in swarm.edge_nodes and swarm.vip is not None:
            peers = [swarm.node(n).address for n in swarm.edge_nodes if n != node.name]
            entry |= {
                "keepalived_address": node.address,
                "keepalived_peers": peers,
                # the check fails on a node cut off from every other node: it must not claim the address
                "keepalived_cluster_peers": [n.address for n in swarm.nodes if n.name != node.name],
                "keepalived_priority": 150 - 10 * swarm.edge_nodes.index(node.name),
            }
        return entry

    def inventory(self, per_node: Callable[[Node], dict[str, Any]] | None = None) -> str:
        swarm = self.swarm

        def hosts(nodes: list[Node]) -> dict[str, dict[str, Any]]:
            return {n.name: host_entry(self.logins[n.name], **self.host_vars(n, per_node(n) if per_node else {})) for n in nodes}

        return inventory_of(
            {
                "swarm_managers": hosts(swarm.managers),
                "swarm_workers": hosts(swarm.workers),
                "swarm_edge": hosts([swarm.node(n) for n in swarm.edge_nodes]),
                "swarm_registry": hosts([swarm.registry_node]),
            }
        )

    def variables(self, machine: dict[str, Any]) -> dict[str, Any]:
        swarm = self.swarm
        pub = self.key.with_suffix(".pub")
        registry = f"{swarm.registry_node.address}:{swarm.registry.port}"
        found: dict[str, Any] = {
            "common_deploy_keys": [pub.read_text().strip()] if pub.exists() else [],
            "common_ssh_allow_users": sorted({self.logins[swarm.manager.name].user, "deploy"}),
            # Docker keeps its own rules in the kernel's tables: the host firewall of the common role
            # would flush them; the swarm role's table guards the swarm's ports instead
            "common_firewall_enabled": False,
            # this machine pushes images through a forward to the registry on its node, nothing else
            "common_ssh_tcp_forwarding": "local",
            "common_ssh_permit_open": [f"127.0.0.1:{swarm.registry.port}"],
            "docker_users": sorted({self.logins[swarm.manager.name].user, "deploy"}),
            "docker_insecure_registries": [registry],
            "swarm_registry_port": swarm.registry.port,
            "keepalived_vip": swarm.vip.address if swarm.vip else "",
            "keepalived_interface": swarm.vip.interface if swarm.vip else "eth0",
            "keepalived_router_id": swarm.vip.router_id if swarm.vip else 51,
            **machine,
        }
        return found

    def write_inputs(
        self, machine: dict[str, Any], per_node: Callable[[Node], dict[str, Any]] | None = None
    ) -> tuple[Path, Path]:
        inv = self.dir / "inventory.yml"
        variables = self.dir / "vars.json"
        if self.ex.dry_run:
            self.say(f"(dry run) would write the inventory {inv} and the playbook variables {variables} (mode 0600)")
        else:
            inv.write_text(self.inventory(per_node))
            variables.touch(mode=0o600)
            variables.write_text(json.dumps(self.variables(machine), indent=1, sort_keys=True))
        return inv, variables

    def apply(
        self, machine: dict[str, Any], per_node: Callable[[Node], dict[str, Any]] | None = None, check: bool = False
    ) -> Recap:
        """SSH to every node, the identity guard, then playbooks/swarm.yml; the cluster id recorded."""
        self.reach()
        self.guard()
        inv, variables = self.write_inputs(machine, per_node)
        nodes = ", ".join(n.name for n in self.swarm.nodes)
        self.say(f"ansible: applying playbooks/swarm.yml to {nodes}" + (" (--check)" if check else ""))
        result = self.ex.run(playbook(self.project.root, "swarm.yml", inv, variables, check=check, timeout=1800))
        if self.ex.dry_run and not check:
            return Recap(0, 0, 0, 0, [])
        found = recap(result.stdout)
        self.last_recap = found
        if not found.success or not result.ok:
            first = found.failures[0] if found.failures else (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise HostConfigFailed(
                f"playbooks/swarm.yml: {first}",
                hint=f"ansible recap: {found.failed} failed, {found.unreachable} unreachable",
            )
        self.close()
        if not check:
            self.record(self.engine_swarm(self.swarm.manager.name).cluster)
        self.say(
            f"ansible: ok={found.ok} changed={found.changed}" + (f" ({'; '.join(found.changes[:12])})" if found.changes else "")
        )
        return found


def check_key(swarm: Swarm, env: Environment) -> None:
    if swarm.ssh.key and not Path(swarm.ssh.key).expanduser().is_file():
        raise ConfigError(
            f"environments/{env.name}/env.yaml: swarm.ssh.key: {swarm.ssh.key} is not a file",
            hint="point it at the private key that logs in to the nodes",
        )
