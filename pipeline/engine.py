"""Make sure a Docker engine answers, the node is a swarm manager and a registry serves.

Each step reads first, then acts or says "already so".
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from pipeline import poll, registry
from pipeline.commands import Command, docker
from pipeline.commands.executor import Executor
from pipeline.errors import EngineUnavailable, PortTaken
from pipeline.ports import port_free
from pipeline.project import Project

Say = Callable[[str], None]

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
REGISTRY_CONFIG = """version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: {address}
"""


def apt_install(*packages: str) -> list[Command]:
    """apt-get update, then install ``packages`` (Debian's own packages only)."""
    return [
        Command(("apt-get", "update", "-qq"), description="refresh Debian package lists", env=APT_ENV, timeout=600),
        Command(
            ("apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages),
            description=f"install {', '.join(packages)} from Debian",
            env=APT_ENV,
            timeout=1200,
        ),
    ]


def can_install() -> bool:
    return os.geteuid() == 0 and Path("/etc/debian_version").exists() and shutil.which("apt-get") is not None


class Engine:
    def __init__(self, ex: Executor, project: Project, say: Say) -> None:
        self.ex = ex
        self.project = project
        self.say = say

    def answers(self) -> bool:
        return self.ex.run(docker.info("{{.ServerVersion}}")).ok

    def ensure(self) -> None:
        """A Docker engine that answers, installed and started if need be."""
        if self.answers():
            self.say("docker engine: answering")
            return
        if shutil.which("dockerd") is None:
            if not can_install():
                raise EngineUnavailable(
                    "no Docker engine answers and this machine cannot install one",
                    hint="install Docker Engine (Debian: apt-get install docker.io) and start it, then retry",
                )
            self.say("docker engine: installing Debian's docker.io")
            for command in apt_install("docker.io"):
                self.ex.run(command)
        log = self.project.state_path("logs", "dockerd.log")
        self.say(f"docker engine: starting dockerd (log: {log})")
        self.ex.run(Command(("dockerd",), description="start the Docker engine", background=True, log_path=str(log)))
        if self.ex.dry_run:
            return
        poll.until(
            lambda: True if self.answers() else None,
            60,
            lambda: EngineUnavailable("dockerd was started but does not answer after 60 s", hint=f"read {log}"),
            max_delay=1.0,
        )

    def ensure_swarm(self) -> None:
        state = self.ex.run(docker.info("{{.Swarm.LocalNodeState}}")).stdout.strip()
        if state == "active":
            self.say("swarm: active")
            return
        self.say("swarm: initialising a single-node swarm")
        self.ex.run(docker.swarm_init())

    def ensure_registry(self, address: str) -> None:
        """Debian's docker-registry on ``address`` (loopback), storage in the state dir."""
        if registry.answers(address):
            self.say(f"registry: answering on {address}")
            return
        host, _, port = address.rpartition(":")
        if host not in ("127.0.0.1", "localhost"):
            raise EngineUnavailable(
                f"registry {address} does not answer", hint="the project starts a registry on 127.0.0.1 only; start yours"
            )
        if not port_free(host, int(port)):
            raise PortTaken(f"port {address} is taken by something that is not a registry", hint="free it or set image.registry")
        if shutil.which("docker-registry") is None:
            if not can_install():
                raise EngineUnavailable("docker-registry is not installed", hint="apt-get install docker-registry")
            for command in apt_install("docker-registry"):
                self.ex.run(command)
        root = self.project.state_path("registry", "data")
        config = self.project.state_path("registry", "config.yml")
        if not self.ex.dry_run:
            root.mkdir(parents=True, exist_ok=True)
            config.write_text(REGISTRY_CONFIG.format(root=root, address=address), encoding="utf-8")
        log = self.project.state_path("logs", "registry.log")
        self.say(f"registry: starting on {address} (log: {log})")
        self.ex.run(
            Command(
                ("docker-registry", "serve", str(config)),
                description="start the image registry",
                background=True,
                log_path=str(log),
            )
        )
        if self.ex.dry_run:
            return
        poll.until(
            lambda: True if registry.answers(address) else None,
            20,
            lambda: EngineUnavailable(f"the registry did not answer on {address}", hint=f"read {log}"),
            delay=0.3,
            max_delay=1.0,
        )
