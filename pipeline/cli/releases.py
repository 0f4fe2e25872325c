"""Verbs around releases: canary status/promote/abort, rollback, history, report, lock."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import DryOpt, EnvArg, JsonOpt
from pipeline.errors import NothingToDo, UserError
from pipeline.wiring import context

canary_app = typer.Typer(no_args_is_help=True, help="Watch and steer the running canary.")
lock_app = typer.Typer(no_args_is_help=True, help="The deploy lock of an environment.")
app.add_typer(canary_app, name="canary")
app.add_typer(lock_app, name="lock")


def _release(env: str, dry_run: bool = False) -> Any:
    from pipeline.canary.run import Release

    ctx = context(env, dry_run)
    return ctx, Release(ctx.env, ctx.project, ctx.target, output.say)


@canary_app.command("status")
def canary_status(env: EnvArg, as_json: JsonOpt = False) -> None:
    """The canary: version, weight, state (running/orphaned/warm-previous), lock, lease, live analysis."""
    from rich.table import Table

    from pipeline.analysis.checks import analyse, overall

    ctx, _ = _release(env)
    status = ctx.target.status()
    window = ctx.env.canary.step_seconds
    data: dict[str, Any] = {
        "environment": env,
        "state": status.canary_state,
        "canary": status.tracks["canary"].version,
        "stable": status.tracks["stable"].version,
        "baseline": status.tracks["baseline"].version if "baseline" in status.tracks else None,
        "weights": status.weights.as_dict() if status.weights else None,
        "lock": status.lock,
        "lease_seconds_left": round(status.lease - time.time(), 1) if isinstance(status.lease, float) else status.lease,
    }
    if status.edge_running:
        from pipeline.targets import has_part, metrics_source

        # the last 4 MB of the edge's log (or the kind's own source, e.g. the ecs kind's CloudWatch)
        tail = None if has_part(ctx.env, "metrics") else max(0, ctx.target.log_size() - 4_000_000)
        source = metrics_source(ctx.env, ctx.target, offset=tail)
        now = time.time()
        windows = source.window(now - window, now)
        # against the baseline when one serves now (a release under compare_with: baseline), else stable
        against = "baseline" if windows["baseline"].requests else "stable"
        results = analyse(windows["canary"], windows[against], ctx.env.canary.thresholds, against)
        data["analysis"] = {
            "window_seconds": window,
            "against": against,
            "verdict": overall(results).value,
            "tracks": {k: w.as_dict() for k, w in windows.items()},
            "checks": [r.as_dict() for r in results],
        }
    if as_json:
        output.emit_json(data)
        return
    baseline = f", baseline {data['baseline']}" if data["baseline"] else ""
    output.out.print(
        f"[bold]{env}[/bold]: canary {data['canary'] or '-'} ({data['state']}), stable {data['stable'] or '-'}{baseline}"
    )
    if data["weights"]:
        w = data["weights"]
        output.out.print(
            f"weights: stable {w['stable']}% / canary {w['canary']}%" + (f" / baseline {w['baseline']}%" if w["baseline"] else "")
        )
    if status.lock:
        output.out.print(
            f"lock: {status.lock['holder']} on {status.lock['host']} (pid {status.lock['pid']}), {status.lock['version']}"
        )
    if data["lease_seconds_left"] is not None:
        output.out.print(f"lease: {data['lease_seconds_left']} s left (the edge resets the weight to 0 when it runs out)")
    if status.canary_state == "orphaned":
        output.out.print(
            f"[yellow]orphaned canary[/yellow]: finish it with `pipeline deploy {env} --resume` or `pipeline canary abort {env}`"
        )
    if "analysis" in data:
        title = f"last {window:g} s, canary vs {data['analysis']['against']}: {data['analysis']['verdict']}"
        table = Table(title=title, title_justify="left")
        for column in ("check", "verdict", "detail"):
            table.add_column(column)
        for check in data["analysis"]["checks"]:
            table.add_row(check["name"], check["verdict"], check["detail"])
        output.out.print(table)


@canary_app.command("promote")
def canary_promote(env: EnvArg) -> None:
    """Skip the remaining steps and promote the running canary."""
    _, release = _release(env)
    output.out.print(release.operate("promote"))


@canary_app.command("abort")
def canary_abort(env: EnvArg) -> None:
    """Stop the canary: weight 0 at once, canary removed."""
    _, release = _release(env)
    output.out.print(release.operate("abort"))


@app.command()
def rollback(env: EnvArg) -> None:
    """Back to the previous release in one step (instant while it is still warm after a promotion)."""
    _, release = _release(env)
    output.out.print(release.rollback())


@app.command()
def history(
    env: EnvArg,
    limit: Annotated[int, typer.Option("--limit", help="how many deploys")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Deploys and other changes of an environment, newest first (from the journal)."""
    from rich.table import Table

    from pipeline.records.journal import Journal, default_path

    ctx, _ = _release(env)
    with Journal(default_path(ctx.project.state)) as journal:
        deploys = journal.deploys(env, limit)
        others = journal.env_events(env, kinds=["rollback", "lock", "flag", "chaos", "gate", "node"], limit=limit)
    if as_json:
        output.emit_json({"deploys": [d.as_dict() for d in deploys], "events": [e.as_dict() for e in others]})
        return
    table = Table(title=f"{env}: deploys", title_justify="left")
    for column in ("id", "started (UTC)", "version", "previous", "outcome", "seconds", "by", "reason"):
        table.add_column(column)
    colours = {"promoted": "green", "deployed": "green", "rolled_back": "red", "failed": "red", "aborted": "yellow"}
    for d in deploys:
        outcome = d.outcome or "running"
        colour = colours.get(outcome, "cyan")
        table.add_row(
            str(d.id),
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(d.started)),
            d.version,
            d.previous or "-",
            f"[{colour}]{outcome}[/{colour}]",
            f"{d.duration:.0f}" if d.duration is not None else "-",
            d.actor,
            (d.outcome_reason or d.reason or "")[:80],
        )
    output.out.print(table)
    for e in others:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.ts))
        if e.kind == "gate":
            reason = "; ".join(e.data.get("lines") or []) or "all thresholds held"
            line = f"{when}  gate {e.data.get('gate')} ({e.data.get('script')}): {e.data.get('verdict')}: {reason}"
            output.out.print(line, markup=False)
            continue
        output.out.print(f"{when}  {e.kind}: {e.data}", markup=False)


@app.command()
def report(
    env: EnvArg,
    deploy_id: Annotated[int | None, typer.Argument(help="deploy id (default: the latest)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write one self-contained HTML page for a deploy: weights, error rate and p95 per track, verdicts."""
    from pipeline.records.journal import Journal, default_path
    from pipeline.records.page import write_report

    ctx, _ = _release(env)
    with Journal(default_path(ctx.project.state)) as journal:
        row = journal.deploy(deploy_id) if deploy_id is not None else next(iter(journal.deploys(env, 1)), None)
        if row is None or row.env != env:
            raise UserError(
                f"no deploy {deploy_id if deploy_id is not None else ''} in the journal of {env}".replace("  ", " "),
                hint=f"pipeline history {env}",
            )
        path = write_report(ctx.project.state_path("reports", f"{env}-{row.id}.html"), row, journal.events(row.id))
    if as_json:
        output.emit_json({"deploy_id": row.id, "path": str(path)})
    else:
        output.out.print(str(path))


@lock_app.command("show")
def lock_show(env: EnvArg, as_json: JsonOpt = False) -> None:
    """Who holds the deploy lock, if anybody."""
    ctx, _ = _release(env)
    held = ctx.target.read_lock()
    if as_json:
        output.emit_json(held.as_dict() if held else None)
    else:
        output.out.print(held.describe() if held else "not locked")


@lock_app.command("break")
def lock_break(env: EnvArg, dry_run: DryOpt = False) -> None:
    """Break a stale deploy lock (its holder died); recorded in the journal."""
    from pipeline.records.journal import Journal, actor, default_path

    ctx, _ = _release(env, dry_run)
    held = ctx.target.read_lock()
    if held is None:
        raise NothingToDo(f"{env} is not locked")
    ctx.target.release_lock()
    if not dry_run:
        with Journal(default_path(ctx.project.state)) as journal:
            journal.event(env, "lock", {"action": "broken", "holder": held.describe(), "by": actor()})
        output.out.print(f"broke the lock of {held.describe()}")
