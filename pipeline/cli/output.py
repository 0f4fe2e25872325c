"""Console output: progress lines on stderr, results on stdout, errors as one line."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def say(message: str) -> None:
    err.print(f"[dim]•[/dim] {escape(message)}")


def plan(line: str) -> None:
    """One command a dry run would run, exactly as it would run it."""
    out.print(line, soft_wrap=True, markup=False)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def error(message: str, hint: str | None = None) -> None:
    err.print(f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True)
    if hint:
        err.print(f"[yellow]hint:[/yellow] {escape(hint)}", soft_wrap=True)


def emit_list(items: list[str], as_json: bool) -> None:
    """A list of names: JSON, or one per line."""
    if as_json:
        emit_json(items)
        return
    for item in items:
        out.print(item, markup=False)
