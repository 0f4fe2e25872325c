"""Actions on the stack's swarm services: kill one task, stop a service and start it again."""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosstack._stack import Stack
from pipeline.commands import faults as fault

__all__ = ["kill_task", "start_service", "stop_service"]


def kill_task(service: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Kill (SIGKILL) one running task of ``service`` (e.g. ``app-stable``); confirmed when its container is gone.

    The swarm replaces the task; whether users notice is what the hypothesis tells.
    """
    stack = Stack.from_configuration(configuration)
    victim = stack.one_container(service)
    stack.run(fault.kill(victim))

    def gone() -> bool | None:
        state = stack.state(victim)
        return True if (state is None or not state.running) and victim not in stack.containers(service) else None

    stack.wait_for(gone, 15, f"task container {victim[:12]} of {service} stopped")
    return stack.injected("kill_task", service=stack.service(service), container=victim[:12])


def stop_service(
    service: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Scale ``service`` (e.g. ``db``) to 0 and wait until none of its containers runs; remembers its replicas."""
    stack = Stack.from_configuration(configuration)
    replicas = stack.desired_replicas(service)
    if replicas == 0:
        raise ActivityFailed(f"{stack.service(service)} already has 0 replicas: nothing to stop")
    stack.remember(f"replicas-{service}", {"replicas": replicas})
    stack.run(fault.scale(stack.service(service), 0))
    stack.wait_for(lambda: True if not stack.containers(service) else None, 60, f"{service} stopped")
    return stack.injected("stop_service", service=stack.service(service), replicas_before=replicas)


def start_service(
    service: str,
    timeout: float = 120.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Scale ``service`` back to its remembered replicas (at least 1) and wait until they all run. Idempotent."""
    stack = Stack.from_configuration(configuration)
    remembered = stack.recall(f"replicas-{service}") or {}
    replicas = max(1, int(remembered.get("replicas", 1)))
    if stack.desired_replicas(service) != replicas:
        stack.run(fault.scale(stack.service(service), replicas))

    def running() -> bool | None:
        up, desired = stack.replicas(service)
        return True if desired == replicas and up >= desired else None

    stack.wait_for(running, timeout, f"{service} running {replicas} replicas", step=1.0)
    stack.forget(f"replicas-{service}")
    return {"service": stack.service(service), "replicas": replicas}
