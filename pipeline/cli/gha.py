"""``pipeline gha lint``: the offline check of ``.github/`` (see ``pipeline.gha.lint``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import JsonOpt
from pipeline.errors import WorkflowInvalid
from pipeline.project import Project

gha_app = typer.Typer(no_args_is_help=True, help="GitHub Actions: check .github/ offline.")
app.add_typer(gha_app, name="gha")


@gha_app.command("lint")
def gha_lint(
    root: Annotated[Path | None, typer.Option("--root", help="checkout to check (default: this project)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Workflows and dependabot.yml against GitHub's schemas, zizmor --offline, pinned actions,
    per-job permissions, and every `make X` the workflows call exists in the Makefile."""
    from pipeline.commands.executor import SubprocessExecutor
    from pipeline.gha.lint import lint

    base = root or Project.discover().root
    findings = lint(base, SubprocessExecutor())
    if as_json:
        output.emit_json({"ok": not findings, "findings": [{"path": f.path, "message": f.message} for f in findings]})
    else:
        for finding in findings[1:]:
            output.say(str(finding))
    if findings:
        more = f" (and {len(findings) - 1} more above)" if len(findings) > 1 else ""
        raise WorkflowInvalid(
            f"{findings[0]}{more}", hint="fix .github/ or the Makefile; `make lint-workflows` reruns this check"
        )
    if not as_json:
        output.out.print(".github/: workflows and dependabot.yml valid")
