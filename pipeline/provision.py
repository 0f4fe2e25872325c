"""``pipeline provision ENV``: ``pulumi preview`` / ``pulumi up`` of ``environments/<env>/Pulumi.yaml``.

Generic over environments with a Pulumi program (aws-ecs, aws-vm ...). Before anything runs:
a program (exit 84), the Pulumi CLI (exit 83), and, for a program on AWS, credentials and a
region (exit 81) and the identity guard when env.yaml declares an account (exit 82). A dry
run prints the commands and needs none of these.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from pipeline.commands import Command, cmd
from pipeline.commands.executor import Executor
from pipeline.environment import Environment
from pipeline.errors import NoProgram, PulumiUnavailable


def program_dir(root: Path, env: Environment) -> Path:
    """``environments/<env>/``, which must hold ``Pulumi.yaml``."""
    folder = root / "environments" / env.name
    if not (folder / "Pulumi.yaml").is_file():
        raise NoProgram(
            f"environment '{env.name}' has no Pulumi program: environments/{env.name}/Pulumi.yaml does not exist",
            hint="provision applies to cloud environments such as aws-ecs; local environments need `make up`",
        )
    return folder


def uses_aws(folder: Path) -> bool:
    return any("pulumi_aws" in p.read_text(encoding="utf-8") for p in folder.glob("*.py"))


def region_of(env: Environment) -> str | None:
    return env.ecs.region if env.ecs else None


def commands(folder: Path, env: Environment, preview: bool, rel: str) -> list[Command]:
    """``pulumi stack select --create`` then ``preview`` or ``up --yes``, in the program's folder."""
    stack = env.name
    extra: dict[str, str] = {"PULUMI_SKIP_UPDATE_CHECK": "true"}
    region = region_of(env)
    if region:
        extra["AWS_REGION"] = region
    base = ("pulumi", "--cwd", rel, "--non-interactive")
    out = [
        cmd(*base, "stack", "select", "--create", stack, description=f"select the Pulumi stack {stack}", env=extra),
        cmd(*base, "config", "set", "stack", env.stack, "--stack", stack, description="name prefix of every resource", env=extra),
    ]
    if region:
        out.append(cmd(*base, "config", "set", "aws:region", region, "--stack", stack, description="region", env=extra))
    if env.ecs:
        settings: list[tuple[str, str]] = [("account_id", env.ecs.account_id)]
        settings += [(k, v) for k, v in (("vpc_id", env.ecs.vpc_id), ("certificate_arn", env.ecs.certificate_arn)) if v]
        for key in ("public_subnet_ids", "private_subnet_ids"):
            ids: list[str] = getattr(env.ecs, key)
            if ids:
                settings.append((key, json.dumps(ids)))
        for key, value in settings:
            out.append(cmd(*base, "config", "set", key, value, "--stack", stack, description=f"config {key}", env=extra))
    verb = ("preview", "--diff") if preview else ("up", "--yes", "--diff")
    out.append(cmd(*base, *verb, "--stack", stack, description=f"pulumi {verb[0]} {stack}", env=extra, timeout=3600.0))
    return out


def provision(
    root: Path,
    env: Environment,
    ex: Executor,
    say: Callable[[str], None],
    preview: bool = False,
    which: Callable[[str], str | None] = shutil.which,
) -> list[Command]:
    folder = program_dir(root, env)
    planned = commands(folder, env, preview, str(folder.relative_to(root)))
    if not ex.dry_run:
        if which("pulumi") is None:
            raise PulumiUnavailable(
                "the Pulumi CLI is not installed on this machine (pulumi not on PATH)",
                hint="install it (https://www.pulumi.com/docs/install/; in GitHub Actions: pulumi/actions), "
                "or `--dry-run` to see the commands",
            )
        if uses_aws(folder):
            from pipeline.commands.aws import Boto3Executor, guard_account, require_credentials

            region = region_of(env)
            require_credentials(region)
            if env.ecs:
                guard_account(Boto3Executor(env.ecs.region), env.ecs.account_id, env.name)
    for command in planned:
        say(command.description)
        ex.run(command)
    return planned
