"""``pipeline gate perf``: k6 against an environment's edge, judged, recorded in the journal."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import DryOpt, EnvArg, JsonOpt
from pipeline.wiring import context

gate_app = typer.Typer(no_args_is_help=True, help="Gates: k6 performance thresholds, absolute and against stable.")
app.add_typer(gate_app, name="gate")

ScriptOpt = Annotated[str, typer.Option("--script", help="a script of perf/: smoke, load, stress, or compare (canary vs stable)")]


@gate_app.command("perf")
def gate_perf(
    env: EnvArg,
    script: ScriptOpt = "load",
    rate: Annotated[int | None, typer.Option("--rate", min=1, max=5000, help="requests/s (default: env.yaml perf.rate)")] = None,
    seconds: Annotated[
        int | None, typer.Option("--duration", min=1, max=3600, help="seconds (default: env.yaml perf.duration_seconds)")
    ] = None,
    as_json: JsonOpt = False,
    dry_run: DryOpt = False,
) -> None:
    """Run a k6 script against ENV's edge; exit 30 naming each crossed threshold, 31 when the gate itself broke."""
    from pipeline.gates.perf import PerfGate
    from pipeline.records.journal import Journal, actor, default_path

    ctx = context(env, dry_run)
    gate = PerfGate(ctx.env, ctx.project, ctx.target, ctx.ex, output.say)
    plan = gate.plan(script, rate, seconds)
    if dry_run:
        output.plan(plan.command.shell())
        return
    with Journal(default_path(ctx.project.state)) as journal:
        who = actor()

        def record(kind: str, data: dict[str, Any]) -> None:
            journal.event(env, kind, {**data, "actor": who})

        with output.err.status(f"k6 {script}: {plan.rate} requests/s for {plan.seconds} s against {plan.url}"):
            result = gate.judge(plan, record)
    if as_json:
        output.emit_json(result.as_dict())
    else:
        _print(result)
    result.raise_for()


def _print(result: Any) -> None:
    from rich.table import Table

    table = Table(title=f"perf gate · {result.env} · {result.script}", title_justify="left")
    for column in ("track", "requests", "errors", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="right" if column != "track" else "left")
    for track, s in result.tracks.items():
        table.add_row(track, str(s["requests"]), f"{s['error_rate']:.2%}", str(s["p50_ms"]), str(s["p95_ms"]), str(s["p99_ms"]))
    output.out.print(table)
    for check in result.relative:
        mark = "[green]pass[/green]" if check["passed"] else "[red]fail[/red]"
        output.out.print(f"{mark} {check['check']}: {check['detail']}")
    for line in result.host:
        output.out.print(f"[yellow]host[/yellow] {line}", highlight=False)
    colour = {"pass": "green", "fail": "red"}.get(result.verdict.value, "yellow")
    output.out.print(f"[{colour}]{result.verdict.value.upper()}[/{colour}] {result.reason}")
    if result.report:
        output.out.print(f"report: {result.report}", markup=False)
