"""``pipeline secrets scan``: the secret scan of ``make lint`` and ``make scan-history``;
``pipeline secrets set|list ENV``: the app's own secrets (``app.secrets``), as Swarm secrets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import DryOpt, EnvArg, JsonOpt
from pipeline.errors import SecretFound, UserError
from pipeline.project import Project
from pipeline.wiring import context

if TYPE_CHECKING:
    from pipeline.targets.secret_store import AppSecretStore
    from pipeline.wiring import Context

secrets_app = typer.Typer(
    no_args_is_help=True,
    help="Secrets: the app's own (set, list: Swarm secrets, never in a service spec); scan the tree or the history.",
)
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


def _store(env: str, dry_run: bool = False) -> tuple[Context, AppSecretStore]:
    from pipeline.targets import app_secrets

    ctx = context(env, dry_run, needs=("secrets",))
    return ctx, app_secrets(ctx.env, ctx.target).secret_store()


@secrets_app.command("set")
def secrets_set(
    env: EnvArg,
    name: Annotated[str, typer.Argument(help="a name under app.secrets, e.g. STRIPE_API_KEY")],
    from_file: Annotated[
        Path | None, typer.Option("--from-file", help="read the value from this file (default: stdin; a terminal asks)")
    ] = None,
    dry_run: DryOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Store a new value of NAME for ENV's app, from stdin or --from-file, never from an argument.

    The value becomes a Swarm secret; the next deploy (or rollback) mounts it in every app task as
    /run/secrets/NAME, with NAME_FILE naming that path. One trailing newline is dropped.
    """
    from pipeline.records.journal import Journal, actor, default_path
    from pipeline.targets.secret_store import check_value

    ctx, store = _store(env, dry_run)
    store.refuse_undeclared(name)  # before asking for a value
    value = check_value(name, _read_value(name, from_file))
    version = store.set(name, value)
    if dry_run:
        return
    with Journal(default_path(ctx.project.state)) as journal:
        journal.event(env, "secret", {"action": "set", "name": name, "secret": version.secret, "actor": actor()})
    if as_json:
        output.emit_json({"env": env, **version.as_dict(), "applies": "at the next deploy or rollback"})
    else:
        output.out.print(
            f"{env}: {name} set (Swarm secret {version.secret}); the next `pipeline deploy` mounts it in every app task"
        )


def _read_value(name: str, path: Path | None) -> bytes:
    from pipeline.targets.secret_store import MAX_BYTES

    if path is not None:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise UserError(f"--from-file {path}: {exc.strerror or exc}", hint="a readable file holding the value") from None
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"{name} (not shown): ").encode()
    return sys.stdin.buffer.read(MAX_BYTES + 3)  # more than the most check_value takes, so it can say so


@secrets_app.command("list")
def secrets_list(env: EnvArg, as_json: JsonOpt = False) -> None:
    """Each secret the app declares: whether it is set, its newest version, and which services mount which."""
    _, store = _store(env)
    versions = store.versions(users=True)
    newest = store.newest(versions)
    rows = [
        {
            "name": name,
            "set": name in newest,
            "newest": newest[name].as_dict() if name in newest else None,
            "versions": [v.as_dict() for v in versions if v.name == name],
        }
        for name in store.declared
    ]
    if as_json:
        output.emit_json({"env": env, "secrets": rows})
        return
    if not store.declared:
        output.out.print(f"{env}: the app declares no secrets (app.secrets in environments/{env}/env.yaml)")
        return
    for name in store.declared:
        if name not in newest:
            output.out.print(f"{name}: not set (pipeline secrets set {env} {name} < FILE)", markup=False)
        for v in (v for v in versions if v.name == name):
            mark = "newest" if v.secret == newest[name].secret else "older "
            used = ", ".join(v.used_by) or "no service yet"
            output.out.print(f"{name}: {mark} {v.secret} set {v.created}; mounted by {used}", markup=False)
