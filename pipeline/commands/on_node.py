"""Docker commands run by a node's engine, over SSH: the same ``Command`` values, another engine.

The swarm kind drives its cluster with the very commands the local kind runs here (``docker
service update ...``); ``OnNode`` wraps the executor so that each ``docker`` command becomes
``ssh <node> -- docker ...`` (the arguments quoted one by one with the shell's rules, the command's
environment passed with ``env``; a secret-looking value of it was registered with
``pipeline.redact`` when the command was made, so it stays hidden in the ``ssh`` line too), over the
node's multiplexed SSH connection. Every other command runs here as it was. A dry run prints the
``ssh`` line: what would run, where.
"""

from __future__ import annotations

import dataclasses
import shlex

from pipeline.commands import Command, Result
from pipeline.commands.docker import DOCKER
from pipeline.commands.executor import Executor
from pipeline.commands.ssh import Login


def on_node(login: Login, command: Command, name: str = "", every: bool = False) -> Command:
    """``command`` (a ``docker`` one, or any with ``every``) run on the node behind ``login``; others unchanged."""
    if not every and command.argv[:1] != (DOCKER,):
        return command
    words = list(command.argv)
    if command.env:
        words = ["env", *(f"{key}={value}" for key, value in sorted(command.env.items())), *words]
    where = name or login.host
    return dataclasses.replace(
        command,
        argv=("ssh", *login.options(), login.destination, "--", shlex.join(words)),
        env={},
        description=f"{where}: {command.description}" if command.description else where,
    )


class OnNode:
    """An executor whose ``docker`` commands run on one node's engine (see ``on_node``)."""

    def __init__(self, inner: Executor, login: Login, name: str = "", every: bool = False) -> None:
        self.inner = inner
        self.login = login
        self.name = name
        self.every = every  # every command runs on the node (its shell: ip, nft, systemctl), not only docker
        self.dry_run = inner.dry_run

    def run(self, command: Command) -> Result:
        return self.inner.run(on_node(self.login, command, self.name, self.every))
