"""The one place where commands run.

``PIPELINE_TRACE=FILE`` appends one JSON line per command run (when it started, how long it
took, its exit code, the thread, its description and program; never its stdin or arguments,
which may hold secrets): where a deploy's seconds go (``python -m pipeline.bench.trace FILE``).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
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


_TRACE_LOCK = threading.Lock()


def trace(command: Command, started: float, seconds: float, returncode: int) -> None:
    """One line in ``PIPELINE_TRACE`` (when set) for a command that ran."""
    trace_line(" ".join(command.argv[:2]), command.description, started, seconds, returncode)


def trace_line(program: str, description: str, started: float, seconds: float, returncode: int) -> None:
    """One line in ``PIPELINE_TRACE`` (when set): a command, or a read through an API (``program``
    says which: ``docker api`` for the engine's)."""
    path = os.environ.get("PIPELINE_TRACE")
    if not path:
        return
    line = {
        "t": round(started, 3),
        "seconds": round(seconds, 3),
        "rc": returncode,
        "thread": threading.current_thread().name,
        "program": program,
        "description": redact.text(description),
    }
    with _TRACE_LOCK, open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


class SubprocessExecutor:
    """Runs commands for real."""

    dry_run = False

    def __init__(self, on_run: Callable[[Command], None] | None = None) -> None:
        self.on_run = on_run

    def run(self, command: Command) -> Result:
        started = time.time()
        result = self._run(command)
        trace(command, started, time.time() - started, result.returncode)
        if command.check and not result.ok:
            raise _failure(command, result)
        return result

    def _run(self, command: Command) -> Result:
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
        except FileNotFoundError:
            return Result(127, "", f"{command.argv[0]}: not found")
        except subprocess.TimeoutExpired:
            return Result(124, "", f"timed out after {command.timeout}s")
        return Result(proc.returncode, proc.stdout, proc.stderr)


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
