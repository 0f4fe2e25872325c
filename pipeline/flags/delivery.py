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
from pipeline.commands.ssh import Login, remote

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
    """Multi-node swarm targets: the same atomic write on each node, over SSH, in turn. The tasks of a
    node bind-mount its copy of the directory (``mount``); a change counts as delivered when every
    node has it (a node that cannot be reached stops the delivery with its name)."""

    ex: Executor
    logins: Sequence[tuple[str, Login]]  # (node name, how to reach it)
    directory: str

    @property
    def where(self) -> str:
        return ", ".join(f"{name}:{self.directory}/{FILE_NAME}" for name, _ in self.logins)

    @property
    def mount(self) -> str:
        """The ``--mount`` of an app service: each node's own copy of the directory."""
        return f"type=bind,src={self.directory},dst={MOUNT_DIR},readonly"

    def read(self) -> str | None:
        name, login = self.logins[0]
        path = shlex.quote(f"{self.directory}/{FILE_NAME}")
        result = self.ex.run(remote(login, f"cat {path}", f"{name}: read the flags", mutates=False, check=False))
        return result.stdout if result.ok else None

    def plan(self, text: str) -> list[Command]:
        script = shlex.join(["sh", "-c", WRITE_SCRIPT, "sh", self.directory])
        return [
            remote(login, script, f"{name}: deliver flags to {self.directory}/{FILE_NAME} (atomic rename)", stdin=text)
            for name, login in self.logins
        ]

    def deliver(self, text: str) -> None:
        for command in self.plan(text):
            self.ex.run(command)
