"""``pipeline``: environments, images, deploys and status, behind the make targets.

This module registers the command modules on ``pipeline.cli.app.app`` and maps the
exception tree to exit codes; the commands live in their own modules.
"""

from __future__ import annotations

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
    from pipeline.executor import Executor

__all__ = ["app", "run"]


def _register() -> None:
    # each module registers its commands on `app` when imported; the order is the order of `--help`
    # isort: off
    from pipeline.cli import stack  # noqa: F401
    from pipeline.cli import deploy  # noqa: F401
    from pipeline.cli import status  # noqa: F401
    from pipeline.cli import chaos  # noqa: F401
    from pipeline.cli import cloud  # noqa: F401
    from pipeline.cli import flags  # noqa: F401
    from pipeline.cli import gates  # noqa: F401
    from pipeline.cli import gha  # noqa: F401
    from pipeline.cli import releases  # noqa: F401
    from pipeline.cli import scan  # noqa: F401
    from pipeline.cli import vm  # noqa: F401
    # isort: on


def run(args: Sequence[str] | None = None, executor: Executor | None = None) -> None:
    """Entry point: map the exception tree to exit codes; never a traceback for a user error.

    ``args`` default to the command line; ``executor`` (tests: a ``pipeline.testing.FakeExecutor``)
    answers every command instead of real subprocesses (under ``--dry-run``: the read-only probes).
    """
    with using(executor):
        try:
            _register()
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
