"""``pipeline``: environments, images, deploys and status, behind the make targets."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.table import Table

from pipeline.cli import output
from pipeline.edge import Weights
from pipeline.environment import Environment, load_environment
from pipeline.environment.model import Faults
from pipeline.errors import EXIT_BUG, EXIT_CODES, Aborted, NotReady, PipelineError, UserError
from pipeline.executor import DryRunExecutor, Executor, SubprocessExecutor
from pipeline.project import Project
from pipeline.release import check_version
from pipeline.smoke import smoke
from pipeline.targets import target_for
from pipeline.targets.base import Status, Target, TrackName

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Reproducible deploys, canaries, gates and flags. Exit codes: "
    + "; ".join(f"{k} {v}" for k, v in sorted(EXIT_CODES.items())),
)
env_app = typer.Typer(no_args_is_help=True, help="Inspect environments.")
app.add_typer(env_app, name="env")

EnvArg = Annotated[str, typer.Argument(help="environment name (a folder of environments/)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
DryOpt = Annotated[bool, typer.Option("--dry-run", help="print the commands that would run; change nothing")]


@dataclass
class Context:
    project: Project
    env: Environment
    ex: Executor
    target: Target


# the executor handed to ``run(executor=...)`` for this call (tests: a FakeExecutor); None: real subprocesses
_given_executor: ContextVar[Executor | None] = ContextVar("pipeline_executor", default=None)


def reader() -> Executor:
    """The executor commands run with: the one handed to ``run(executor=...)``, else real subprocesses."""
    given = _given_executor.get()
    return given if given is not None else SubprocessExecutor()


def context(name: str, dry_run: bool = False) -> Context:
    project = Project.discover()
    env = load_environment(project.root, name)
    real = reader()
    ex: Executor = DryRunExecutor(real, output.plan) if dry_run else real
    return Context(project, env, ex, target_for(env, ex, project, output.say))


@env_app.command("validate")
def env_validate(env: EnvArg, as_json: JsonOpt = False) -> None:
    """Load and check an environment's env.yaml; touch nothing."""
    project = Project.discover()
    loaded = load_environment(project.root, env)
    if as_json:
        output.emit_json({"environment": env, "valid": True, "config": loaded.model_dump()})
    else:
        output.out.print(f"environments/{env}/env.yaml: valid ({loaded.target.kind}, stack {loaded.stack})")


@env_app.command("list")
def env_list(as_json: JsonOpt = False) -> None:
    """List the environments of this project."""
    from pipeline.environment.load import known_environments

    output.emit_list(known_environments(Project.discover().root), as_json)


@app.command()
def setup(env: EnvArg = "local", dry_run: DryOpt = False) -> None:
    """Install and start what environments need: Docker engine, swarm, registry, base images."""
    from pipeline.engine import Engine
    from pipeline.images import ensure_service_images

    ctx = context(env, dry_run)
    engine = Engine(ctx.ex, ctx.project, output.say)
    engine.ensure()
    engine.ensure_swarm()
    engine.ensure_registry(ctx.env.image.registry)
    ensure_service_images(ctx.ex, ctx.project, ctx.env, output.say)
    if not dry_run:
        output.out.print("[green]setup done[/green]")


@app.command()
def up(env: EnvArg, dry_run: DryOpt = False) -> None:
    """Bring an environment up: engine, swarm, registry, images, data services, edge."""
    ctx = context(env, dry_run)
    ctx.target.check()
    ctx.target.up()
    if not dry_run:
        output.out.print(f"[green]up[/green]: {env} at {ctx.target.status().url}")


@app.command()
def down(
    env: EnvArg,
    volumes: Annotated[bool, typer.Option("--volumes", help="also delete the data volumes and secrets")] = False,
    dry_run: DryOpt = False,
) -> None:
    """Remove an environment's services and edge (data kept unless --volumes)."""
    ctx = context(env, dry_run)
    ctx.target.down(volumes=volumes)
    if not dry_run:
        output.out.print(f"down: {env}")


@app.command()
def build(
    env: Annotated[str, typer.Option("--env", help="environment whose image settings to use")] = "local",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="rebuild every layer")] = False,
    no_push: Annotated[bool, typer.Option("--no-push", help="keep the image local")] = False,
    suffix: Annotated[str, typer.Option("--suffix", help="append -SUFFIX to the version tag")] = "",
    dry_run: DryOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Build the app image of the current commit and push it to the registry."""
    from pipeline.build import build_image
    from pipeline.engine import Engine

    ctx = context(env, dry_run)
    engine = Engine(ctx.ex, ctx.project, output.say)
    engine.ensure()
    engine.ensure_registry(ctx.env.image.registry)
    if suffix:
        check_version(suffix)
    version = build_image(ctx.ex, ctx.project, ctx.env, output.say, push=not no_push, no_cache=no_cache, suffix=suffix)
    if as_json:
        output.emit_json({"version": version, "image": f"{ctx.env.image.registry}/{ctx.env.image.name}:{version}"})
    else:
        output.out.print(version)


@app.command()
def version() -> None:
    """Print the version the current commit builds to."""
    from pipeline.release import Release

    output.out.print(Release.from_git(Project.discover().root).version)


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


def direct_deploy(ctx: Context, track: TrackName, version: str, as_json: bool, faults: Faults | None = None) -> None:
    """Roll one track to ``version`` (zero downtime), then smoke-test through the edge."""
    from pipeline.journal import Journal, actor, default_path
    from pipeline.lock import LockInfo

    target = ctx.target
    target.acquire_lock(LockInfo.mine(actor(), version, f"direct deploy to {track}"))
    try:
        with Journal(default_path(ctx.project.state)) as journal:
            previous = target.status().tracks[track].version
            deploy_id = journal.start_deploy(ctx.env.name, version, previous, actor(), f"direct to {track}", {"track": track})
            try:
                target.deploy_track(track, version, faults=faults)
                if track == "stable" and previous and previous != version:
                    target.label_track("stable", {"pipeline.previous": previous})
            except PipelineError as exc:
                journal.finish_deploy(deploy_id, "failed", exc.message)
                raise
            current = target.status()
            if current.weights is None:
                target.set_weights(Weights(0))
            only_stable = current.weights is None or current.weights.canary == 0
            checks = smoke(current.url, expect_version=version if track == "stable" and only_stable else None)
            failed = [c for c in checks if not c.ok]
            journal.finish_deploy(deploy_id, "failed" if failed else "deployed", "smoke failed" if failed else "smoke passed")
    finally:
        target.release_lock()
    if as_json:
        output.emit_json({"version": version, "smoke": [c.__dict__ for c in checks], "status": target.status().as_dict()})
    else:
        for c in checks:
            output.out.print(f"{'[green]ok[/green]' if c.ok else '[red]FAIL[/red]'}  {c.name}  {c.detail}")
    if failed:
        raise NotReady(f"smoke check failed: {failed[0].name}: {failed[0].detail}", hint=f"pipeline logs {ctx.env.name}")


@app.command()
def weights(
    env: EnvArg,
    canary: Annotated[int, typer.Option("--canary", help="percent of traffic for the canary track, 0-100")],
    hold: Annotated[
        int, typer.Option("--hold", help="seconds the split is held before the edge resets it to 0; 0 holds it until changed")
    ] = 900,
    dry_run: DryOpt = False,
) -> None:
    """Set the traffic split between the tracks (graceful reload, no request dropped)."""
    import time

    new = Weights(canary)
    if hold < 0:
        raise UserError(f"--hold {hold}: must be 0 or more seconds")
    ctx = context(env, dry_run)
    ctx.target.set_weights(new, lease_until=time.time() + hold if hold else None)
    if not dry_run:
        output.out.print(f"weights: stable {new.stable}% canary {new.canary}%")


@app.command()
def status(env: EnvArg, as_json: JsonOpt = False) -> None:
    """What runs in the environment, read back from the target."""
    current = context(env).target.status()
    if as_json:
        output.emit_json(current.as_dict())
        return
    print_status(current)


def print_status(current: Status) -> None:
    w = current.weights
    table = Table(title=f"{current.environment} ({current.kind}) — {current.url}", title_justify="left")
    for column in ("track", "version", "replicas", "health", "weight"):
        table.add_column(column)
    for name, track in current.tracks.items():
        weight = "-" if w is None else f"{w.as_dict()[name]}%" if name in ("stable", "canary") else "-"
        colour = {"healthy": "green", "degraded": "yellow", "down": "red"}.get(track.health, "dim")
        table.add_row(
            name, track.version or "-", f"{track.running}/{track.desired}", f"[{colour}]{track.health}[/{colour}]", weight
        )
    output.out.print(table)
    services = ", ".join(f"{s.name} {s.running}/{s.desired}" for s in current.services.values())
    output.out.print(f"edge: {'running' if current.edge_running else 'stopped'}; services: {services or 'none'}")


@app.command()
def versions(env: EnvArg, as_json: JsonOpt = False) -> None:
    """Releases in the registry that can be deployed."""
    output.emit_list(context(env).target.versions(), as_json)


@app.command()
def logs(
    env: EnvArg,
    service: Annotated[
        str, typer.Option("--service", "-s", help="app-stable, app-canary (a track: the slot serving it), db, cache or edge")
    ] = "app-stable",
    tail: Annotated[int, typer.Option("--tail", help="lines from the end")] = 100,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
) -> None:
    """Show logs of one part of the environment."""
    allowed = ("app-stable", "app-canary", "db", "cache", "edge")
    if service not in allowed:
        raise UserError(f"--service: unknown service '{service}'", hint=f"one of {', '.join(allowed)}")
    context(env).target.logs(service, tail, follow)


def _register() -> None:
    from pipeline.cli import chaos, cloud, flags, gates, gha, releases, scan, vm  # noqa: F401 - register their commands on `app`


def run(args: Sequence[str] | None = None, executor: Executor | None = None) -> None:
    """Entry point: map the exception tree to exit codes; never a traceback for a user error.

    ``args`` default to the command line; ``executor`` (tests: a ``pipeline.testing.FakeExecutor``)
    answers every command instead of real subprocesses (under ``--dry-run``: the read-only probes).
    """
    token = _given_executor.set(executor)
    try:
        _register()
        app(args=list(args) if args is not None else None, standalone_mode=False)
    except PipelineError as exc:
        output.error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except typer.Abort:
        output.error("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        output.error("interrupted")
        sys.exit(130)
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
    finally:
        _given_executor.reset(token)
