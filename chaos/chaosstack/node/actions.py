"""Actions on a cluster's nodes: kill an edge replica, roll every edge replica as an upgrade does,
lose a node and bring it back, drain one, cut one off from the others, stop an engine for some
seconds. Each one is confirmed before it counts.

A node is named in an experiment either by its name in env.yaml or by its role now:
``vip-holder`` (the edge node that holds the virtual IP), ``edge-standby`` (an edge node that
does not) or ``manager`` (the first manager). The name chosen is remembered for the rollbacks.
"""

from __future__ import annotations

import re
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosstack._stack import Stack
from pipeline.commands import Command, Result
from pipeline.commands import faults as fault
from pipeline.errors import PipelineError
from pipeline.targets.base import Nodes

__all__ = [
    "activate_node",
    "drain_node",
    "edges_running",
    "heal_partition",
    "kill_edge_replica",
    "lose_node",
    "partition_node",
    "roll_edge",
    "start_engine",
    "start_node",
    "stop_engine_for",
]

ROLES = ("vip-holder", "edge-standby", "manager")


def pick(stack: Stack, node: str) -> str:
    """The node a role names now (or the node named); ActivityFailed when none fits."""
    nodes = stack.nodes()
    names = nodes.node_names()
    swarm = stack.env.swarm
    assert swarm is not None  # the nodes part is the swarm kind's
    if node in names:
        return node
    if node == "manager":
        return swarm.manager.name
    if node in ("vip-holder", "edge-standby"):
        holder = nodes.vip_holder()
        if holder is None:
            raise ActivityFailed("no edge node holds the virtual IP now: nothing to pick")
        if node == "vip-holder":
            return holder
        return next(n for n in swarm.edge_nodes if n != holder)
    raise ActivityFailed(f"node {node!r}: not a node of {stack.env.name} ({', '.join(names)}) nor one of {', '.join(ROLES)}")


def _chosen(stack: Stack, key: str, node: str | None) -> str:
    """The node an action picked (remembered under ``key``), for its rollback."""
    if node and node not in ROLES:
        return node
    remembered = stack.recall(key) or {}
    if "node" not in remembered:
        raise ActivityFailed(f"no node remembered for {key}: the fault was not injected")
    return str(remembered["node"])


def _run_on(stack: Stack, node: str, command: Command) -> Result:
    try:
        return stack.nodes().node_executor(node).run(command)
    except PipelineError as exc:
        raise ActivityFailed(exc.message) from exc


# --- an edge replica -------------------------------------------------------------------------
def kill_edge_replica(
    node: str = "vip-holder", configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """SIGKILL the edge task's container on one edge node, as a crash would; confirmed when swarm
    runs another task there (or none yet). keepalived's check moves the address if it stays down."""
    stack = Stack.from_configuration(configuration)
    name = pick(stack, node)
    nodes = stack.nodes()
    victim = nodes.edge_container_on(name)
    if victim is None:
        raise ActivityFailed(f"no edge task runs on {name}: nothing to kill")
    _run_on(stack, name, fault.kill(victim))
    stack.wait_for(
        lambda: True if nodes.edge_container_on(name) != victim else None, 15, f"the edge task {victim} on {name} gone"
    )
    return stack.injected("kill_edge_replica", node=name, container=victim)


def roll_edge(
    timeout: float = 180.0, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Replace every edge replica by a fresh task, one edge node at a time, as an upgrade of the edge's
    image rolls out (a planned move); confirmed when each edge node runs a container it did not before."""
    stack = Stack.from_configuration(configuration)
    swarm = stack.env.swarm
    assert swarm is not None
    nodes = stack.nodes()
    before = {n: nodes.edge_container_on(n) for n in swarm.edge_nodes}
    missing = [n for n, container in before.items() if container is None]
    if missing:
        raise ActivityFailed(f"no edge task runs on {', '.join(missing)}: nothing to roll")
    try:
        nodes.roll_edge(timeout)
    except PipelineError as exc:
        raise ActivityFailed(exc.message) from exc
    stack.wait_for(
        lambda: True if all(nodes.edge_container_on(n) not in (None, before[n]) for n in swarm.edge_nodes) else None,
        60,
        "a new edge task on every edge node",
    )
    return stack.injected("roll_edge", nodes=list(swarm.edge_nodes), replaced=before)


def edges_running(
    timeout: float = 60.0, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Wait until an edge task runs on every edge node (a rollback: swarm starts them by itself)."""
    stack = Stack.from_configuration(configuration)
    swarm = stack.env.swarm
    assert swarm is not None
    nodes = stack.nodes()
    stack.wait_for(
        lambda: True if all(nodes.edge_container_on(n) for n in swarm.edge_nodes) else None, timeout, "an edge on every edge node"
    )
    return {"edges": list(swarm.edge_nodes)}


# --- a whole node ------------------------------------------------------------------------------
def lose_node(
    node: str = "vip-holder",
    how: str = "kill",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Lose a whole node: ``kill`` (power lost: no process on it says goodbye) or ``stop`` (a clean
    shutdown). Confirmed when the node's container no longer runs. The stand-in's nodes only."""
    if how not in ("kill", "stop"):
        raise ActivityFailed(f"how: {how!r}: kill or stop")
    stack = Stack.from_configuration(configuration)
    name = pick(stack, node)
    swarm = stack.env.swarm
    assert swarm is not None
    if name == swarm.manager.name:
        raise ActivityFailed(f"{name} is the manager the pipeline talks to: lose a worker (or stop its engine)")
    try:
        switch = stack.nodes().node_switch(name, "kill" if how == "kill" else "stop")
    except PipelineError as exc:
        raise ActivityFailed(exc.message) from exc
    stack.remember("node-lost", {"node": name})
    stack.run(switch)

    def down() -> bool | None:
        answered = stack.nodes().node_executor(name).run(fault.engine_active())
        return True if not answered.ok else None

    stack.wait_for(down, 30, f"{name} down")
    return stack.injected("lose_node", node=name, how=how)


def start_node(
    node: str | None = None,
    timeout: float = 180.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start the lost node again, wait until the manager sees it ready and spread the app's tracks
    over it again (a rollback; idempotent)."""
    stack = Stack.from_configuration(configuration)
    name = _chosen(stack, "node-lost", node)
    nodes = stack.nodes()
    try:
        stack.run(nodes.node_switch(name, "start"))
    except PipelineError as exc:
        raise ActivityFailed(exc.message) from exc
    spread = _ready_and_spread(stack, nodes, name, timeout)
    stack.forget("node-lost")
    return {"node": name, "ready": True, "rebalanced": spread}


def _ready_and_spread(stack: Stack, nodes: Nodes, name: str, timeout: float) -> list[str]:
    """Wait until the manager sees node ``name`` ready again, then spread the app's tracks over it
    (swarm moves nothing back to a node that returns); the services spread."""

    def ready() -> bool | None:
        rows = {r["name"]: r for r in nodes.nodes_status()}
        return True if rows.get(name, {}).get("state") == "ready" else None

    stack.wait_for(ready, timeout, f"{name} ready in the swarm", step=1.0)
    try:
        return nodes.rebalance()
    except PipelineError as exc:
        raise ActivityFailed(exc.message) from exc


# --- a planned drain -----------------------------------------------------------------------------
def drain_node(
    node: str = "vip-holder",
    timeout: float = 120.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Drain a node the way the pipeline plans it (the virtual IP handed over first, then every task
    moved away); confirmed when no task is meant to run there any more."""
    stack = Stack.from_configuration(configuration)
    name = pick(stack, node)
    stack.remember("node-drained", {"node": name})
    try:
        stack.nodes().drain(name, timeout)
    except PipelineError as exc:
        raise ActivityFailed(exc.message) from exc
    return stack.injected("drain_node", node=name)


def activate_node(
    node: str | None = None,
    timeout: float = 120.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The drained node back in service (a rollback; idempotent)."""
    stack = Stack.from_configuration(configuration)
    name = _chosen(stack, "node-drained", node)
    try:
        spread = stack.nodes().activate(name, timeout)
    except PipelineError as exc:
        raise ActivityFailed(exc.message) from exc
    stack.forget("node-drained")
    return {"node": name, "active": True, "rebalanced": spread}


# --- a partition ---------------------------------------------------------------------------------
def partition_node(
    node: str = "edge-standby", configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Cut one node off from every other node (packets both ways dropped on it; this machine still
    reaches it). Confirmed when the drop rules have counted packets."""
    stack = Stack.from_configuration(configuration)
    swarm = stack.env.swarm
    assert swarm is not None
    name = pick(stack, node)
    peers = [n.address for n in swarm.nodes if n.name != name]
    stack.remember("node-partitioned", {"node": name})
    for command in fault.partition(peers):
        _run_on(stack, name, command)

    def counted() -> bool | None:
        listed = _run_on(stack, name, fault.partition_counters()).stdout
        return True if any(int(n) > 0 for n in re.findall(r"counter packets (\d+)", listed)) else None

    stack.wait_for(counted, 15, f"packets between {name} and {', '.join(peers)} dropped")
    return stack.injected("partition_node", node=name, peers=peers)


def heal_partition(
    node: str | None = None,
    timeout: float = 120.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Remove the partition (a rollback; idempotent); once the manager sees the node ready again,
    the app's tracks that swarm moved off it spread over it again."""
    stack = Stack.from_configuration(configuration)
    name = _chosen(stack, "node-partitioned", node)
    _run_on(stack, name, fault.heal_partition())
    spread = _ready_and_spread(stack, stack.nodes(), name, timeout)
    stack.forget("node-partitioned")
    return {"node": name, "healed": True, "rebalanced": spread}


# --- an engine -------------------------------------------------------------------------------------
def stop_engine_for(
    node: str = "manager",
    seconds: int = 10,
    how: str = "kill",
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Take one node's Docker engine away for ``seconds``: ``kill`` is a crash (SIGKILL to dockerd,
    its containers live on without it), ``stop`` a planned stop (the engine stops its containers and
    leaves the gossip). A timer on the node starts it again whatever happens here. Confirmed when
    the engine is inactive."""
    if not 1 <= int(seconds) <= 300:
        raise ActivityFailed(f"seconds: {seconds}: 1 to 300")
    if how not in ("kill", "stop"):
        raise ActivityFailed(f"how: {how!r}: kill (a crash) or stop (a planned stop)")
    stack = Stack.from_configuration(configuration)
    name = pick(stack, node)
    stack.remember("engine-stopped", {"node": name})
    _run_on(stack, name, fault.engine_back_in(int(seconds)))
    for command in fault.engine_kill() if how == "kill" else [fault.engine_stop()]:
        _run_on(stack, name, command)
    state = _run_on(stack, name, fault.engine_active()).stdout.strip()
    if state == "active":
        raise ActivityFailed(f"the engine on {name} still runs after its {how}")
    return stack.injected("stop_engine_for", node=name, seconds=int(seconds), how=how, state=state)


def start_engine(
    node: str | None = None,
    timeout: float = 120.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Make sure the engine runs again (a rollback; the node's timer has usually done it)."""
    stack = Stack.from_configuration(configuration)
    name = _chosen(stack, "engine-stopped", node)
    if _run_on(stack, name, fault.engine_active()).stdout.strip() != "active":
        _run_on(stack, name, fault.engine_start())
    stack.wait_for(
        lambda: True if _run_on(stack, name, fault.engine_active()).stdout.strip() == "active" else None,
        timeout,
        f"the engine on {name}",
    )
    stack.forget("engine-stopped")
    return {"node": name, "active": True}
