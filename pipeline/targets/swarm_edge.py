"""The edge of a multi-node swarm: one nginx container per edge node, behind the virtual IP.

Each replica is the local kind's edge (``LocalEdge``: split.conf, lease, command file and access
log in its volumes, changed through ``edge-apply``) reached through its own node's engine over SSH
(``OnNode``). ``EdgeSet`` gives the target the one edge it expects:

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

from collections.abc import Callable

from pipeline import edge
from pipeline.analysis.source import EdgeLogsSource
from pipeline.edge import Slots, Weights
from pipeline.errors import CommandFailed, NotReady
from pipeline.targets.local_edge import LocalEdge


class EdgeSet:
    """The edge replicas by node name, as one edge."""

    def __init__(self, edges: dict[str, LocalEdge], env_name: str) -> None:
        if not edges:
            raise ValueError("an edge set needs at least one edge")
        self.edges = edges
        self.env_name = env_name

    def _each(self, act: Callable[[LocalEdge], object]) -> list[str]:
        """``act`` on every replica; the names of those it failed on."""
        failed: list[str] = []
        for name, one in self.edges.items():
            try:
                act(one)
            except (CommandFailed, NotReady):
                failed.append(name)
        return failed

    def _all(self, what: str, act: Callable[[LocalEdge], object]) -> None:
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
        return None

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

    def logs(self) -> EdgeLogsSource:
        """Every replica's log from its end now, read as one."""
        return EdgeLogsSource(
            {name: one.log_reader() for name, one in self.edges.items()},
            offsets={name: one.log_size() for name, one in self.edges.items()},
        )
