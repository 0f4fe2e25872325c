"""``pipeline chaos``: validate and run the Chaos Toolkit experiments of ``chaos/experiments``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import DryOpt, EnvArg, JsonOpt
from pipeline.errors import ChaosAborted, ChaosDeviated
from pipeline.project import Project
from pipeline.wiring import context

if TYPE_CHECKING:
    from pipeline.chaos.runner import RunReport

chaos_app = typer.Typer(no_args_is_help=True, help="Chaos experiments under load, with a resilience score.")
app.add_typer(chaos_app, name="chaos")

NamesArg = Annotated[list[str] | None, typer.Argument(help="experiment names (files of chaos/experiments); default: all")]


@chaos_app.command("list")
def chaos_list(as_json: JsonOpt = False) -> None:
    """The experiments, validated (an invalid one exits 40)."""
    from pipeline.chaos.experiments import load_all, select

    project = Project.discover()
    experiments = load_all(select(project.root, []), project.root)
    if as_json:
        output.emit_json(
            [
                {"name": e.name, "title": e.title, "weight": e.weight, "faults": e.actions, "targets": list(e.targets)}
                for e in experiments
            ]
        )
        return
    for e in experiments:
        output.out.print(f"{e.name:28} weight {e.weight}  {','.join(e.targets):9} {e.title}", markup=False, soft_wrap=True)


@chaos_app.command("run")
def chaos_run(env: EnvArg, names: NamesArg = None, dry_run: DryOpt = False, as_json: JsonOpt = False) -> None:
    """Run experiments against ENV under k6 load; print faults, deviations, recovery and the resilience score.

    Exit 0 when every hypothesis held; 43 when one deviated, a fault was not confirmed or
    writes were lost; 44 when the error budget stopped an experiment. Bad input (40-42)
    is refused before any fault.
    """
    from pipeline.chaos.experiments import for_kind, load_all, select
    from pipeline.chaos.runner import ChaosRunner, require_chaos_allowed
    from pipeline.environment import load_environment

    project = Project.discover()
    environment = load_environment(project.root, env)
    require_chaos_allowed(environment)
    chosen = select(project.root, names or [], environment.chaos.experiments)
    named = bool(names or environment.chaos.experiments)
    experiments = for_kind(load_all(chosen, project.root, env), environment.target.kind, named)
    ctx = context(env, dry_run)
    runner = ChaosRunner(ctx.env, ctx.project, ctx.ex, ctx.target, output.say)
    runner.preflight()
    report = runner.run(experiments)
    if dry_run:
        return
    if as_json:
        output.emit_json(report.as_dict())
    else:
        print_report(report)
    if any(r.aborted for r in report.results):
        raise ChaosAborted(f"{env}: an experiment spent the error budget and was rolled back (score {report.score:g}%)")
    if not report.passed:
        failed = [r.name for r in report.results if not r.passed]
        raise ChaosDeviated(f"{env}: {', '.join(failed)} did not hold (score {report.score:g}%)", hint=f"pipeline history {env}")


def _n(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def print_report(report: RunReport) -> None:
    from rich.table import Table

    table = Table(title=f"{report.env}: chaos run {report.run_id}", title_justify="left")
    columns: tuple[str, ...] = ("experiment", "fault confirmed", "deviated", "time to recover", "failed requests")
    columns += ("longest outage", "lost writes", "held")
    for column in columns:
        table.add_column(column)
    for r in report.results:
        table.add_row(
            r.name,
            "[green]yes[/green]" if r.fault_confirmed else "[red]no[/red]",
            "[red]yes[/red]" if r.deviated else "[green]no[/green]",
            _n(r.time_to_recover, " s"),
            f"{_n(r.failed_requests)} / {_n(r.requests)}",
            _n(r.longest_outage, " s"),
            _n(r.lost_writes),
            f"{r.held}/{r.checks}",
        )
    output.out.print(table)
    for r in report.results:
        if r.reason:
            output.out.print(f"{r.name}: {r.reason}", markup=False)
    trend = ""
    if report.previous_score is not None:
        delta = report.score - report.previous_score
        trend = f" (previous run {report.previous_score:g}%, {'+' if delta >= 0 else ''}{delta:.1f})"
    colour = "green" if report.passed else "red"
    share = report.failed_share
    users = ""
    if share is not None:
        over = share > report.budget
        users = (
            f"; requests failed across the run: [{'red' if over else 'green'}]{100 * share:.2f} %[/] "
            f"(budget {100 * report.budget:g} %{': each experiment over it is scored by what users saw' if over else ''})"
        )
    output.out.print(f"resilience score: [{colour}]{report.score:g}%[/{colour}]{trend}{users}")
