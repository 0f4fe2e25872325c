"""``pipeline flags list|get|set|rollout|kill|apply|reset|probe ENV``: feature flags without redeploys."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import DryOpt, EnvArg, JsonOpt
from pipeline.errors import FlagsNotJson, NotReady
from pipeline.wiring import context

if TYPE_CHECKING:
    from pipeline.flags.definition import FlagSet
    from pipeline.flags.service import FlagChange
    from pipeline.targets.base import FlagParts

flags_app = typer.Typer(
    no_args_is_help=True, help="Feature flags (flagd JSON, OpenFeature in the app): list, toggle, roll out, kill."
)
app.add_typer(flags_app, name="flags")

FlagArg = Annotated[str, typer.Argument(help="flag key, e.g. notes-excerpt")]
WaitOpt = Annotated[
    float, typer.Option("--wait", help="then probe every app task until it serves the new revision (at most S seconds; 0: no)")
]


def _target(env: str, dry_run: bool = False) -> tuple[Any, FlagParts]:
    from pipeline.targets import flags

    ctx = context(env, dry_run, needs=("flags",))
    return ctx, flags(ctx.env, ctx.target)


def _targeting(flag: dict[str, Any]) -> str:
    rule = flag.get("targeting") or {}
    if not rule:
        return "-"
    if "fractional" in rule and isinstance(rule["fractional"], list):
        return "rollout " + " ".join(f"{b[0]}={b[1]}%" for b in rule["fractional"] if isinstance(b, list) and len(b) == 2)
    return "rule: " + ", ".join(sorted(rule))


def _show(result: FlagChange, as_json: bool, replicas: dict[str, str | None] | None = None) -> None:
    if as_json:
        output.emit_json({**result.as_dict(), "replicas": replicas})
        return
    if not result.changes:
        output.out.print(f"{result.env}: no change ({result.action} {result.flag or ''}); revision {result.before}")
        return
    for c in result.changes:
        for line in c.lines():
            output.out.print(line, markup=False)
    if result.dry_run:
        output.out.print(f"dry run: nothing written (would be revision {result.after})")
    else:
        output.out.print(f"[green]delivered[/green] revision {result.after} to {result.where}")
    if replicas:
        output.out.print(f"every task serves it: {', '.join(sorted(replicas))}")


def _wait(env: str, target: FlagParts, ex: Any, revision: str, timeout: float) -> dict[str, str | None]:
    """Probe every app task until each serves ``revision``; NotReady (11) when one does not in time."""
    from pipeline.flags.probe import latest_by_task, parse_output

    result = ex.run(target.flag_probe(mode="until", want=revision, timeout=timeout))
    tasks = latest_by_task(parse_output(result.stdout))
    if result.returncode != 0 or not tasks:
        behind = sorted(t.task for t in tasks.values() if t.revision != revision) or ["(no task answered)"]
        raise NotReady(
            f"{env}: not every app task serves revision {revision} after {timeout:.0f} s: {', '.join(behind)}",
            hint=f"pipeline flags probe {env}; pipeline logs {env}",
        )
    return {t.task: t.revision for t in tasks.values()}


def _change(
    env: str,
    action: str,
    flag: str | None,
    mutate: Any,
    dry_run: bool,
    as_json: bool,
    detail: Any = None,
    wait: float = 0.0,
) -> None:
    from pipeline.flags.service import change as apply_change
    from pipeline.records.journal import default_path

    ctx, target = _target(env, dry_run)
    result = apply_change(
        target.flag_delivery(),
        ctx.project.root,
        env,
        action,
        flag,
        mutate,
        default_path(ctx.project.state),
        dry_run=dry_run,
        detail=detail,
    )
    replicas = _wait(env, target, ctx.ex, result.after, wait) if wait > 0 and not dry_run else None
    _show(result, as_json, replicas)


@flags_app.command("list")
def list_(env: EnvArg, as_json: JsonOpt = False) -> None:
    """Every flag in force: type, state, default variant, targeting."""
    from rich.table import Table

    from pipeline.flags import state
    from pipeline.flags.definition import flag_type

    ctx, target = _target(env)
    flags, source = state.current(target.flag_delivery(), ctx.project.root, env)
    rows = [
        {
            "flag": key,
            "type": flag_type(f),
            "state": f["state"],
            "default": f.get("defaultVariant"),
            "value": f["variants"].get(f.get("defaultVariant") or "", None),
            "targeting": _targeting(f),
        }
        for key, f in sorted(flags["flags"].items())
    ]
    revision = state.revision_of(flags)
    if as_json:
        output.emit_json({"environment": env, "source": source, "revision": revision, "flags": rows})
        return
    table = Table(title=f"{env}: flags (revision {revision}, from {source})", title_justify="left")
    for column in ("flag", "type", "state", "default", "value", "targeting"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            *(json.dumps(r[c]) if c == "value" else str(r[c]) for c in ("flag", "type", "state", "default", "value", "targeting"))
        )
    output.out.print(table)


@flags_app.command("get")
def get(env: EnvArg, flag: FlagArg, as_json: JsonOpt = False) -> None:
    """One flag's definition as in force."""
    from pipeline.flags import change as ops
    from pipeline.flags import state

    ctx, target = _target(env)
    flags, _ = state.current(target.flag_delivery(), ctx.project.root, env)
    found = ops._flag(flags, flag)
    if as_json:
        output.emit_json({"flag": flag, "definition": found})
    else:
        output.out.print(json.dumps(found, indent=2, sort_keys=True), markup=False)


@flags_app.command("set")
def set_(
    env: EnvArg,
    flag: FlagArg,
    variant: Annotated[str, typer.Argument(help="the variant everyone gets, e.g. on")],
    value: Annotated[str | None, typer.Option("--value", help="(re)define the variant's value (JSON)")] = None,
    keep_targeting: Annotated[bool, typer.Option("--keep-targeting", help="keep rules and rollouts")] = False,
    wait: WaitOpt = 0.0,
    dry_run: DryOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Serve one variant (targeting removed unless --keep-targeting)."""
    from pipeline.flags import change as ops

    parsed = ops.parse_value(value) if value is not None else None

    def mutate(flags: FlagSet) -> FlagSet:
        return ops.set_variant(flags, flag, variant, parsed, keep_targeting)

    _change(env, "set", flag, mutate, dry_run, as_json, {"variant": variant}, wait)


@flags_app.command("rollout")
def rollout(
    env: EnvArg,
    flag: FlagArg,
    split: Annotated[list[str], typer.Argument(help="VARIANT=PERCENT ... adding up to 100, e.g. on=10 off=90")],
    wait: WaitOpt = 0.0,
    dry_run: DryOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """A fractional rollout, sticky per user key."""
    from pipeline.flags import change as ops

    parsed = ops.parse_split(split)
    _change(env, "rollout", flag, lambda f: ops.rollout(f, flag, parsed), dry_run, as_json, {"split": dict(parsed)}, wait)


@flags_app.command("kill")
def kill(
    env: EnvArg,
    flag: FlagArg,
    variant: Annotated[str | None, typer.Option("--variant", help="for non-boolean flags: the variant to serve")] = None,
    wait: WaitOpt = 0.0,
    dry_run: DryOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Kill switch: a boolean flag serves its false variant to everyone, at once."""
    from pipeline.flags import change as ops

    _change(env, "kill", flag, lambda f: ops.kill(f, flag, variant), dry_run, as_json, None, wait)


@flags_app.command("apply")
def apply(
    env: EnvArg,
    file: Annotated[str, typer.Argument(help="a whole definition set (flagd JSON)")],
    wait: WaitOpt = 0.0,
    dry_run: DryOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Replace the whole definition set with a file (validated first)."""
    from pipeline.flags import definition

    try:
        with open(file, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise FlagsNotJson(f"{file}: cannot read: {exc.strerror}", hint="give the path of a flagd JSON file") from None
    new = definition.parse(text, file)
    _change(env, "apply", None, lambda _: new, dry_run, as_json, {"file": file}, wait)


@flags_app.command("reset")
def reset(env: EnvArg, wait: WaitOpt = 0.0, dry_run: DryOpt = False, as_json: JsonOpt = False) -> None:
    """Back to the committed baseline (environments/ENV/flags.json, else featureflags/flags.json)."""
    from pipeline.flags import state

    ctx = context(env)
    base, source = state.baseline(ctx.project.root, env)
    _change(env, "reset", None, lambda _: base, dry_run, as_json, {"source": source}, wait)


@flags_app.command("probe")
def probe(
    env: EnvArg,
    user: Annotated[str, typer.Option("--user", help="user key to evaluate for")] = "probe",
    as_json: JsonOpt = False,
) -> None:
    """Ask every app task (directly, not through the edge) which revision and values it serves."""
    from pipeline.flags.probe import latest_by_task, parse_output

    ctx, target = _target(env)
    result = ctx.ex.run(target.flag_probe(mode="once", timeout=20, user=user))
    tasks = latest_by_task(parse_output(result.stdout))
    if not tasks:
        raise NotReady(f"{env}: no app task answered the probe", hint=result.stderr.strip()[-200:] or f"pipeline status {env}")
    rows = [
        {"task": t.task, "service": t.service, "revision": t.revision, "values": t.values, "error": t.error}
        for t in tasks.values()
    ]
    if as_json:
        output.emit_json({"environment": env, "tasks": rows})
        return
    for r in rows:
        output.out.print(
            f"{r['service']} {r['task']}: revision {r['revision']} {json.dumps(r['values'], sort_keys=True)}", markup=False
        )
