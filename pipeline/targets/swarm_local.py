"""swarm-local: a stand-in for a cluster of rented hosts, on this machine.

Each node is a container of the stand-in host image (``images/vm``: systemd as PID 1 and OpenSSH,
built FROM the project's base image) on a bridge network of its own (``swarm.local.subnet``) at
the node's ``address``, its SSH published on 127.0.0.1 only (the node's ``ssh_port``). Ansible
(playbooks/swarm.yml) then installs a real Docker engine in each and forms a real swarm, exactly
as on rented hosts. A container may not be ``--privileged`` here, so a node gets every capability
but SYS_RESOURCE, no seccomp or AppArmor profile, unmasked /proc and /sys paths and a cgroup
namespace of its own; its engine keeps its images in a volume of its own (overlay2 cannot stack
on the container's own overlay root) under a cgroup parent named for the node.

Everything is read first and only made when missing, so a second ``up`` changes nothing.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.build.images import _dir_digest
from pipeline.commands import Command, docker
from pipeline.commands.executor import Executor
from pipeline.environment import Environment
from pipeline.environment.swarm import LocalSwarm, Node, Swarm
from pipeline.errors import ConfigError, PortTaken
from pipeline.ports import port_free
from pipeline.project import Project
from pipeline.targets.swarm_nodes import LOGIN_USER, require_swarm, state_dir
from pipeline.targets.vmlocal import ensure_key_pair, host_image, key_mount, mounts_key

Say = Callable[[str], None]
ROLE = "swarm-node"


def _local(env: Environment, swarm: Swarm) -> LocalSwarm:
    if swarm.local is None:
        raise ConfigError(f"environments/{env.name}/env.yaml: swarm.local: missing", hint="only swarm-local has a stand-in")
    return swarm.local


class LocalCluster:
    """The stand-in node containers and their network, for one environment."""

    def __init__(self, env: Environment, ex: Executor, project: Project, say: Say) -> None:
        self.env = env
        self.swarm = require_swarm(env)
        self.local = _local(env, self.swarm)
        self.ex = ex
        self.project = project
        self.say = say
        self.dir = state_dir(project, env)
        self.network = f"{env.stack}-nodes"

    # --- names --------------------------------------------------------------------
    def container(self, node: Node) -> str:
        return f"{self.env.stack}-{node.name}"

    def volume(self, node: Node) -> str:
        return f"{self.env.stack}-{node.name}-engine"

    @property
    def key(self) -> Path:
        return self.dir / "id_ed25519"

    # --- validation -----------------------------------------------------------------
    def check(self) -> None:
        """The published SSH ports are free (or ours), before anything is made."""
        for node in self.swarm.nodes:
            port = node.ssh_port or self.swarm.ssh.port
            if self.running(node):
                continue
            if not port_free("127.0.0.1", port):
                raise PortTaken(
                    f"environments/{self.env.name}/env.yaml: swarm.{self.swarm.key_of(node.name)}.ssh_port: "
                    f"127.0.0.1:{port} is taken by another program",
                    hint="free it or choose another port",
                )

    # --- the network ------------------------------------------------------------------
    def gateway(self) -> str:
        return str(next(ipaddress.ip_network(self.local.subnet).hosts()))

    def ensure_network(self) -> None:
        found = self.ex.run(docker.bridge_inspect(self.network))
        if found.ok:
            subnets = [c.get("Subnet") for c in json.loads(found.stdout or "[]") or []]
            if self.local.subnet not in subnets:
                raise ConfigError(
                    f"environments/{self.env.name}/env.yaml: swarm.local.subnet: the network {self.network} "
                    f"has {', '.join(map(str, subnets)) or 'no subnet'}, not {self.local.subnet}",
                    hint=f"make down ENV={self.env.name} VOLUMES=1 removes the stand-in cluster; then up again",
                )
            return
        labels = {"pipeline.env": self.env.name, "pipeline.role": ROLE}
        self.ex.run(docker.bridge_create(self.network, self.local.subnet, self.gateway(), labels))

    # --- the nodes ----------------------------------------------------------------------
    def _inspect(self, node: Node) -> dict[str, Any] | None:
        result = self.ex.run(docker.container_inspect(self.container(node)))
        if not result.ok:
            return None
        found: list[dict[str, Any]] = json.loads(result.stdout)
        return found[0] if found else None

    def running(self, node: Node) -> bool:
        info = self._inspect(node)
        return bool(info and info.get("State", {}).get("Running"))

    def image(self) -> str:
        """The node image (``images/node``: the stand-in host and a boot unit for its engine), built when missing."""
        host = host_image(self.ex, self.project, self.env, self.say)
        host_id = self.ex.run(docker.image_exists(host)).stdout.strip() or host
        ref = f"pl-swarm/node:{_dir_digest(self.project.root / 'images' / 'node', host_id)}"
        if self.ex.run(docker.image_exists(ref)).ok:
            self.say(f"node image: {ref} (cached)")
        else:
            self.say(f"node image: building {ref}")
            self.ex.run(docker.build(str(self.project.root / "images" / "node"), ref, build_args={"HOST_IMAGE": host}))
        return ref

    def run_command(self, node: Node, image: str) -> Command:
        name = self.container(node)
        argv = [
            "docker", "run", "--detach", "--name", name, "--hostname", node.name,
            "--network", self.network, "--ip", node.address,
            # an engine inside: every capability Docker may grant here (not SYS_RESOURCE), no
            # seccomp or AppArmor profile, /proc and /sys unmasked, a cgroup namespace of its own
            "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
            "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            "--security-opt", "systempaths=unconfined", "--cgroupns=private",
            "--tmpfs", "/run", "--tmpfs", "/run/lock",
            "--volume", f"{self.volume(node)}:/var/lib/docker",
            *key_mount(self.key.with_suffix(".pub"), LOGIN_USER),
            "--publish", f"127.0.0.1:{node.ssh_port or self.swarm.ssh.port}:22",
            "--restart", "unless-stopped",
            "--label", f"pipeline.env={self.env.name}", "--label", f"pipeline.role={ROLE}",
            "--label", f"pipeline.node={node.name}",
            image,
        ]  # fmt: skip
        return Command(tuple(argv), description=f"start the stand-in node {node.name} ({node.address})")

    def provision(self) -> None:
        """The key pair, the network and every node container running (started when stopped)."""
        if not self.ex.dry_run:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.dir.chmod(0o700)
        new_key = ensure_key_pair(self.ex, self.key, self.env)
        self.ensure_network()
        image: str | None = None
        fresh = False
        for node in self.swarm.nodes:
            info = self._inspect(node)
            if info is not None and (new_key or not mounts_key(info, self.key.with_suffix(".pub"), LOGIN_USER)):
                # another checkout's container, or one that holds an old key (Docker revived it before
                # this checkout had one): made again from this checkout, its engine's volume (the
                # node's swarm state) kept
                self.ex.run(docker.container_rm(self.container(node)))
                info = None
            if info is not None and info.get("State", {}).get("Running"):
                continue
            if info is not None:  # stopped (a chaos run, a reboot): started again, its engine's state kept
                self.ex.run(docker.container_start(self.container(node)))
                continue
            image = image or self.image()
            self.ex.run(self.run_command(node, image))
            fresh = True
        if fresh and not self.ex.dry_run:
            (self.dir / "known_hosts").unlink(missing_ok=True)  # new nodes have new host keys
        self.say(f"swarm-local: {len(self.swarm.nodes)} node containers on {self.network} ({self.local.subnet})")

    def playbook_variables(self) -> dict[str, Any]:
        """What differs from rented hosts: sshd on 22 inside, the engine's storage on its volume."""
        return {"common_ssh_port": 22, "docker_storage_driver": "overlay2"}

    def node_variables(self, node: Node) -> dict[str, Any]:
        return {"docker_cgroup_parent": f"pl-{node.name}.slice"}

    def remove(self, volumes: bool) -> None:
        for node in self.swarm.nodes:
            self.ex.run(docker.container_rm(self.container(node)))
            if volumes:
                self.ex.run(docker.volume_rm(self.volume(node)))
        if volumes:
            self.ex.run(docker.network_rm(self.network))
            if not self.ex.dry_run:
                (self.dir / "cluster.json").unlink(missing_ok=True)
        if not self.ex.dry_run:
            (self.dir / "known_hosts").unlink(missing_ok=True)
