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


@app.callback()
def _group() -> None:
    # A group even when only one command module is imported (``main._register``): typer runs a lone
    # command as the program itself. No options, no help of its own (the help above is the group's).
    pass
