"""Commands as data: what the pipeline will run, described before it runs.

Builders (``pipeline.docker``, ``pipeline.engine`` ...) only *return* ``Command``
values; one executor (``pipeline.executor``) runs them. A printing executor gives
``--dry-run`` for free and a recording one makes tests cheap (``pipeline.testing``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Command:
    """One process to run.

    ``mutates`` is False for probes that only read state: a dry run still runs
    them (it needs to know what is there to say what it would do).
    ``background`` starts a long-lived daemon and returns at once.
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

    def shell(self) -> str:
        """The command as one copy-pasteable shell line."""
        line = shlex.join(self.argv)
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
