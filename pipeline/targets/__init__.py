"""Deploy targets: one small protocol (``base.Target``), one module per kind (``environment.kinds``)."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.environment import Environment
from pipeline.environment.kinds import kind_of
from pipeline.executor import Executor
from pipeline.project import Project
from pipeline.targets.base import Target


def target_for(env: Environment, ex: Executor, project: Project, say: Callable[[str], None]) -> Target:
    """The target of the environment's kind; the model has already refused a kind the registry lacks."""
    return kind_of(env.target.kind).factory(env, ex, project, say)
