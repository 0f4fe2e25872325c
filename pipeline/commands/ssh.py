"""SSH to a ``kind: vm`` host, as ``Command`` values: key only, batch mode, a known_hosts
file of the environment's own, one multiplexed connection reused for a minute (the
canary reads the nginx log over it every second)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.commands import Command, Result
from pipeline.errors import ExternalError, SshKeyRejected, VmUnreachable


@dataclass(frozen=True)
class Login:
    """Who logs in where, with which key and known_hosts file."""

    host: str
    port: int
    user: str
    key: Path
    known_hosts: Path
    control_dir: Path

    def settings(self) -> list[str]:
        """``-o`` settings shared by our ssh and Ansible's."""
        return [
            "BatchMode=yes",
            "IdentitiesOnly=yes",
            "PasswordAuthentication=no",
            f"UserKnownHostsFile={self.known_hosts}",
            "StrictHostKeyChecking=accept-new",
            "ConnectTimeout=5",
            "LogLevel=ERROR",
        ]

    def options(self) -> list[str]:
        argv = ["-i", str(self.key), "-p", str(self.port)]
        for setting in (
            *self.settings(),
            "ControlMaster=auto",
            f"ControlPath={self.control_dir}/cm-%C",
            "ControlPersist=60",
        ):
            argv += ["-o", setting]
        return argv

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}"


def remote(
    login: Login,
    script: str,
    description: str,
    stdin: str | None = None,
    mutates: bool = True,
    check: bool = True,
    timeout: float | None = 120.0,
) -> Command:
    """Run ``script`` on the host with ``sh -c`` (as the login user; use sudo inside)."""
    return Command(
        ("ssh", *login.options(), login.destination, "--", script),
        description=description,
        stdin=stdin,
        mutates=mutates,
        check=check,
        timeout=timeout,
    )


def probe(login: Login) -> Command:
    return remote(login, "true", "reach the host over SSH", mutates=False, check=False, timeout=20)


REFUSED = re.compile(r"Permission denied|Too many authentication failures|no such identity|Load key", re.I)


def classify(login: Login, result: Result, host_key: str = "vm.hosts", section: str = "vm") -> ExternalError | None:
    """A failed SSH probe as a user-facing error: refused key (61) or unreachable host (60).
    ``host_key``: the env.yaml key that lists the host; ``section``: the kind's section (its ssh settings)."""
    if result.ok:
        return None
    detail = (result.stderr or result.stdout).strip().splitlines()
    last = detail[-1] if detail else f"exit {result.returncode}"
    where = f"{login.destination}:{login.port}"
    if REFUSED.search(result.stderr or ""):
        return SshKeyRejected(
            f"{section}.ssh: {where} refused the key {login.key.name}: {last}",
            hint=f"check {section}.ssh.user and {section}.ssh.key; the public key must be in the user's authorized_keys",
        )
    return VmUnreachable(
        f"{host_key}: {where} does not answer over SSH: {last}",
        hint=f"is the host up and its SSH port open from here? ({section}-local: make up ENV=<env> starts it)",
    )
