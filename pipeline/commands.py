"""Commands as data: what the pipeline will run, described before it runs.

Builders (``pipeline.docker``, ``pipeline.engine`` ...) only *return* ``Command``
values; one executor (``pipeline.executor``) runs them. A printing executor gives
``--dry-run`` for free and a recording one makes tests cheap (``pipeline.testing``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

SECRET_NAME = re.compile(r"^([A-Z0-9_]*(PASSWORD|SECRET|TOKEN|_KEY)[A-Z0-9_]*=)(.+)$")
URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")


def redact(arg: str) -> str:
    """Hide secret values in a displayed argument: ``X_PASSWORD=...`` and ``user:pass@`` in URLs."""
    arg = SECRET_NAME.sub(lambda m: m.group(1) + "***", arg)
    return URL_PASSWORD.sub(lambda m: m.group(1) + "***" + m.group(3), arg)


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
        """The command as one shell line, secrets redacted."""
        line = shlex.join(redact(a) for a in self.argv)
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
