"""Network faults on one task of a service, from the host inside its network namespace.

Latency is shaped with ``tc``: ``netem delay`` where the kernel has it, otherwise a
``tbf`` rate limit (which turns every response into a slow one). Loss and cuts are
``iptables`` rules marked ``pipeline-chaos`` (the ``statistic`` match drops a share).
Each action confirms by reading the qdisc and the rules back; each has its undo.
"""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosstack._stack import Stack
from pipeline.commands import faults as fault
from pipeline.errors import CommandFailed

__all__ = ["add_latency", "heal", "partition", "remove_latency"]


def _devices(stack: Stack, pid: int) -> list[str]:
    result = stack.run(fault.links(pid))
    devices = []
    for line in result.stdout.splitlines():
        parts = line.split(":")
        if len(parts) > 2:
            name = parts[1].strip().split("@")[0]
            if name and name != "lo":
                devices.append(name)
    if not devices:
        raise ActivityFailed(f"no network interface found in the namespace of process {pid}")
    return devices


def add_latency(
    service: str,
    delay_ms: int = 200,
    loss_percent: float = 5.0,
    rate_kbit: int = 256,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Slow down one task of ``service`` and lose ``loss_percent`` of the packets it receives.

    Confirmed when its qdisc (netem, or tbf at ``rate_kbit`` where netem is missing) and
    the drop rule read back from its namespace.
    """
    stack = Stack.from_configuration(configuration)
    container = stack.one_container(service)
    pid = stack.pid(container)
    devices = _devices(stack, pid)
    kind = "netem"
    for device in devices:
        try:
            stack.ex.run(fault.add_qdisc(pid, device, ["netem", "delay", f"{delay_ms}ms"]))
        except CommandFailed:
            kind = "tbf"
            stack.run(fault.add_qdisc(pid, device, ["tbf", "rate", f"{rate_kbit}kbit", "burst", "1600", "latency", "2s"]))
    probability = loss_percent / 100.0
    stack.remember(f"latency-{service}", {"container": container, "pid": pid, "devices": devices, "loss": probability})
    if probability > 0:
        stack.run(fault.drop(pid, "INPUT", probability))
    for device in devices:
        if f"qdisc {kind}" not in stack.run(fault.qdiscs(pid, device)).stdout:
            raise ActivityFailed(f"no {kind} qdisc on {device} of {container[:12]} after adding it")
    if probability > 0 and fault.MARK not in stack.run(fault.rules(pid)).stdout:
        raise ActivityFailed(f"the loss rule is not in the packet filter of {container[:12]}")
    return stack.injected(
        "add_latency", service=stack.service(service), container=container[:12], shaping=kind, devices=devices, loss=probability
    )


def remove_latency(
    service: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Undo :func:`add_latency` on the task it touched (a no-op when that task is gone)."""
    stack = Stack.from_configuration(configuration)
    done = stack.recall(f"latency-{service}")
    if done is None:
        return {"removed": False, "reason": "no latency was added"}
    state = stack.state(done["container"])
    if state is None or not state.running or state.pid != done["pid"]:
        stack.forget(f"latency-{service}")
        return {"removed": False, "reason": "the task is gone"}
    pid = int(done["pid"])
    for device in done["devices"]:
        stack.run(fault.del_qdisc(pid, device))
    if done["loss"] > 0:
        stack.run(fault.undrop(pid, "INPUT", float(done["loss"])))
    if fault.MARK in stack.run(fault.rules(pid)).stdout:
        raise ActivityFailed(f"a pipeline-chaos rule is still in the packet filter of {done['container'][:12]}")
    stack.forget(f"latency-{service}")
    return {"removed": True, "container": done["container"][:12]}


def partition(service: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Cut one task of ``service`` off the network: every packet in and out is dropped (loopback still works).

    The task keeps running and passes its own health check, as a half-dead node would.
    Confirmed when both rules read back from its namespace.
    """
    stack = Stack.from_configuration(configuration)
    container = stack.one_container(service)
    pid = stack.pid(container)
    stack.remember(f"partition-{service}", {"container": container, "pid": pid})
    stack.run(fault.drop(pid, "INPUT", 1.0))
    stack.run(fault.drop(pid, "OUTPUT", 1.0))
    listed = stack.run(fault.rules(pid)).stdout
    found = [line for line in listed.splitlines() if fault.MARK in line and "statistic" not in line]
    if len(found) < 2:
        raise ActivityFailed(f"the cut of {container[:12]} is not in its packet filter")
    return stack.injected("partition", service=stack.service(service), container=container[:12])


def heal(service: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Undo :func:`partition` on the task it cut (a no-op when that task is gone)."""
    stack = Stack.from_configuration(configuration)
    done = stack.recall(f"partition-{service}")
    if done is None:
        return {"healed": False, "reason": "nothing was cut"}
    state = stack.state(done["container"])
    if state is None or not state.running or state.pid != done["pid"]:
        stack.forget(f"partition-{service}")
        return {"healed": False, "reason": "the task is gone"}
    pid = int(done["pid"])
    stack.run(fault.undrop(pid, "INPUT", 1.0))
    stack.run(fault.undrop(pid, "OUTPUT", 1.0))
    if fault.MARK in stack.run(fault.rules(pid)).stdout:
        raise ActivityFailed(f"a pipeline-chaos rule is still in the packet filter of {done['container'][:12]}")
    stack.forget(f"partition-{service}")
    return {"healed": True, "container": done["container"][:12]}
