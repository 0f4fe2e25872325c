"""The edge of a multi-node swarm: a global service, one nginx task per edge node, behind the virtual IP.

Swarm keeps a task on every edge node (a task that stops is replaced on its node, with the node's
own volumes: its split, lease and log carry over). Each replica is the local kind's edge
(``LocalEdge``: split.conf, lease, command file and access log in its volumes, changed through
``edge-apply``) reached through its own node's engine over SSH (``OnNode``); ``EdgeTask`` finds the
container of the node's task by the service's label, and finds it again when a command to it
fails (swarm replaced it). ``EdgeSet`` gives the target the one edge it expects:

* a split (weights and slots) is written to every replica before the call returns; a replica that
  cannot be reached is named and the change raises once the others have it (a step is never
  counted as set while an edge still routes the old split; a rollback still reaches every edge
  that answers);
* the lease and an operator's command go to every replica (the one that holds the virtual IP
  may change at any moment); a command seen on any replica is the controller's;
* the split is read from the first replica that answers;
* the request logs of all replicas are read as one (``EdgeLogsSource``), each from its own offset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from pipeline import edge
from pipeline.analysis.source import EdgeLogsSource, LogUnreadable
from pipeline.commands import Command, docker
from pipeline.commands.executor import Executor
from pipeline.edge import Slots, Weights
from pipeline.environment import Environment
from pipeline.errors import CommandFailed, NotReady
from pipeline.observability.logs import LogFeed, LogForm
from pipeline.targets.engine_reads import EngineEndpoint
from pipeline.targets.local_edge import LocalEdge


class EdgeTask(LocalEdge):
    """The edge service's task on one node, through that node's engine."""

    def __init__(self, env: Environment, ex: Executor, service: str, endpoint: EngineEndpoint) -> None:
        super().__init__(env, ex, service, None, endpoint)
        self._container: str | None = None  # the running task's container, once found

    def find(self) -> str | None:
        """The running task's container on this node, asked afresh (None: no task runs here)."""
        result = self.ex.run(docker.service_containers(self.name))
        names = result.stdout.split() if result.ok else []
        self._container = names[0] if names else None
        return self._container

    def replaced(self, before: str) -> bool:
        """Whether swarm runs another task here than ``before`` (asked afresh)."""
        return self.find() not in (None, before)

    def forget(self) -> None:
        """A command to the task failed: it is looked for again before the next one."""
        self._container = None

    def container(self) -> str:
        # when no task runs, the service's name: the command fails as it would on a stopped container
        return self._container or self.find() or self.name

    def running(self) -> bool:
        return self.find() is not None

    def log_reader(self) -> Callable[[int], bytes]:
        read = super().log_reader()

        def follow(offset: int) -> bytes:
            try:
                return read(offset)
            except LogUnreadable:
                self.forget()
                raise

        return follow


class EdgeSet:
    """The edge replicas by node name, as one edge."""

    def __init__(self, edges: dict[str, EdgeTask], env_name: str) -> None:
        if not edges:
            raise ValueError("an edge set needs at least one edge")
        self.edges = edges
        self.env_name = env_name

    def _each(self, act: Callable[[EdgeTask], object]) -> list[str]:
        """``act`` on every replica (once more on one whose task swarm replaced); the names of those it failed on."""
        failed: list[str] = []
        for name, one in self.edges.items():
            before = one.container()
            try:
                act(one)
            except (CommandFailed, NotReady):
                if not one.replaced(before):
                    failed.append(name)
                    continue
                try:
                    act(one)
                except (CommandFailed, NotReady):
                    one.forget()
                    failed.append(name)
        return failed

    def _all(self, what: str, act: Callable[[EdgeTask], object]) -> None:
        failed = self._each(act)
        if failed:
            reached = len(self.edges) - len(failed)
            raise NotReady(
                f"{self.env_name}: {what} reached {reached} of {len(self.edges)} edges; not {', '.join(failed)}",
                hint=f"is the node's edge running? (make up ENV={self.env_name} starts it again)",
            )

    # --- the split ----------------------------------------------------------------------
    def set_weights(self, weights: Weights, lease_until: float | None, slots: Slots) -> None:
        self._all("the split", lambda one: one.set_weights(weights, lease_until, slots))

    def split_text(self) -> str | None:
        for one in self.edges.values():
            text = one.split_text()
            if text is not None:
                return text
            one.forget()
        return None

    def weights(self) -> Weights | None:
        text = self.split_text()
        return edge.parse_weights(text) if text is not None else None

    # --- lease and commands ---------------------------------------------------------------
    def renew_lease(self, until: float | None) -> None:
        self._each(lambda one: one.renew_lease(until))

    def lease(self) -> float | str | None:
        for one in self.edges.values():
            found = one.lease()
            if found is not None:
                return found
        return None  # no lease is not a failure: nothing to look for again

    def send_command(self, command: str) -> None:
        self._all(f"the {command} command", lambda one: one.send_command(command))

    def take_command(self) -> str | None:
        taken = None
        for one in self.edges.values():
            taken = one.take_command() or taken
        return taken

    def clear_command(self) -> None:
        self._each(lambda one: one.clear_command())

    def running(self) -> bool:
        """Some replica runs: users are served (``running_on`` says which; a split needs them all)."""
        return any(self.running_on().values())

    def running_on(self) -> dict[str, bool]:
        return {name: one.running() for name, one in self.edges.items()}

    # --- the request logs ----------------------------------------------------------------
    def log_reader(self) -> Callable[[int], bytes]:
        """The first replica's log alone (for a caller that follows one log; ``logs`` reads them all)."""
        return next(iter(self.edges.values())).log_reader()

    def log_size(self) -> int:
        return next(iter(self.edges.values())).log_size()

    def logs(self, tail_bytes: int = 0) -> EdgeLogsSource:
        """Every replica's log from its end now (or ``tail_bytes`` before it), read as one; a replica
        whose log cannot be read is read from its start when it comes back, and named by ``unread``."""
        return EdgeLogsSource(
            {name: one.log_reader() for name, one in self.edges.items()},
            offsets={name: max(0, one.log_size() - tail_bytes) for name, one in self.edges.items()},
        )

    def own_log(self, window: Sequence[str]) -> tuple[Command, LogForm]:
        """nginx's own lines of every replica: the global service's logs, each task named (a manager runs it)."""
        return docker.service_log_lines(next(iter(self.edges.values())).name, window), "service"

    def access_logs(self, lines: int) -> list[LogFeed]:
        """Each replica's access log, read through its own node's engine, named by its node."""
        return [dataclasses.replace(f, source=node) for node, one in self.edges.items() for f in one.access_logs(lines)]
