"""Probes of the canary as the target reports it."""

from __future__ import annotations

from typing import Any

from chaosstack._stack import Stack

__all__ = ["canary_state", "weight_reset_within"]


def weight_reset_within(
    seconds: float = 30.0, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> float:
    """Wait (at most ``seconds``) until the edge's canary weight is 0; returns seconds since the fault."""
    stack = Stack.from_configuration(configuration)
    target = stack.target
    injected = float((stack.recall("fault") or {}).get("injected_at", stack.now()))
    stack.wait_for(lambda: True if (w := target.weights()) is not None and w.canary == 0 else None, seconds, "weight 0", 1.0)
    return round(stack.now() - injected, 2)


def canary_state(configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> str:
    """The canary's state as ``pipeline status`` shows it: idle, running, orphaned or warm-previous."""
    stack = Stack.from_configuration(configuration)
    return stack.target.status().canary_state
