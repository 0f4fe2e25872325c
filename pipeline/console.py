"""The terminal, below the CLI: progress lines on stderr and the commands a dry run would run.

Every line passes through ``clean``: secrets are masked (``pipeline.redact``) and control
characters escaped, so echoed input (a version such as ``$'\\e[31mRED'``, a line of a failed
command's stderr) can neither paint nor move the terminal, nor add a line of its own.
The CLI's results, JSON and errors (``pipeline.cli.output``) go through the same consoles.
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.markup import escape

from pipeline import redact

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


# C0 and C1 controls (ESC, CR, newline, backspace ...), zero-width and bidirectional overrides
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Text safe to show: secrets masked, control characters written as escapes (``\\x1b``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), redact.text(text))


def say(message: str) -> None:
    """One progress line on stderr."""
    err.print(f"[dim]•[/dim] {escape(clean(message))}")


def plan(line: str) -> None:
    """One command a dry run would run, exactly as it would run it (secrets masked)."""
    out.print(clean(line), soft_wrap=True, markup=False)
