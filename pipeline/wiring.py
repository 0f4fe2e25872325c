"""One environment wired up: its project, loaded env.yaml, executor and target.

The CLI and the benchmarks both start here. The executor is the one handed to
``using(executor)`` for the current call (tests: a ``pipeline.testing.FakeExecutor``),
else real subprocesses; ``dry_run`` wraps it in a printing ``DryRunExecutor``.
Importing this module is cheap (the CLI does it before it parses a word): the environment
model, the executors and the targets are imported when ``context()`` or ``reader()`` runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.commands.executor import Executor
    from pipeline.environment import Environment
    from pipeline.project import Project
    from pipeline.targets.base import Target


@dataclass
class Context:
    project: Project
    env: Environment
    ex: Executor
    target: Target


# the executor handed to ``using(...)`` for this call (tests: a FakeExecutor); None: real subprocesses
_given_executor: ContextVar[Executor | None] = ContextVar("pipeline_executor", default=None)


@contextmanager
def using(executor: Executor | None) -> Iterator[None]:
    """Within the block, every ``context()`` and ``reader()`` runs commands with ``executor`` (None: real ones)."""
    token = _given_executor.set(executor)
    try:
        yield
    finally:
        _given_executor.reset(token)


def reader() -> Executor:
    """The executor commands run with: the one handed to ``using(...)``, else real subprocesses."""
    from pipeline.commands.executor import SubprocessExecutor

    given = _given_executor.get()
    return given if given is not None else SubprocessExecutor()


def context(name: str, dry_run: bool = False, needs: tuple[str, ...] = ()) -> Context:
    """The environment ``name`` of the project found from here, with its executor and target.
    ``needs``: optional parts (``Kind.parts``) the command uses; a kind without one is refused
    (``MissingPart``) before its target is built, so before any credential or host is asked."""
    from pipeline import console
    from pipeline.commands.executor import DryRunExecutor
    from pipeline.environment import load_environment
    from pipeline.project import Project
    from pipeline.targets import require_part, target_for

    project = Project.discover()
    env = load_environment(project.root, name)
    for part in needs:
        require_part(env, part)
    real = reader()
    ex: Executor = DryRunExecutor(real, console.plan) if dry_run else real
    return Context(project, env, ex, target_for(env, ex, project, console.say))
