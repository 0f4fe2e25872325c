"""``pipeline secrets scan``: the secret scan of ``make lint`` and ``make scan-history``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import JsonOpt
from pipeline.errors import SecretFound
from pipeline.project import Project

secrets_app = typer.Typer(no_args_is_help=True, help="Secrets: scan the tree or the git history (detect-secrets).")
app.add_typer(secrets_app, name="secrets")


@secrets_app.command("scan")
def secrets_scan(
    history: Annotated[bool, typer.Option("--history", help="scan every blob of every commit, not the tree")] = False,
    root: Annotated[Path | None, typer.Option("--root", help="checkout to scan (default: this project)")] = None,
    rev: Annotated[str, typer.Option("--rev", help="with --history: the commit whose history is scanned")] = "HEAD",
    as_json: JsonOpt = False,
) -> None:
    """Every file git tracks against .secrets.baseline; with --history, every blob of REV's history
    against .secrets.baseline and the audited .secrets.history (whose stale entries fail too)."""
    from pipeline.secretscan import scan_history, scan_tree

    base = root or Project.discover().root
    leaks = scan_history(base, rev) if history else scan_tree(base)
    if as_json:
        rows = [
            {"path": x.path, "line": x.line, "type": x.kind, "why": x.why}
            | ({"commit": x.commit, "hashed_secret": x.hashed_secret} if x.commit else {})
            for x in leaks
        ]
        output.emit_json({"ok": not leaks, "leaks": rows})
    else:
        for leak in leaks[1:]:
            output.say(str(leak))
    if leaks:
        more = f" (and {len(leaks) - 1} more above)" if len(leaks) > 1 else ""
        raise SecretFound(
            f"possible secret: {leaks[0]}{more}",
            hint=(
                "rotate it if it was real; a fixture or placeholder only the history has: add an audited entry "
                "(commit, file, type, hashed_secret from --json, and a reason) to .secrets.history"
                if history
                else "remove it (and rotate it if it was real); a fixture or placeholder: audit it into .secrets.baseline "
                "(detect-secrets scan --baseline .secrets.baseline && detect-secrets audit .secrets.baseline)"
            ),
        )
    if not as_json:
        allowed = ".secrets.baseline and .secrets.history" if history else ".secrets.baseline"
        output.out.print(f"secrets: none outside {allowed} ({'history of ' + rev if history else 'tracked files'})")
