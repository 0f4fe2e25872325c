"""The Target protocol, as parts: the core every kind implements and the optional parts a kind declares."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:  # names in hints only: the CLI imports TrackName without the environment model
    from pipeline.analysis.source import EdgeLogsSource, MetricsSource
    from pipeline.commands import Command
    from pipeline.commands.ansible import Recap
    from pipeline.commands.executor import Executor
    from pipeline.commands.ssh import Login
    from pipeline.edge import Weights
    from pipeline.environment.model import Faults
    from pipeline.flags.delivery import FlagDelivery
    from pipeline.observability.logs import LogFeed, LogQuery
    from pipeline.records.lock import LockInfo
    from pipeline.targets.secret_store import AppSecretStore

DEPLOY_LABEL = "pipeline.deploy"  # the journal id of the deploy a canary belongs to
WARM_LABEL = "pipeline.warm"  # "previous": the canary track holds the previous release, warm
PREVIOUS_LABEL = "pipeline.previous"  # on stable: the release it replaced

TrackName = Literal["stable", "canary", "baseline"]
TRACKS: tuple[TrackName, ...] = ("stable", "canary")  # the tracks every kind has
# a release may also start a baseline: the stable version afresh, beside the canary (kinds that can)
ALL_TRACKS: tuple[TrackName, ...] = ("stable", "canary", "baseline")


@dataclass(frozen=True)
class TrackPlan:
    """One track to start for a release: its version, fault knobs, labels and task count."""

    track: TrackName
    version: str
    faults: Faults | None = None
    labels: dict[str, str] | None = None
    replicas: int | None = None  # None: the environment's replicas for the track


@dataclass(frozen=True)
class TaskReadiness:
    """What one task of a track answered on the app's readiness path (status 0: no answer)."""

    track: str
    task: str  # the task's id, or its address when the id is not known
    status: int
    body: str = ""

    @property
    def ready(self) -> bool:
        return self.status == 200

    def describe(self, path: str) -> str:
        answer = f"answered {self.status}" if self.status else "did not answer"
        body = " ".join(self.body.split())[:160]
        return f"{self.track} task {self.task} {answer} on {path}" + (f": {body}" if body else "")


def readiness_gap(probes: list[TaskReadiness], track: str, tasks: int, path: str) -> str | None:
    """Why ``track`` is not ready (fewer than ``tasks`` tasks answer, or one does not answer 200 on
    ``path``); None when it is."""
    mine = [p for p in probes if p.track == track]
    bad = [p for p in mine if not p.ready]
    if bad:
        return bad[0].describe(path)
    if len(mine) < tasks:
        return f"{len(mine)} of {tasks} {track} tasks answer {path}"
    return None


@dataclass(frozen=True)
class TrackStatus:
    """A track as the target reports it."""

    track: str
    version: str | None
    desired: int
    running: int
    update: str = ""
    service: str = ""  # the service (or unit) that serves the track now, where the kind names one

    @property
    def serving(self) -> int:
        """The tasks that take the track's traffic: during a start-first update the replaced
        tasks still count as running until they stop, but the edge no longer sends them any."""
        return min(self.running, self.desired)

    @property
    def health(self) -> str:
        if self.desired == 0:
            return "empty"
        if self.running >= self.desired:
            return "healthy"
        return "degraded" if self.running > 0 else "down"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    desired: int
    running: int


@dataclass(frozen=True)
class Status:
    """What runs in an environment, read back from the target."""

    environment: str
    kind: str
    url: str
    edge_running: bool
    weights: Weights | None
    tracks: dict[str, TrackStatus] = field(default_factory=dict)
    services: dict[str, ServiceStatus] = field(default_factory=dict)
    canary_state: str = "idle"  # idle | running | orphaned | warm-previous
    lock: dict[str, Any] | None = None
    lease: float | str | None = None
    # a multi-node kind: each node (name, state, availability, role) and each edge replica's state
    nodes: list[dict[str, str]] = field(default_factory=list)
    edges: dict[str, bool] = field(default_factory=dict)
    # a multi-node kind: each track whose tasks crowd onto fewer nodes than it could use, and those nodes
    crowded: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "kind": self.kind,
            "url": self.url,
            "edge": {"running": self.edge_running, **({"replicas": self.edges} if self.edges else {})},
            **({"nodes": self.nodes, "crowded": self.crowded} if self.nodes else {}),
            "weights": self.weights.as_dict() if self.weights else None,
            "tracks": {k: {**asdict(v), "health": v.health} for k, v in self.tracks.items()},
            "services": {k: asdict(v) for k, v in self.services.items()},
            "canary_state": self.canary_state,
            "lock": self.lock,
            "lease": self.lease,
        }


def canary_state(
    canary: TrackStatus, labels: dict[str, str], weights: Weights | None, lock: LockInfo | None, lease: float | str | None
) -> str:
    """idle | warm-previous | running (a live controller holds the lock) | orphaned, from what the target reports."""
    if canary.desired == 0:
        return "idle"
    if labels.get(WARM_LABEL) == "previous":
        return "warm-previous"
    if lock is not None:
        alive = lock.alive()
        fresh = lease == "forever" or (isinstance(lease, float) and lease > time.time())
        if alive or (alive is None and fresh):
            return "running"
    if DEPLOY_LABEL in labels or (weights is not None and weights.canary > 0):
        return "orphaned"
    return "idle"


# --- the parts of a target ---------------------------------------------------------------
# Every kind has the five core parts (``Target``); the optional parts below are declared per kind
# in ``pipeline.environment.kinds`` (``Kind.parts``) and reached through ``pipeline.targets``'
# accessors, which refuse a kind without the part in one line before anything runs.


class Lifecycle(Protocol):
    """Check, provision and remove an environment."""

    def check(self) -> None:
        """Validate everything that can be validated before anything is touched."""

    def up(self) -> None:
        """Provision and configure: engine, networks, data services, edge. Idempotent."""

    def down(self, volumes: bool = False) -> None:
        """Remove what ``up`` made; data volumes only when asked."""


class Tracks(Protocol):
    """The app's tracks (stable, canary, a baseline where the kind can): run, size, label, swap."""

    def deploy_track(
        self,
        track: TrackName,
        version: str,
        faults: Faults | None = None,
        labels: dict[str, str] | None = None,
        timeout: float = 300.0,
    ) -> None:
        """Run ``version`` on ``track`` (rolling, zero downtime) and wait until it is healthy."""

    def deploy_tracks(self, plans: list[TrackPlan], timeout: float = 300.0) -> None:
        """Start every planned track at once and wait until all of them are healthy."""

    def readiness(self, tracks: tuple[str, ...]) -> list[TaskReadiness]:
        """What every task of these tracks answers on the app's readiness path, now (read-only)."""
        ...

    def require_version(self, version: str) -> str:
        """The image reference of ``version``; ``UnknownVersion`` when it does not exist."""
        ...

    def versions(self) -> list[str]:
        """Versions that can be deployed (in the registry)."""
        ...

    def remove_track(self, track: TrackName, wait: bool = True) -> None:
        """Empty a track (no tasks left); ``wait=False`` returns once the tasks were told to stop."""

    def scale_track(self, track: TrackName, replicas: int) -> None: ...

    def track_labels(self, track: TrackName) -> dict[str, str]: ...

    def label_track(self, track: TrackName, add: dict[str, str], remove: tuple[str, ...] = ()) -> None: ...

    def promote(self, version: str, previous: str | None) -> None:
        """``version`` (the canary) becomes stable; ``previous`` stays warm at weight 0 where the kind can."""

    def settle(self, probes: list[TaskReadiness] | None = None) -> bool:
        """After ``promote``: True once all traffic is on the new stable (a kind that hands over, the
        local one, gives the previous release a share until the new stable's tasks are all ready).
        ``probes``: a fresh answer of the tasks to ``readiness`` (the controller probes off its loop),
        so the kind need not probe them again."""
        ...

    def revert_to_previous(self, previous: str) -> None:
        """Back to ``previous``: at once from its warm tasks while they run, else by a deploy."""


class Traffic(Protocol):
    """The split between the tracks, its lease, the operator's command channel and the request log."""

    def set_weights(self, weights: Weights, lease_until: float | None = None) -> None:
        """Split traffic without dropping a request; a split is held until ``lease_until``."""

    def weights(self) -> Weights | None:
        """The split in force (None: the edge is away or has none), read without the rest of the status."""
        ...

    def renew_lease(self, until: float | None) -> None: ...

    def lease(self) -> float | str | None: ...

    def send_command(self, command: str) -> None: ...

    def take_command(self) -> str | None: ...

    def clear_command(self) -> None: ...

    def log_reader(self) -> Callable[[int], bytes]:
        """Bytes of the edge's JSON access log from an offset (for ``EdgeLogSource``)."""
        ...

    def log_size(self) -> int: ...


class LockStore(Protocol):
    """The environment's deploy lock, kept with the environment (not on the operator's machine)."""

    def read_lock(self) -> LockInfo | None: ...

    def acquire_lock(self, info: LockInfo) -> None: ...

    def release_lock(self) -> None: ...


class Inspection(Protocol):
    """What runs and what it logs (read-only)."""

    def status(self) -> Status: ...

    def logs(self, service: str, tail: int, follow: bool) -> None:
        """One part's lines as its engine prints them (``--follow``: until interrupted)."""

    def read_logs(self, parts: Sequence[str], query: LogQuery) -> list[LogFeed]:
        """Each part's lines in the query's window, as read (``pipeline.observability.logs`` parses and
        merges them); a part that cannot be read is a feed with its ``error``. ``parts`` empty: every part there is."""
        ...

    def traffic_url(self) -> str:
        """Where users' requests enter, as this machine reaches it (the perf gate, chaos load and
        probes send theirs here): the edge on 127.0.0.1, a VM's nginx, a cluster's virtual IP, the ALB."""
        ...


class Target(Lifecycle, Tracks, Traffic, LockStore, Inspection, Protocol):
    """Every deploy target: the five core parts every kind implements."""


# optional parts: a kind lists the ones it has in ``Kind.parts`` (a test holds the list to the class)


class OwnMetrics(Protocol):
    """A kind whose requests are measured by its own source (the ecs kind's CloudWatch), not the edge log."""

    def metrics_source(self) -> MetricsSource: ...


class TrackPinning(Protocol):
    """An edge where a request may pick its track (the perf gate's ``compare`` script)."""

    def track_pin_token(self) -> str:
        """The secret with which a request may pick its track at the edge (never printed)."""
        ...


class FlagParts(Protocol):
    """Feature flags delivered to every app task without a redeploy, and a probe that asks each task."""

    def flag_delivery(self) -> FlagDelivery: ...

    def flag_probe(self, mode: str = "once", want: str = "", timeout: float = 20.0, user: str = "probe") -> Command: ...

    def app_image(self, track: TrackName) -> str | None:
        """The image a track runs (the flags benchmark runs the app's own evaluation in it)."""
        ...


class Services(Protocol):
    """A Swarm stack's services by part name (``db``, ``cache``, ``edge``; ``app-stable`` and
    ``app-canary`` name a track: the service serving it now). Chaos experiments act on them."""

    def service_name(self, part: str) -> str: ...

    def service_replicas(self, part: str) -> tuple[int, int] | None:
        """(running, desired) of one service as the engine reports it; None when there is no such service."""
        ...


class Host(Protocol):
    """One machine over SSH whose app instances run under systemd behind its nginx (the vm kind)."""

    def ssh_login(self) -> Login: ...

    def tls_endpoint(self) -> tuple[str, int, str]:
        """(address to connect to, HTTPS port, domain) of the host's nginx."""
        ...

    def tls_trust(self) -> str | None:
        """A CA file that verifies the host's certificate (a test ACME server's root); None: the system's."""
        ...


class Certificates(Protocol):
    """A host whose TLS certificate the pipeline obtains and renews (certbot against an ACME server)."""

    def reach(self, timeout: float = 0.0) -> None:
        """Refuse, in one line, a host that does not answer over SSH."""

    def certificate_domain(self) -> str:
        """The domain the certificate is for."""
        ...

    def certificate_seconds_left(self) -> float | None: ...

    def renew_certificate(self, force: bool = False) -> None: ...


class Nodes(Protocol):
    """The machines of a cluster (the swarm kind): each one's engine and state, the edge node that
    holds the virtual IP, and the stand-in's switch (chaos acts on whole nodes through them)."""

    def node_names(self) -> list[str]:
        """Every node, managers first, as env.yaml lists them."""
        ...

    def node_executor(self, name: str) -> Executor:
        """Every command runs on that node (over SSH): its engine, and its own ip, nft, systemctl."""
        ...

    def nodes_status(self) -> list[dict[str, str]]:
        """Each node as the manager sees it: name, state, availability, role (none when it does not answer)."""
        ...

    def vip_holder(self) -> str | None:
        """The edge node that holds the virtual IP now (None: no node holds it, or there is none)."""
        ...

    def edge_container_on(self, name: str) -> str | None:
        """The running container of the edge's task on that node (None: none runs there)."""
        ...

    def edge_logs(self, tail_bytes: int) -> EdgeLogsSource:
        """Every edge replica's request log, read as one, from ``tail_bytes`` before each one's end."""
        ...

    def tasks_on(self, name: str) -> list[str]:
        """The tasks swarm means to keep running on that node (``<service>.<slot>`` names)."""
        ...

    def drain(self, name: str, timeout: float = 120.0) -> None:
        """A planned drain: an edge node hands its virtual IP over first, then every task moves away."""

    def activate(self, name: str, timeout: float = 120.0) -> list[str]:
        """Back in service (tasks may run on it again; an edge node's edge starts there; the app's
        tracks spread over it again). The services spread for that."""
        ...

    def rebalance(self, timeout: float = 300.0) -> list[str]:
        """Every app track whose tasks crowd onto fewer nodes than it could use grown onto the nodes
        it misses and shrunk back (never below its size), so it spreads again over the nodes that
        run; the services spread."""
        ...

    def roll_edge(self, timeout: float = 180.0) -> None:
        """Every edge replica replaced by a fresh task, one node at a time, as an edge upgrade rolls out."""

    def node_switch(self, name: str, to: Literal["start", "stop", "kill"]) -> Command:
        """Start, stop or kill (power loss) a whole node, the stand-in's container; refused (one line)
        for hosts the pipeline did not make."""
        ...


class AppSecrets(Protocol):
    """The app's own secrets (``app.secrets``) as Swarm secrets (the local and swarm kinds)."""

    def secret_store(self) -> AppSecretStore:
        """The store of the environment's declared secrets (set, list, the newest of each)."""
        ...


class Playbooks(Protocol):
    """Hosts configured by Ansible playbooks (the vm and swarm kinds)."""

    def config_drift(self) -> Recap:
        """The playbook in Ansible's check mode against the hosts as they are: what an ``up`` would
        change there, changing nothing (the hosts must answer over SSH)."""
        ...
