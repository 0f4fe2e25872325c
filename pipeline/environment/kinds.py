"""The one list of target kinds: each kind's name, its env.yaml section and what it can do.

Every place that names the kinds reads them here: the model's ``target.kind`` check and its rule
that an environment carries its kind's section and no other (``model.Environment``), the target
factories (``pipeline.targets.FACTORIES``, keyed by these names, a test holds them equal), the
kinds a chaos experiment may name (``pipeline.chaos.experiments``) and the perf gate's health
path. A kind's section stays a top-level key beside ``target:`` (``vm:``, ``ecs:``), as env files
have always written it. This module sits in the environment layer: it imports no target, so
loading or validating an environment never imports boto3, Pulumi or Ansible code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeVar

from pydantic import BaseModel

from pipeline.environment.ecs import Ecs
from pipeline.environment.swarm import Swarm
from pipeline.environment.vm import Vm
from pipeline.errors import ConfigError

Section = TypeVar("Section", bound=BaseModel)


@dataclass(frozen=True)
class Kind:
    """One kind of target."""

    name: str
    summary: str
    section: str | None = None  # the env.yaml key of the kind's own settings (top level, beside target:)
    model: type[BaseModel] | None = None  # the pydantic model of that section
    section_hint: str = ""  # what to write when the section is missing
    baseline: bool = True  # can start a baseline track beside the canary (canary.compare_with: baseline)
    edge: Literal["nginx", "alb"] = "nginx"  # what splits the traffic: our nginx edge (/edge/healthz) or an ALB
    prometheus: bool = False  # runs Prometheus in its stack (observability.enabled)
    # the optional parts of its target beyond the core every kind has (``PARTS``; pipeline.targets.base)
    parts: frozenset[str] = frozenset()


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "local",
            "a single-node Docker Swarm on this machine",
            parts=frozenset({"pinning", "flags", "services", "secrets"}),
            prometheus=True,
        ),
        Kind(
            "vm",
            "a Linux host over SSH, configured by Ansible",
            section="vm",
            model=Vm,
            section_hint="add a vm: section (hosts, ssh, domain, acme); see environments/vm-local/env.yaml",
            baseline=False,
            parts=frozenset({"pinning", "certificates", "host", "playbooks"}),
        ),
        Kind(
            "swarm",
            "a multi-node Docker Swarm set up by Ansible, a redundant edge behind a virtual IP",
            section="swarm",
            model=Swarm,
            section_hint="add a swarm: section (managers, workers, edge_nodes, vip); see environments/swarm-local/env.yaml",
            # its own metrics source: every edge replica's log, read as one
            parts=frozenset({"pinning", "flags", "services", "metrics", "nodes", "playbooks", "secrets"}),
        ),
        Kind(
            "ecs",
            "ECS Fargate behind an ALB with weighted target groups",
            section="ecs",
            model=Ecs,
            section_hint="add ecs.region and ecs.account_id (see environments/aws-ecs/env.yaml)",
            baseline=False,
            edge="alb",
            parts=frozenset({"metrics"}),
        ),
    )
}
# the optional parts a kind may declare, and what each is called in a refusal
PARTS: dict[str, str] = {
    "metrics": "metrics source of its own (requests are read from the edge's log)",
    "pinning": "way for a request to pick its track at the edge",
    "flags": "feature flag delivery",
    "certificates": "TLS certificate of its own",
    "services": "Swarm services to act on by name",
    "host": "host reached over SSH",
    "nodes": "cluster of nodes to act on one by one",
    "playbooks": "hosts configured by Ansible playbooks",
    "secrets": "store of the app's own secrets (app.secrets, mounted as Swarm secrets)",
}


def names() -> tuple[str, ...]:
    """The kinds an environment can use, in the registry's order."""
    return tuple(KINDS)


def sections() -> dict[str, Kind]:
    """Each kind's section key, and its kind."""
    return {k.section: k for k in KINDS.values() if k.section is not None}


def kind_of(name: str) -> Kind:
    """The registry's entry of a kind the model has accepted (a ``KeyError`` for any other is our bug)."""
    return KINDS[name]


class Misfit(NamedTuple):
    """Why an environment's settings do not fit its kind: the key it is about, one line, a hint."""

    key: str
    message: str
    hint: str


def unknown(name: str) -> Misfit | None:
    """``target.kind`` names no kind of the registry."""
    if name in KINDS:
        return None
    return Misfit("target.kind", f"'{name}' is not a target kind", f"available kinds: {', '.join(KINDS)}")


def misfits(
    name: str, present: Iterable[str], compare_with: str, app_secrets: bool = False, observability: bool = False
) -> list[Misfit]:
    """What does not fit kind ``name`` (one the registry has): a section of another kind, its own section
    missing, a baseline it cannot start, app secrets it cannot store, a Prometheus it cannot run.
    ``present``: the section keys the environment sets; ``app_secrets``: whether ``app.secrets`` names
    any; ``observability``: whether ``observability.enabled`` is set."""
    kind = KINDS[name]
    given = set(present)
    found: list[Misfit] = []
    for section, owner in sections().items():
        if section in given and owner is not kind:
            found.append(
                Misfit(
                    section,
                    f"a section of kind {owner.name}, but target.kind is {kind.name}",
                    f"remove the {section}: section, or set target.kind: {owner.name}",
                )
            )
    if kind.section is not None and kind.section not in given:
        found.append(Misfit(kind.section, f"missing: target.kind {kind.name} needs this section", kind.section_hint))
    if compare_with == "baseline" and not kind.baseline:
        found.append(
            Misfit(
                "canary.compare_with",
                f"baseline: the {kind.name} kind has no baseline track yet",
                "set canary.compare_with: stable for this environment",
            )
        )
    if app_secrets and "secrets" not in kind.parts:
        having = " or ".join(k.name for k in KINDS.values() if "secrets" in k.parts)
        found.append(
            Misfit(
                "app.secrets",
                f"the {kind.name} kind has no {PARTS['secrets']} yet",
                f"an environment of kind {having} has it; here, leave app.secrets empty",
            )
        )
    if observability and not kind.prometheus:
        having = " or ".join(k.name for k in KINDS.values() if k.prometheus)
        found.append(
            Misfit(
                "observability.enabled",
                f"the {kind.name} kind runs no Prometheus of its own in its stack yet",
                f"an environment of kind {having} has it; here, set observability.enabled: false"
                + (" (CloudWatch is this kind's metrics source)" if kind.edge == "alb" else ""),
            )
        )
    return found


def section_of(env_name: str, kind_name: str, value: Section | None) -> Section:
    """A kind's section of an environment (``env.vm`` for ``vm``), or the line ``env validate`` prints
    when it is missing (a validated environment always has it; one built in code may not)."""
    if value is None:
        kind = KINDS[kind_name]
        raise ConfigError(
            f"environments/{env_name}/env.yaml: {kind.section}: missing: target.kind {kind.name} needs this section",
            hint=kind.section_hint,
        )
    return value
