"""``pipeline``: environments, images, deploys and status, behind the make targets.

This module registers the command modules on ``pipeline.cli.app.app`` and maps the
exception tree to exit codes; the commands live in their own modules. A start is kept short
(issue 19, ``make bench-cli``): a command line imports only the module of its command, and
each module imports what a command needs when it runs (``tests/unit/test_cli_lazy.py``).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.errors import EXIT_BUG, EXIT_INTERRUPTED, PipelineError
from pipeline.wiring import using

if TYPE_CHECKING:
    from pipeline.commands.executor import Executor

__all__ = ["app", "run"]


# The command modules, in the order of `--help`, with the first word of each command they register
# (test_cli_lazy.py holds this equal to what they register). A command line whose first word is one
# of these imports that module alone; `--help`, no word or an unknown one imports them all.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "stack": ("env", "setup", "up", "down", "build", "version"),
    "deploy": ("deploy",),
    "status": ("weights", "status", "versions"),
    "logs": ("logs",),
    "chaos": ("chaos",),
    "cloud": ("provision",),
    "flags": ("flags",),
    "gates": ("gate",),
    "gha": ("gha",),
    "releases": ("canary", "lock", "rollback", "history", "report"),
    "scan": ("secrets",),
    "vm": ("cert",),
    "nodes": ("node",),
}


def _register(args: Sequence[str] | None = None) -> None:
    """Import the command modules (each registers its commands on ``app``): all, or the one ``args`` calls."""
    first = args[0] if args else None
    wanted = [module for module, words in COMMAND_MODULES.items() if first in words] or list(COMMAND_MODULES)
    for module in wanted:
        importlib.import_module(f"pipeline.cli.{module}")


def run(args: Sequence[str] | None = None, executor: Executor | None = None) -> None:
    """Entry point: map the exception tree to exit codes; never a traceback for a user error.

    ``args`` default to the command line; ``executor`` (tests: a ``pipeline.testing.FakeExecutor``)
    answers every command instead of real subprocesses (under ``--dry-run``: the read-only probes).
    """
    with using(executor):
        try:
            _register(sys.argv[1:] if args is None else args)
            app(args=list(args) if args is not None else None, standalone_mode=False)
        except PipelineError as exc:
            output.error(exc.message, exc.hint)
            sys.exit(exc.exit_code)
        except typer.Abort:
            output.error("aborted")
            sys.exit(EXIT_INTERRUPTED)
        except KeyboardInterrupt:
            output.error("interrupted")
            sys.exit(EXIT_INTERRUPTED)
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.TyperException as exc:  # usage errors: unknown flag, missing argument
            show = getattr(exc, "show", None)
            if show is not None:
                show()
            else:
                output.error(str(exc))
            sys.exit(int(getattr(exc, "exit_code", 2)))
        except Exception as exc:
            output.error(
                f"internal error: {type(exc).__name__}: {exc}",
                "this is a bug in the pipeline; rerun with PIPELINE_DEBUG=1 and report it",
            )
            if os.environ.get("PIPELINE_DEBUG"):
                traceback.print_exc()
            sys.exit(EXIT_BUG)
