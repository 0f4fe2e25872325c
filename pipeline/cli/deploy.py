"""``pipeline deploy``: parse, hand the release to ``pipeline.canary``, print what came of it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import DryOpt, EnvArg, JsonOpt
from pipeline.errors import Aborted, UserError
from pipeline.targets.base import TrackName
from pipeline.wiring import context

if TYPE_CHECKING:
    from pipeline.environment.model import Faults
    from pipeline.wiring import Context


@app.command()
def deploy(
    env: EnvArg,
    version: Annotated[str, typer.Option("--version", "-v", help="the release to deploy (an image tag)")] = "",
    track: Annotated[
        TrackName | None,
        typer.Option("--track", help="skip the canary: roll this track directly (stable, or canary at its weight)"),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="finish a canary whose controller died, from what the target reports")
    ] = False,
    fault: Annotated[
        list[str] | None,
        typer.Option("--fault", help="fault knob KEY=VALUE for the deployed track, to rehearse a bad release"),
    ] = None,
    perf_gate_at: Annotated[
        int | None,
        typer.Option("--perf-gate-at", help="run the perf gate (canary vs stable) at this step's weight, for this deploy"),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="why; recorded with the lock and in the journal")] = "",
    dry_run: DryOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Release VERSION: as a canary walked through the policy's steps (promote or roll back), or directly.

    The first release of an environment (nothing on stable) goes straight to stable.
    """
    from pipeline.build.revision import check_version
    from pipeline.canary.run import Release, parse_faults, raise_for
    from pipeline.cli.live import LiveView

    if not version and not resume:
        raise UserError("--version is required", hint="e.g. --version $(pipeline version), or --resume")
    if version:
        check_version(version)
    faults = parse_faults(fault or [])
    ctx = context(env, dry_run)
    if perf_gate_at is not None:
        if perf_gate_at not in ctx.env.canary.steps:
            raise UserError(
                f"--perf-gate-at {perf_gate_at} is not a step of {env}'s canary policy",
                hint=f"one of {', '.join(map(str, ctx.env.canary.steps))}",
            )
        policy = ctx.env.canary.model_copy(update={"perf_gate_at": perf_gate_at})
        ctx.env = ctx.env.model_copy(update={"canary": policy})
    ctx.target.check()
    target = ctx.target
    if version:
        target.require_version(version)
    _check_secrets(ctx)
    current = target.status()
    direct = track is not None or (not resume and current.tracks["stable"].version is None)
    if dry_run:
        target.deploy_track(track or ("stable" if direct else "canary"), version)
        if not direct:
            for weight in ctx.env.canary.steps:
                output.plan(
                    f"# then: weight canary {weight}% for {ctx.env.canary.step_seconds:g} s, analysed; promote or roll back"
                )
        return
    if direct:
        direct_deploy(ctx, track or "stable", version, as_json, faults)
        return
    release = Release(ctx.env, ctx.project, target, output.say)
    with LiveView(env, version or "(resume)", ctx.env.canary.steps, enabled=not as_json) as view:
        try:
            result = release.canary(version, faults, reason or f"deploy {version}", view, resume=resume)
        except KeyboardInterrupt:
            raise Aborted("interrupted: the canary's weight was set to 0 and the canary removed") from None
    report = {
        "outcome": result.outcome.value,
        "reason": result.reason,
        "steps_passed": result.steps_passed,
        "seconds_to_zero": result.seconds_to_zero,
        "verified": result.verified,
        "deploy_id": next((d["id"] for _, k, d in result.timeline if k == "deploy_id"), None),
        "status": target.status().as_dict(),
    }
    if as_json:
        output.emit_json(report)
    else:
        colour = {"promoted": "green", "rolled_back": "red", "aborted": "yellow", "failed": "red"}[result.outcome.value]
        output.out.print(f"[{colour}]{result.outcome.value}[/{colour}]: {result.reason}")
        if result.verified and result.verified.get("verifiable"):
            v = result.verified
            share = "n/a" if v["share"] is None else f"{v['share'] * 100:.1f} %"
            expected = f"{v['track']} {v['expected']}" if v["expected"] else v["track"]
            output.out.print(
                f"verified from the edge log: {v['matching']} of {v['requests']} requests in {v['seconds']} s "
                f"since the switch served by {expected} ({share})"
            )
    raise_for(result)


def _check_secrets(ctx: Context) -> None:
    """Every secret the app declares has a value (before anything changes); a secret-looking value
    in app.env, which lands in the service spec, is warned about where app.secrets could hold it."""
    from pipeline.redact import looks_secret
    from pipeline.targets import app_secrets, has_part

    if not has_part(ctx.env, "secrets"):
        return
    if ctx.env.app.secrets:
        app_secrets(ctx.env, ctx.target).secret_store().require()
    for key in sorted(k for k in ctx.env.app.env if looks_secret(k)):
        output.say(
            f"warning: app.env.{key} looks like a secret, and app.env is in the service spec (docker service "
            f"inspect shows it): declare {key} under app.secrets and `pipeline secrets set {ctx.env.name} {key}`"
        )


def direct_deploy(ctx: Context, track: TrackName, version: str, as_json: bool, faults: Faults | None = None) -> None:
    """Roll one track to ``version`` (zero downtime), then smoke-test through the edge; print the checks."""
    from pipeline.canary.direct import deploy_direct, raise_for_smoke
    from pipeline.canary.run import Release

    result = deploy_direct(Release(ctx.env, ctx.project, ctx.target, output.say), track, version, faults)
    if as_json:
        output.emit_json(
            {"version": version, "smoke": [c.__dict__ for c in result.checks], "status": ctx.target.status().as_dict()}
        )
    else:
        for c in result.checks:
            output.out.print(f"{'[green]ok[/green]' if c.ok else '[red]FAIL[/red]'}  {c.name}  {c.detail}")
    raise_for_smoke(result)
