"""Commands as data: what the pipeline will run, described before it runs.

Builders (``pipeline.commands.docker``, ``pipeline.engine`` ...) only *return* ``Command``
values; one executor (``pipeline.commands.executor``) runs them. A printing executor gives
``--dry-run`` for free and a recording one makes tests cheap (``pipeline.testing``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline import redact as _redact


def redact(arg: str) -> str:
    """Hide secrets in one displayed argument (``pipeline.redact``: registered values, URL passwords, names)."""
    return _redact.arg(arg)


@dataclass(frozen=True)
class Command:
    """One process to run.

    ``mutates`` is False for probes that only read state: a dry run still runs
    them (it needs to know what is there to say what it would do).
    ``background`` starts a long-lived daemon and returns at once.
    ``secrets`` are values this command carries (in argv, env or stdin) that must never be
    shown: they join the registry of ``pipeline.redact``, so every dry-run line, error and
    log masks them wherever they appear. Env values whose names look secret and the stdin
    of a ``secret_stdin`` command are registered too.
    """

    argv: tuple[str, ...]
    description: str = ""
    stdin: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    mutates: bool = True
    check: bool = True
    timeout: float | None = 300.0
    background: bool = False
    log_path: str | None = None
    secret_stdin: bool = False
    secrets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _redact.register(*self.secrets)
        _redact.register_env(self.env)
        if self.secret_stdin:
            _redact.register(self.stdin)

    def shell(self) -> str:
        """The command as one shell line, secrets redacted."""
        line = shlex.join(_redact.args(self.argv))
        if self.stdin is not None:
            shown = "<secret>" if self.secret_stdin else f"<{len(self.stdin)} bytes>"
            line += f"  # stdin: {shown}"
        if self.background:
            line += f" > {self.log_path or '/dev/null'} 2>&1 &"
        return line


def cmd(*argv: str, **kwargs: object) -> Command:
    """Shorthand: ``cmd("docker", "info", mutates=False)``."""
    return Command(argv=tuple(argv), **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Result:
    """What a command returned."""

    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0
