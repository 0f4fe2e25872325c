"""The ``pipeline`` typer application, and nothing else: the command modules register on it."""

from __future__ import annotations

import typer

from pipeline.errors import EXIT_CODES

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Reproducible deploys, canaries, gates and flags. Exit codes: "
    + "; ".join(f"{k} {v}" for k, v in sorted(EXIT_CODES.items())),
)
