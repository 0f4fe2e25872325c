"""Probes of the stack's services: replicas healthy, and time until everything recovered."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from chaosstack._stack import Stack

__all__ = ["edge_ok", "replicas_healthy", "wait_recovered"]


def replicas_healthy(service: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> bool:
    """True when every desired replica of ``service`` runs (and passes its health check, for the app)."""
    stack = Stack.from_configuration(configuration)
    running, desired = stack.replicas(service)
    return desired > 0 and running >= desired


def edge_ok(url: str) -> bool:
    """``url`` answers 200 within 10 s (through the edge)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_recovered(
    services: Sequence[str] = ("app-stable",),
    path: str = "/api/notes?limit=1",
    timeout: float = 120.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float:
    """Wait until ``services`` run all their replicas and ``path`` answers 200 through the edge.

    Returns the time to recover: seconds from the moment the last fault was confirmed
    (recorded by the action) until now. ActivityFailed when not recovered in ``timeout``.
    """
    stack = Stack.from_configuration(configuration)
    injected = float((stack.recall("fault") or {}).get("injected_at", stack.now()))

    def recovered() -> bool | None:
        for service in services:
            running, desired = stack.replicas(service)
            if desired == 0 or running < desired:
                return None
        return True if edge_ok(stack.url + path) else None

    stack.wait_for(recovered, timeout, f"{', '.join(services)} recovered", step=1.0)
    return round(max(0.0, stack.now() - injected), 2)
