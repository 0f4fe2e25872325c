"""How a flag definition reaches every replica: the ``FlagDelivery`` protocol and its implementations.

Every app task reads ``/flags/flags.json`` from a *directory* mounted read-only; a delivery
replaces that file with an atomic rename (write ``flags.json.tmp.<pid>``, then ``mv``), so a
task sees the old file or the new one, never half of one; the provider's watcher picks
the new mtime up within its poll interval.

- ``local``  (``LocalDirDelivery``): one host directory, bind-mounted into every task.
- ``vm``     (``SshDirDelivery`` with one host): the same directory on the VM over SSH.
- ``swarm``  (``SshDirDelivery`` with every node): the same write on each node, in turn;
  the tasks of a node see its copy. A change counts as delivered when every node has it.

Writes are ``Command`` values, so ``--dry-run`` prints them and tests record them.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from pipeline.commands import Command
from pipeline.commands.executor import Executor

FILE_NAME = "flags.json"
MOUNT_DIR = "/flags"  # where the directory appears inside every app task
WRITE_SCRIPT = 'umask 022; mkdir -p "$1"; tmp="$1/.flags.json.tmp.$$"; cat > "$tmp" && mv -f "$tmp" "$1/flags.json"'


@runtime_checkable
class FlagDelivery(Protocol):
    """Reads the flags in force on a target and replaces them on every replica."""

    @property
    def where(self) -> str:
        """Where the flags live, for people (a path, or host:path for each host)."""
        ...

    def read(self) -> str | None:
        """The definition text in force, or None when the target has none yet."""
        ...

    def plan(self, text: str) -> list[Command]:
        """The commands that deliver ``text`` to every replica, in order."""
        ...

    def deliver(self, text: str) -> None:
        """Run the plan."""
        ...


def _write(directory: str, text: str, description: str) -> Command:
    return Command(("sh", "-c", WRITE_SCRIPT, "sh", directory), stdin=text, description=description)


@dataclass
class LocalDirDelivery:
    """The local target: a host directory that every app task mounts read-only at ``/flags``."""

    ex: Executor
    directory: Path

    @property
    def where(self) -> str:
        return str(self.directory / FILE_NAME)

    @property
    def mount(self) -> str:
        """The ``--mount`` of an app service: the directory, not the file, so renames are seen."""
        return f"type=bind,src={self.directory},dst={MOUNT_DIR},readonly"

    def read(self) -> str | None:
        path = self.directory / FILE_NAME
        return path.read_text() if path.is_file() else None

    def plan(self, text: str) -> list[Command]:
        return [_write(str(self.directory), text, f"deliver flags to {self.where} (atomic rename)")]

    def deliver(self, text: str) -> None:
        for command in self.plan(text):
            self.ex.run(command)


@dataclass
class SshDirDelivery:
    """VM and multi-node swarm targets: the same atomic write on each host, over SSH."""

    ex: Executor
    hosts: Sequence[str]
    directory: str
    ssh: Sequence[str] = ("ssh", "-o", "BatchMode=yes")

    @property
    def where(self) -> str:
        return ", ".join(f"{h}:{self.directory}/{FILE_NAME}" for h in self.hosts)

    def _remote(self, host: str, argv: Sequence[str]) -> tuple[str, ...]:
        return (*self.ssh, host, shlex.join(argv))

    def read(self) -> str | None:
        command = Command(
            self._remote(self.hosts[0], ["cat", f"{self.directory}/{FILE_NAME}"]),
            mutates=False,
            check=False,
            description=f"read the flags on {self.hosts[0]}",
        )
        result = self.ex.run(command)
        return result.stdout if result.ok else None

    def plan(self, text: str) -> list[Command]:
        return [
            Command(
                self._remote(host, ["sh", "-c", WRITE_SCRIPT, "sh", self.directory]),
                stdin=text,
                description=f"deliver flags to {host}:{self.directory}/{FILE_NAME} (atomic rename)",
            )
            for host in self.hosts
        ]

    def deliver(self, text: str) -> None:
        for command in self.plan(text):
            self.ex.run(command)
