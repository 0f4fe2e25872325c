"""Probes of a cluster's nodes: every task of a lost node running elsewhere, and how long it took."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaosstack._stack import Stack
from chaosstack.service.probes import edge_ok

__all__ = ["wait_rescheduled"]


def wait_rescheduled(
    services: Sequence[str] = ("app-stable",),
    path: str = "/api/notes?limit=1",
    timeout: float = 180.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float:
    """Wait until the manager has seen the lost node go down, no task of ``services`` is meant to run
    on it any more, they all run their replicas elsewhere, and ``path`` answers 200 through the edge.

    Returns the seconds since the fault was confirmed; ActivityFailed when not so in ``timeout``.
    """
    stack = Stack.from_configuration(configuration)
    lost = str((stack.recall("node-lost") or {}).get("node", ""))
    injected = float((stack.recall("fault") or {}).get("injected_at", stack.now()))
    nodes = stack.nodes()
    names = [stack.service(s) for s in services]

    def rescheduled() -> bool | None:
        if lost:
            state = {r["name"]: r["state"] for r in nodes.nodes_status()}.get(lost)
            if state != "down":
                return None
            if any(task.split(".")[0] in names for task in nodes.tasks_on(lost)):
                return None
        for service in services:
            running, desired = stack.replicas(service)
            if desired == 0 or running < desired:
                return None
        return True if edge_ok(stack.url + path) else None

    what = f"{', '.join(services)} running off {lost}" if lost else f"{', '.join(services)} recovered"
    stack.wait_for(rescheduled, timeout, what, step=1.0)
    return round(max(0.0, stack.now() - injected), 2)
