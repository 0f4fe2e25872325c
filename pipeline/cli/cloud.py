"""``pipeline provision ENV``: Pulumi preview/up of an environment's program."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import DryOpt, EnvArg
from pipeline.project import Project


@app.command()
def provision(
    env: EnvArg,
    preview: Annotated[bool, typer.Option("--preview", help="pulumi preview only: show what would change")] = False,
    dry_run: DryOpt = False,
) -> None:
    """Provision a cloud environment with its Pulumi program (environments/ENV/Pulumi.yaml)."""
    from pipeline.commands.executor import DryRunExecutor, Executor, SubprocessExecutor
    from pipeline.environment import load_environment
    from pipeline.provision import provision as run

    project = Project.discover()
    loaded = load_environment(project.root, env)
    real = SubprocessExecutor()
    ex: Executor = DryRunExecutor(real, output.plan) if dry_run else real
    run(project.root, loaded, ex, output.say, preview=preview)
    if not dry_run:
        output.out.print(f"[green]{'previewed' if preview else 'provisioned'}[/green]: {env}")
