"""Console output: progress lines on stderr, results on stdout, errors as one line.

Progress lines and planned commands come from ``pipeline.console`` (the layers below the CLI
use them too); every line, planned command and error passes through ``clean`` there: secrets
masked, control characters escaped.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.markup import escape

from pipeline import jsontext, redact
from pipeline.console import clean, err, out, plan, say

__all__ = ["clean", "emit_json", "emit_list", "err", "error", "out", "plan", "say"]


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
