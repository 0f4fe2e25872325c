"""Environments and their stack: validate, set up, bring up and down; build the app image."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import DryOpt, EnvArg, JsonOpt
from pipeline.project import Project
from pipeline.wiring import context

env_app = typer.Typer(no_args_is_help=True, help="Inspect environments.")
app.add_typer(env_app, name="env")


@env_app.command("validate")
def env_validate(env: EnvArg, as_json: JsonOpt = False) -> None:
    """Load and check an environment's env.yaml; touch nothing."""
    from pipeline.environment import load_environment

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
    from pipeline.build.images import ensure_service_images
    from pipeline.engine import Engine

    ctx = context(env, dry_run)
    engine = Engine(ctx.ex, ctx.project, output.say)
    engine.ensure()
    engine.ensure_swarm()
    engine.ensure_registry(ctx.env.image.registry)
    ensure_service_images(ctx.ex, ctx.project, ctx.env, output.say)
    if not dry_run:
        output.out.print("[green]setup done[/green]")


@app.command()
def up(
    env: EnvArg,
    check: Annotated[
        bool,
        typer.Option("--check", help="vm, swarm: the hosts' playbook in Ansible's check mode: what up would change (nothing is)"),
    ] = False,
    dry_run: DryOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Bring an environment up: engine, swarm, registry, images, data services, edge."""
    if check:
        _drift(env, as_json)
        return
    ctx = context(env, dry_run)
    ctx.target.check()
    ctx.target.up()
    if not dry_run:
        output.out.print(f"[green]up[/green]: {env} at {ctx.target.status().url}")


def _drift(env: str, as_json: bool) -> None:
    from pipeline.targets import playbooks

    ctx = context(env, needs=("playbooks",))
    found = playbooks(ctx.env, ctx.target).config_drift()
    if as_json:
        output.emit_json({"environment": env, "ok": found.ok, "changed": found.changed, "changes": list(found.changes)})
        return
    verdict = "nothing to change" if found.changed == 0 else f"{found.changed} change(s) an up would make"
    output.out.print(f"{env}: ansible --check: ok={found.ok} changed={found.changed}: {verdict}")
    for change in found.changes:
        output.out.print(f"  {change}", markup=False)


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
    from pipeline.build.image import build_image
    from pipeline.build.revision import check_version
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
    from pipeline.build.revision import Revision

    output.out.print(Revision.from_git(Project.discover().root).version)
