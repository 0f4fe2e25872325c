"""Deploy targets: one small protocol (``base.Target``), one module per kind."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.environment import Environment
from pipeline.errors import UserError
from pipeline.executor import Executor
from pipeline.project import Project
from pipeline.targets.base import Target


def target_for(env: Environment, ex: Executor, project: Project, say: Callable[[str], None]) -> Target:
    if env.target.kind == "local":
        from pipeline.targets.local import LocalTarget

        return LocalTarget(env, ex, project, say)
    if env.target.kind == "ecs":
        from pipeline.targets.ecs import ecs_target

        return ecs_target(env, ex, say)  # type: ignore[return-value]
    if env.target.kind == "vm":
        from pipeline.targets.vm import VmTarget

        return VmTarget(env, ex, project, say)
    raise UserError(
        f"target kind '{env.target.kind}' of environment '{env.name}' is not implemented yet",
        hint="use kind: local or vm",
    )
