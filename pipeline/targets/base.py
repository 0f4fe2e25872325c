"""The Target protocol: the few operations every kind of target implements."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:  # names in hints only: the CLI imports TrackName without the environment model
    from pipeline.edge import Weights
    from pipeline.environment.model import Faults
    from pipeline.lock import LockInfo

DEPLOY_LABEL = "pipeline.deploy"  # the journal id of the deploy a canary belongs to
WARM_LABEL = "pipeline.warm"  # "previous": the canary track holds the previous release, warm

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "kind": self.kind,
            "url": self.url,
            "edge": {"running": self.edge_running},
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


class Target(Protocol):
    """Every deploy target: provision/configure (``up``), deploy a track, weights, status, destroy,
    and what the canary controller needs (lease, operator command, edge log, lock, promote, revert)."""

    def check(self) -> None:
        """Validate everything that can be validated before anything is touched."""

    def up(self) -> None:
        """Provision and configure: engine, networks, data services, edge. Idempotent."""

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

    def remove_track(self, track: TrackName, wait: bool = True) -> None:
        """Empty a track (no tasks left); ``wait=False`` returns once the tasks were told to stop."""

    def scale_track(self, track: TrackName, replicas: int) -> None: ...

    def track_labels(self, track: TrackName) -> dict[str, str]: ...

    def label_track(self, track: TrackName, add: dict[str, str], remove: tuple[str, ...] = ()) -> None: ...

    def set_weights(self, weights: Weights, lease_until: float | None = None) -> None:
        """Split traffic without dropping a request; a split is held until ``lease_until``."""

    def renew_lease(self, until: float | None) -> None: ...

    def lease(self) -> float | str | None: ...

    def send_command(self, command: str) -> None: ...

    def take_command(self) -> str | None: ...

    def clear_command(self) -> None: ...

    def track_pin_token(self) -> str:
        """The secret with which a request may pick its track at the edge (never printed)."""
        ...

    def log_reader(self) -> Callable[[int], bytes]:
        """Bytes of the edge's JSON access log from an offset (for ``EdgeLogSource``)."""
        ...

    def log_size(self) -> int: ...

    def promote(self, version: str, previous: str | None) -> None:
        """``version`` (the canary) becomes stable; ``previous`` stays warm at weight 0 where the kind can."""

    def settle(self) -> bool:
        """After ``promote``: True once all traffic is on the new stable (a kind that hands over, the
        local one, gives the previous release a share until the new stable's tasks are all ready)."""
        ...

    def revert_to_previous(self, previous: str) -> None:
        """Back to ``previous``: at once from its warm tasks while they run, else by a deploy."""

    def read_lock(self) -> LockInfo | None: ...

    def acquire_lock(self, info: LockInfo) -> None: ...

    def release_lock(self) -> None: ...

    def status(self) -> Status: ...

    def down(self, volumes: bool = False) -> None:
        """Remove what ``up`` made; data volumes only when asked."""

    def logs(self, service: str, tail: int, follow: bool) -> None: ...

    def versions(self) -> list[str]:
        """Versions that can be deployed (in the registry)."""
        ...
