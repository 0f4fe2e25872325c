"""Actions on the nginx edge container: kill it, make sure it runs again."""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosstack._stack import Stack
from pipeline.commands import faults as fault

__all__ = ["ensure_edge_running", "kill_edge"]


def kill_edge(configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """SIGKILL the edge container's main process from the host, as a crash would.

    Confirmed when the engine saw the process die: the container restarted (its restart
    count or start time changed) or is stopped. The restart policy brings it back.
    """
    stack = Stack.from_configuration(configuration)
    before = stack.state(stack.edge_name)
    if before is None or not before.running:
        raise ActivityFailed(f"the edge {stack.edge_name} is not running: nothing to kill")
    stack.run(fault.kill_pid(before.pid))

    def died() -> bool | None:
        now = stack.state(stack.edge_name)
        if now is None or not now.running:
            return True
        return True if now.restarts > before.restarts or now.started != before.started or now.pid != before.pid else None

    stack.wait_for(died, 15, f"the edge process {before.pid} died")
    return stack.injected("kill_edge", container=stack.edge_name, pid=before.pid)


def ensure_edge_running(configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start the edge container if it is not running (a rollback); says so when it already runs."""
    stack = Stack.from_configuration(configuration)
    state = stack.state(stack.edge_name)
    if state is not None and state.running:
        return {"edge": stack.edge_name, "started": False}
    stack.run(fault.start(stack.edge_name))
    stack.wait_for(lambda: True if (s := stack.state(stack.edge_name)) and s.running else None, 30, "the edge running")
    return {"edge": stack.edge_name, "started": True}
