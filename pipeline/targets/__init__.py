"""Deploy targets: the core parts every kind has (``base.Target``), optional parts, one module per kind.

The kinds are listed in ``pipeline.environment.kinds``; ``FACTORIES`` builds the target of each
(a test holds the two equal). A target module is imported only when its target is built. An
optional part (``Kind.parts``) is reached through an accessor here (``flags``, ``pinning``,
``certificates``, ``metrics_source``): a kind without it is refused in one line (``MissingPart``)
before anything runs. Nothing else probes a target for what it can do (a test holds each kind's
class to the parts it declares).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:  # names in hints only: importing pipeline.targets stays cheap (see pipeline.wiring)
    from pipeline.analysis.source import EdgeLogSource, MetricsSource
    from pipeline.commands.executor import Executor
    from pipeline.environment import Environment
    from pipeline.project import Project
    from pipeline.targets.base import (
        AppSecrets,
        Certificates,
        FlagParts,
        Host,
        Nodes,
        OwnMetrics,
        Playbooks,
        Services,
        Target,
        TrackPinning,
    )

Say = Callable[[str], None]
Factory = Callable[["Environment", "Executor", "Project", Say], "Target"]


def _local(env: Environment, ex: Executor, project: Project, say: Say) -> Target:
    from pipeline.targets.local import LocalTarget

    return LocalTarget(env, ex, project, say)


def _vm(env: Environment, ex: Executor, project: Project, say: Say) -> Target:
    from pipeline.targets.vm import VmTarget
    from pipeline.targets.vm_machine import machine_for

    return VmTarget(env, ex, project, say, machine=machine_for(env, ex, project, say))


def _swarm(env: Environment, ex: Executor, project: Project, say: Say) -> Target:
    from pipeline.targets.swarm import SwarmTarget

    return SwarmTarget(env, ex, project, say)


def _ecs(env: Environment, ex: Executor, project: Project, say: Say) -> Target:
    from pipeline.targets.ecs import ecs_target

    return ecs_target(env, ex, say)


FACTORIES: dict[str, Factory] = {"local": _local, "vm": _vm, "swarm": _swarm, "ecs": _ecs}


def target_for(env: Environment, ex: Executor, project: Project, say: Say) -> Target:
    """The target of the environment's kind; the model has already refused a kind the registry lacks."""
    return FACTORIES[env.target.kind](env, ex, project, say)


def has_part(env: Environment, part: str) -> bool:
    """Does the environment's kind declare this optional part?"""
    from pipeline.environment.kinds import kind_of

    return part in kind_of(env.target.kind).parts


def require_part(env: Environment, part: str) -> None:
    """``MissingPart`` (one line, the kinds that have it as the hint) unless the kind declares ``part``."""
    from pipeline.environment.kinds import KINDS, PARTS
    from pipeline.errors import MissingPart

    if not has_part(env, part):
        having = " or ".join(k.name for k in KINDS.values() if part in k.parts)
        raise MissingPart(
            f"{env.name}: the {env.target.kind} kind has no {PARTS[part]} ({part})",
            hint=f"an environment of kind {having} has it" if having else None,
        )


def flags(env: Environment, target: Target) -> FlagParts:
    """The target's flag delivery and probe; ``MissingPart`` for a kind without them."""
    require_part(env, "flags")
    return cast("FlagParts", target)


def pinning(env: Environment, target: Target) -> TrackPinning:
    """The edge's track pin (for the perf gate's compare script); ``MissingPart`` for a kind without it."""
    require_part(env, "pinning")
    return cast("TrackPinning", target)


def certificates(env: Environment, target: Target) -> Certificates:
    """The host's certificate (days left, renew); ``MissingPart`` for a kind without one."""
    require_part(env, "certificates")
    return cast("Certificates", target)


def services(env: Environment, target: Target) -> Services:
    """The stack's services by part name (chaos acts on them); ``MissingPart`` for a kind without Swarm services."""
    require_part(env, "services")
    return cast("Services", target)


def host(env: Environment, target: Target) -> Host:
    """The machine over SSH (chaos on the vm kind); ``MissingPart`` for a kind without one."""
    require_part(env, "host")
    return cast("Host", target)


def nodes(env: Environment, target: Target) -> Nodes:
    """The cluster's nodes, one by one (chaos on the swarm kind); ``MissingPart`` for a kind without them."""
    require_part(env, "nodes")
    return cast("Nodes", target)


def playbooks(env: Environment, target: Target) -> Playbooks:
    """The hosts' playbook, in check mode (``up --check``); ``MissingPart`` for a kind without hosts of its own."""
    require_part(env, "playbooks")
    return cast("Playbooks", target)


def app_secrets(env: Environment, target: Target) -> AppSecrets:
    """The app's own secrets (``pipeline secrets``); ``MissingPart`` for a kind that cannot store them."""
    require_part(env, "secrets")
    return cast("AppSecrets", target)


def metrics_source(env: Environment, target: Target, offset: int | None = None) -> MetricsSource:
    """Where the canary's requests are measured: the kind's own source (the ecs kind's CloudWatch),
    else the edge's log read from ``offset`` (default: its end, what is logged from now on), or
    Prometheus, or both held to each other, as ``canary.metrics`` says (``pipeline.targets.prometheus``)."""
    from pipeline.analysis.source import EdgeLogSource

    if has_part(env, "metrics"):
        return cast("OwnMetrics", target).metrics_source()
    edge = EdgeLogSource(target.log_reader(), offset=target.log_size() if offset is None else offset)
    if env.canary.metrics == "edge":
        return edge
    from pipeline.targets.prometheus import judged_on

    return judged_on(env, target, edge)


def edge_history(env: Environment, target: Target, tail_bytes: int, offset: int | None = None) -> EdgeLogSource:
    """What users saw, from the edge's log, for a report after the fact (a bench, a chaos run): every
    edge replica's log on a cluster, read as one, from ``tail_bytes`` before each end; else the one
    log, from ``offset`` when given, else from ``tail_bytes`` before its end."""
    from pipeline.analysis.source import EdgeLogSource

    if has_part(env, "nodes"):
        return cast("Nodes", target).edge_logs(tail_bytes)
    start = offset if offset is not None and offset > 0 else max(0, target.log_size() - tail_bytes)
    return EdgeLogSource(target.log_reader(), offset=start)
