"""Console output: progress lines on stderr, results on stdout, errors as one line.

Every progress line, planned command and error passes through ``clean``: secrets are
masked (``pipeline.redact``) and control characters escaped, so echoed input (a version
such as ``$'\\e[31mRED'``, a line of a failed command's stderr) can neither paint nor move
the terminal, nor add a line of its own.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from pipeline import jsontext, redact

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


# C0 and C1 controls (ESC, CR, newline, backspace ...), zero-width and bidirectional overrides
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """Text safe to show: secrets masked, control characters written as escapes (``\\x1b``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), redact.text(text))


def say(message: str) -> None:
    err.print(f"[dim]•[/dim] {escape(clean(message))}")


def plan(line: str) -> None:
    """One command a dry run would run, exactly as it would run it (secrets masked)."""
    out.print(clean(line), soft_wrap=True, markup=False)


def emit_json(data: Any) -> None:
    """``--json``: strict JSON (non-finite numbers become null, see ``pipeline.jsontext``), secrets masked."""
    sys.stdout.write(jsontext.dumps(redact.data(data), indent=2, sort_keys=True, default=str) + "\n")


def error(message: str, hint: str | None = None) -> None:
    err.print(f"[bold red]error:[/bold red] {escape(clean(message))}", soft_wrap=True)
    if hint:
        err.print(f"[yellow]hint:[/yellow] {escape(clean(hint))}", soft_wrap=True)


def emit_list(items: list[str], as_json: bool) -> None:
    """A list of names: JSON, or one per line."""
    if as_json:
        emit_json(items)
        return
    for item in items:
        out.print(item, markup=False)
