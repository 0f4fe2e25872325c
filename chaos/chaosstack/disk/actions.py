"""Fill a bounded file system (a tmpfs or a sized volume) of one task, and free it again."""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosstack._stack import Stack
from pipeline.commands import faults as fault

__all__ = ["fill_disk", "free_disk"]

MAX_BOUNDED_MB = 1024  # refuse to fill anything larger: it would be the host's disk


def _usage(stack: Stack, container: str, path: str) -> tuple[int, int]:
    """(used percent, size in kB) of the file system holding ``path``."""
    text = stack.run(fault.disk_usage(container, path)).stdout.split()
    if len(text) != 2:
        raise ActivityFailed(f"cannot read the disk usage of {path} in {container[:12]}")
    return int(text[0].rstrip("%")), int(text[1])


def fill_disk(
    service: str,
    path: str = "/tmp",
    min_percent: int = 95,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fill ``path`` in one task of ``service`` until at least ``min_percent`` is used.

    Only a bounded file system (at most 1 GiB, e.g. the app's tmpfs) is filled; confirmed by ``df``.
    """
    stack = Stack.from_configuration(configuration)
    container = stack.one_container(service)
    _, size_kb = _usage(stack, container, path)
    if size_kb > MAX_BOUNDED_MB * 1024:
        raise ActivityFailed(f"{path} in {service} is {size_kb // 1024} MiB: not a bounded volume, refusing to fill it")
    stack.remember(f"disk-{service}", {"container": container, "path": path})
    stack.run(fault.fill_disk(container, path, size_kb // 1024 + 1))
    used, _ = _usage(stack, container, path)
    if used < min_percent:
        raise ActivityFailed(f"{path} in {container[:12]} is only {used}% used after filling it")
    return stack.injected("fill_disk", service=stack.service(service), container=container[:12], path=path, used_percent=used)


def free_disk(service: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Remove what :func:`fill_disk` wrote (a no-op when that task is gone)."""
    stack = Stack.from_configuration(configuration)
    done = stack.recall(f"disk-{service}")
    if done is None:
        return {"freed": False}
    container, path = str(done["container"]), str(done["path"])
    state = stack.state(container)
    if state is not None and state.running:
        stack.run(fault.free_disk(container, path))
    stack.forget(f"disk-{service}")
    return {"freed": True, "container": container[:12]}
