"""Arguments and options shared by the commands."""

from __future__ import annotations

from typing import Annotated

import typer

EnvArg = Annotated[str, typer.Argument(help="environment name (a folder of environments/)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
DryOpt = Annotated[bool, typer.Option("--dry-run", help="print the commands that would run; change nothing")]
