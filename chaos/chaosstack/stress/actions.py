"""CPU stress inside one task of a service: busy loops, each bounded by ``timeout``."""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosstack._stack import Stack
from pipeline.commands import faults as fault

__all__ = ["burn_cpu", "stop_burn"]


def _count(stack: Stack, container: str) -> int:
    text = stack.run(fault.processes(container, fault.STRESS_MARK)).stdout.strip()
    return int(text) if text.isdigit() else 0


def burn_cpu(
    service: str,
    workers: int = 2,
    seconds: int = 30,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start ``workers`` busy loops in one task of ``service`` for at most ``seconds``; confirmed when they run."""
    if not 1 <= workers <= 8 or not 1 <= seconds <= 600:
        raise ActivityFailed("burn_cpu: workers must be 1-8 and seconds 1-600")
    stack = Stack.from_configuration(configuration)
    container = stack.one_container(service)
    stack.remember(f"burn-{service}", {"container": container})
    stack.run(fault.stress_cpu(container, workers, seconds))
    running = stack.wait_for(lambda: n if (n := _count(stack, container)) >= workers else None, 10, f"{workers} busy loops")
    return stack.injected("burn_cpu", service=stack.service(service), container=container[:12], workers=running)


def stop_burn(service: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stop the busy loops of :func:`burn_cpu` (they also stop by themselves when their time is up)."""
    stack = Stack.from_configuration(configuration)
    done = stack.recall(f"burn-{service}")
    if done is None:
        return {"stopped": 0}
    container = str(done["container"])
    state = stack.state(container)
    if state is None or not state.running:
        stack.forget(f"burn-{service}")
        return {"stopped": 0, "reason": "the task is gone"}
    before = _count(stack, container)
    stack.run(fault.stop_stress(container))
    stack.wait_for(lambda: True if _count(stack, container) == 0 else None, 10, "the busy loops stopped")
    stack.forget(f"burn-{service}")
    return {"stopped": before}
