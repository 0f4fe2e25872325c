"""Deploy targets: one small protocol (``base.Target``), one module per kind.

The kinds are listed in ``pipeline.environment.kinds``; ``FACTORIES`` builds the target of each
(a test holds the two equal). A target module is imported only when its target is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # names in hints only: importing pipeline.targets.base stays cheap (see pipeline.wiring)
    from pipeline.environment import Environment
    from pipeline.executor import Executor
    from pipeline.project import Project
    from pipeline.targets.base import Target

Say = Callable[[str], None]
Factory = Callable[["Environment", "Executor", "Project", Say], "Target"]


def _local(env: Environment, ex: Executor, project: Project, say: Say) -> Target:
    from pipeline.targets.local import LocalTarget

    return LocalTarget(env, ex, project, say)


def _vm(env: Environment, ex: Executor, project: Project, say: Say) -> Target:
    from pipeline.targets.vm import VmTarget

    return VmTarget(env, ex, project, say)


def _ecs(env: Environment, ex: Executor, project: Project, say: Say) -> Target:
    from pipeline.targets.ecs import ecs_target

    return ecs_target(env, ex, say)  # type: ignore[return-value]


FACTORIES: dict[str, Factory] = {"local": _local, "vm": _vm, "ecs": _ecs}


def target_for(env: Environment, ex: Executor, project: Project, say: Say) -> Target:
    """The target of the environment's kind; the model has already refused a kind the registry lacks."""
    return FACTORIES[env.target.kind](env, ex, project, say)
