"""The one place where commands run."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pipeline import redact
from pipeline.commands import Command, Result
from pipeline.errors import CommandFailed


class Executor(Protocol):
    """Runs a command; raises ``CommandFailed`` when it fails and ``check`` is set."""

    dry_run: bool

    def run(self, command: Command) -> Result: ...


def _failure(command: Command, result: Result) -> CommandFailed:
    detail = (result.stderr or result.stdout).strip().splitlines()
    last = detail[-1] if detail else "no output"
    return CommandFailed(
        redact.text(f"{command.description or command.argv[0]} failed (exit {result.returncode}): {last}"),
        hint=f"command was: {command.shell()}",
    )


class SubprocessExecutor:
    """Runs commands for real."""

    dry_run = False

    def __init__(self, on_run: Callable[[Command], None] | None = None) -> None:
        self.on_run = on_run

    def run(self, command: Command) -> Result:
        if self.on_run is not None:
            self.on_run(command)
        env = {**os.environ, **command.env}
        if command.background:
            if command.log_path:
                Path(command.log_path).parent.mkdir(parents=True, exist_ok=True)
            log = open(command.log_path or os.devnull, "ab")  # noqa: SIM115 - handed to the child
            subprocess.Popen(
                list(command.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
            log.close()
            return Result(0)
        try:
            proc = subprocess.run(
                list(command.argv),
                input=command.stdin,
                capture_output=True,
                text=True,
                env=env,
                timeout=command.timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            result = Result(127, "", f"{command.argv[0]}: not found")
            if command.check:
                raise _failure(command, result) from exc
            return result
        except subprocess.TimeoutExpired as exc:
            result = Result(124, "", f"timed out after {command.timeout}s")
            if command.check:
                raise _failure(command, result) from exc
            return result
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if command.check and not result.ok:
            raise _failure(command, result)
        return result


class DryRunExecutor:
    """Prints every command that would change something; still runs read-only probes."""

    dry_run = True

    def __init__(self, reader: Executor, printer: Callable[[str], None]) -> None:
        self.reader = reader
        self.printer = printer
        self.planned: list[Command] = []

    def run(self, command: Command) -> Result:
        if not command.mutates:
            return self.reader.run(command)
        self.planned.append(command)
        self.printer(command.shell())
        return Result(0)
