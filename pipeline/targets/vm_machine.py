"""The machine a ``vm`` target runs on: a rented host, or the local stand-in (vm-local).

``VmTarget`` configures whatever host it is given the same way; what differs between a real
host and the stand-in lives here, behind ``Machine``: the login user, where this machine reaches
the host's nginx, the ACME server certbot asks and the CA files that verify it, what ``up`` makes
before SSH answers and how long it waits, the few playbook variables that differ, and what
``down`` removes. ``machine_for`` picks the one env.yaml asks for (``vm.local`` set: the stand-in).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pipeline.commands.executor import Executor
from pipeline.engine import Engine
from pipeline.environment import Environment, kinds
from pipeline.environment.vm import Vm
from pipeline.project import Project
from pipeline.targets.vmlocal import LOGIN_USER, OPERATOR_PORT, LocalVmHost, acme_server

Say = Callable[[str], None]


def require_vm(env: Environment) -> Vm:
    """The environment's vm: section, or one line saying it is missing."""
    return kinds.section_of(env.name, "vm", env.vm)


class Machine(Protocol):
    """The host a vm target configures, as far as the target needs to tell hosts apart."""

    @property
    def login_user(self) -> str:
        """The user SSH and Ansible log in as."""
        ...

    @property
    def url(self) -> str:
        """Where the app answers for a user (``status``, smoke checks)."""
        ...

    @property
    def address(self) -> str:
        """The address this machine connects to for the host's HTTPS (the domain, unless it resolves elsewhere)."""
        ...

    @property
    def acme_server(self) -> str:
        """The ACME directory certbot asks, always passed with ``--server``."""
        ...

    @property
    def https_root(self) -> Path | None:
        """The CA file the host's certificate is verified against after ``up``; None: the system's."""
        ...

    @property
    def boot_seconds(self) -> float:
        """How long ``up`` waits for SSH to answer after ``provision``."""
        ...

    def check(self) -> None:
        """Refuse, in one line, what would stop the machine from being made (before anything runs)."""

    def provision(self) -> None:
        """Make what has to exist before SSH can answer (nothing, for a rented host)."""

    def playbook_variables(self) -> dict[str, Any]:
        """The playbook variables that differ between a rented host and the stand-in."""
        ...

    def down(self, volumes: bool, empty_tracks: Callable[[], None]) -> None:
        """Take the app off the machine; ``empty_tracks`` stops the tracks over SSH."""


class RemoteMachine:
    """A rented host: everything from env.yaml's vm: section, nothing made here."""

    def __init__(self, vm: Vm) -> None:
        self.vm = vm
        self.login_user = vm.ssh.user
        self.url = f"https://{vm.domain}" + ("" if vm.ports.https == 443 else f":{vm.ports.https}")
        self.address = vm.domain
        self.acme_server = vm.acme.server
        self.https_root: Path | None = None
        self.boot_seconds = 0.0

    def check(self) -> None:
        return None

    def provision(self) -> None:
        return None

    def playbook_variables(self) -> dict[str, Any]:
        return {
            "common_ssh_port": self.vm.ssh.port,
            "common_firewall_extra": [],
            "redis_systemd_overrides": {},
            "certbot_server_ca": "",
        }

    def down(self, volumes: bool, empty_tracks: Callable[[], None]) -> None:
        empty_tracks()


class LocalMachine:
    """The stand-in VM container and the local pebble (pipeline/targets/vmlocal.py) on this machine."""

    def __init__(self, host: LocalVmHost) -> None:
        self.host = host
        self.vm = host.vm
        self.login_user = LOGIN_USER
        self.url = f"http://127.0.0.1:{host.env.edge.port}"
        self.address = "127.0.0.1"  # the stand-in publishes its ports on 127.0.0.1 only
        self.acme_server = acme_server(host.local)
        self.https_root: Path | None = host.pebble_root_path()
        self.boot_seconds = 60.0

    def check(self) -> None:
        self.host.check()

    def provision(self) -> None:
        # pebble listens on the engine's bridge gateway: the engine answers first (a fresh boot has none)
        Engine(self.host.ex, self.host.project, self.host.say).ensure()
        self.host.ensure_pebble()
        self.host.ensure_vm()

    def playbook_variables(self) -> dict[str, Any]:
        pebble = self.vm.acme.ca_root == "pebble"
        return {
            # sshd listens on 22 inside the container; vm.ssh.port is where it is published
            "common_ssh_port": 22,
            "common_firewall_extra": [{"port": OPERATOR_PORT, "source": self.host.bridge_subnet()}],
            # the stand-in container cannot make user namespaces; a real VM keeps Debian's sandbox
            "redis_systemd_overrides": {"PrivateUsers": "false"},
            "certbot_server_ca": self.host.api_ca_path().read_text() if pebble else "",
        }

    def down(self, volumes: bool, empty_tracks: Callable[[], None]) -> None:
        self.host.remove_vm()
        if volumes:
            self.host.stop_pebble()


def machine_for(env: Environment, ex: Executor, project: Project, say: Say) -> Machine:
    """The machine env.yaml asks for: the local stand-in when ``vm.local`` is set, else the rented host."""
    vm = require_vm(env)
    if vm.local is not None:
        return LocalMachine(LocalVmHost(env, ex, project, say))
    return RemoteMachine(vm)
