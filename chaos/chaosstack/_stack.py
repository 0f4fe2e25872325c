"""The stack an experiment acts on: names, containers and run state, resolved from the environment.

Internal to the extension. Commands are built in :mod:`pipeline.commands.faults` and run
by one executor (a real one, or a fake installed by tests with :func:`use_executor`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, TypeVar

from chaoslib.exceptions import ActivityFailed

from pipeline.analysis.source import EdgeLogSource
from pipeline.commands import Command, Result
from pipeline.commands import faults as fault
from pipeline.commands.executor import Executor, SubprocessExecutor
from pipeline.environment import Environment, load_environment
from pipeline.errors import MissingPart, PipelineError
from pipeline.project import Project
from pipeline.targets import certificates, edge_history, host, nodes, services, target_for
from pipeline.targets.base import Certificates, Host, Nodes, Services, Target

ENV_VAR = "PIPELINE_CHAOS_ENV"
RUN_DIR_VAR = "PIPELINE_CHAOS_RUN_DIR"
T = TypeVar("T")

_executor: Executor | None = None
_clock: Callable[[], float] = time.time
_sleep: Callable[[float], None] = time.sleep


@contextmanager
def use_executor(ex: Executor, sleep: Callable[[float], None] | None = None) -> Iterator[None]:
    """Run the extension's commands on ``ex`` (tests install a ``FakeExecutor``), and optionally a fake sleep."""
    global _executor, _sleep
    saved = _executor, _sleep
    _executor, _sleep = ex, sleep or _sleep
    try:
        yield
    finally:
        _executor, _sleep = saved


class EdgeLog(Protocol):
    """The edge's JSON access log: the Swarm edge container's, or nginx's on a VM host."""

    def log_size(self) -> int: ...

    def log_reader(self) -> Callable[[int], bytes]: ...


@dataclass(frozen=True)
class ContainerState:
    running: bool
    pid: int
    restarts: int
    started: str


class Stack:
    """One environment's stack as the extension sees it."""

    def __init__(self, env: Environment, ex: Executor, project: Project) -> None:
        self.env = env
        self.ex = ex
        self.project = project
        self.name = env.stack

    @classmethod
    def from_configuration(cls, configuration: dict[str, Any] | None) -> Stack:
        """The environment named by ``pipeline_env`` (or $PIPELINE_CHAOS_ENV); refused unless it allows chaos."""
        name = str((configuration or {}).get("pipeline_env") or os.environ.get(ENV_VAR, ""))
        if not name:
            raise ActivityFailed("no environment: set configuration.pipeline_env (or PIPELINE_CHAOS_ENV)")
        project = Project.discover()
        try:
            env = load_environment(project.root, name)
        except PipelineError as exc:
            raise ActivityFailed(exc.message) from exc
        if not env.chaos_allowed:
            raise ActivityFailed(f"environment {name} does not allow chaos (env.yaml: chaos_allowed: false)")
        return cls(env, _executor or SubprocessExecutor(), project)

    # --- running ----------------------------------------------------------------
    def run(self, command: Command) -> Result:
        try:
            return self.ex.run(command)
        except PipelineError as exc:
            raise ActivityFailed(exc.message) from exc

    def sleep(self, seconds: float) -> None:
        _sleep(seconds)

    def now(self) -> float:
        return _clock()

    def wait_for(self, check: Callable[[], T | None], seconds: float, what: str, step: float = 0.5) -> T:
        """Poll ``check`` (bounded in time and count) until it returns something; ActivityFailed otherwise."""
        for _ in range(int(seconds / step) + 1):
            found = check()
            if found is not None:
                return found
            self.sleep(step)
        raise ActivityFailed(f"{what}: not so after {seconds:g} s")

    # --- the target's parts: names, replicas, edge, host ------------------------------
    @cached_property
    def target(self) -> Target:
        """The environment's target, as the pipeline builds it (its naming, its edge, its host)."""
        return target_for(self.env, self.ex, self.project, lambda _message: None)

    def _services(self) -> Services:
        try:
            return services(self.env, self.target)
        except MissingPart as exc:
            raise ActivityFailed(f"{exc.message}: this activity acts on Swarm services") from exc

    def service(self, part: str) -> str:
        """A service's full name; ``app-stable`` and ``app-canary`` name a track: the slot serving it now."""
        return self._services().service_name(part)

    @property
    def edge_name(self) -> str:
        """The edge's container (a Swarm stack's edge is a container beside its services)."""
        return self.service("edge")

    @cached_property
    def url(self) -> str:
        """Where users' requests enter (the target's own address: 127.0.0.1, a VM's nginx, a virtual IP)."""
        return self.target.traffic_url()

    def containers(self, part: str) -> list[str]:
        """Running container ids of one service, sorted (the first is the one a fault picks)."""
        result = self.run(fault.task_containers(self.service(part)))
        return sorted(line.split()[0] for line in result.stdout.splitlines() if line.strip())

    def one_container(self, part: str) -> str:
        found = self.containers(part)
        if not found:
            raise ActivityFailed(f"{self.service(part)} has no running container to act on")
        return found[0]

    def state(self, container: str) -> ContainerState | None:
        result = self.run(fault.container_state(container))
        if not result.ok or not result.stdout.strip():
            return None
        running, pid, restarts, started = [*result.stdout.split(), "", "", "", ""][:4]
        return ContainerState(running == "true", int(pid or 0), int(restarts or 0), started)

    def pid(self, container: str) -> int:
        state = self.state(container)
        if state is None or not state.running or state.pid <= 0:
            raise ActivityFailed(f"container {container[:12]} is not running")
        return state.pid

    def replicas(self, part: str) -> tuple[int, int]:
        """(running, desired) of one service as the engine reports it."""
        try:
            found = self._services().service_replicas(part)
        except PipelineError as exc:
            raise ActivityFailed(exc.message) from exc
        if found is None:
            raise ActivityFailed(f"no service {self.service(part)} in {self.env.name}")
        return found

    def desired_replicas(self, part: str) -> int:
        return self.replicas(part)[1]

    def edge(self) -> EdgeLog:
        """The edge's access log (the target's traffic part: the edge container's, or nginx's on a VM host)."""
        return self.target

    def edge_source(self, tail_bytes: int, offset: int = 0) -> EdgeLogSource:
        """What users saw, from the edge's log (``pipeline.targets.edge_history``)."""
        return edge_history(self.env, self.target, tail_bytes, offset)

    def nodes(self) -> Nodes:
        """The cluster's nodes (kind swarm); ActivityFailed for any other kind."""
        try:
            return nodes(self.env, self.target)
        except MissingPart as exc:
            raise ActivityFailed(f"{exc.message}: this activity acts on a cluster's nodes") from exc

    def host(self) -> Host:
        """The machine of a ``kind: vm`` environment (reached over SSH); ActivityFailed for any other kind."""
        try:
            return host(self.env, self.target)
        except MissingPart as exc:
            raise ActivityFailed(f"{exc.message}: this activity is for kind vm") from exc

    def certificates(self) -> Certificates:
        try:
            return certificates(self.env, self.target)
        except MissingPart as exc:
            raise ActivityFailed(f"{exc.message}: this activity is for kind vm") from exc

    # --- run state (between an action and its rollback, across processes) ---------
    @property
    def run_dir(self) -> Path:
        path = Path(os.environ.get(RUN_DIR_VAR) or self.project.state / "chaos" / "adhoc")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def remember(self, key: str, data: dict[str, Any]) -> None:
        (self.run_dir / f"{key}.json").write_text(json.dumps(data), encoding="utf-8")

    def recall(self, key: str) -> dict[str, Any] | None:
        path = self.run_dir / f"{key}.json"
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def forget(self, key: str) -> None:
        (self.run_dir / f"{key}.json").unlink(missing_ok=True)

    def injected(self, what: str, **details: Any) -> dict[str, Any]:
        """Record when a fault took effect (time to recover counts from here); return what an action reports."""
        data = {"fault": what, "injected_at": self.now(), "confirmed": True, **details}
        self.remember("fault", data)
        return data
