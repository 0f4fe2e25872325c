"""The Target protocol: the few operations every kind of target implements."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from pipeline.edge import Weights

TrackName = Literal["stable", "canary"]
TRACKS: tuple[TrackName, TrackName] = ("stable", "canary")


@dataclass(frozen=True)
class TrackStatus:
    """A track as the target reports it."""

    track: str
    version: str | None
    desired: int
    running: int
    update: str = ""

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "kind": self.kind,
            "url": self.url,
            "edge": {"running": self.edge_running},
            "weights": self.weights.as_dict() if self.weights else None,
            "tracks": {k: {**asdict(v), "health": v.health} for k, v in self.tracks.items()},
            "services": {k: asdict(v) for k, v in self.services.items()},
        }


class Target(Protocol):
    """Every deploy target: provision/configure (``up``), deploy a track, weights, status, destroy."""

    def check(self) -> None:
        """Validate everything that can be validated before anything is touched."""

    def up(self) -> None:
        """Provision and configure: engine, networks, data services, edge. Idempotent."""

    def deploy_track(self, track: TrackName, version: str) -> None:
        """Run ``version`` on ``track`` (rolling, zero downtime) and wait until it is healthy."""

    def remove_track(self, track: TrackName) -> None:
        """Empty a track (no tasks left)."""

    def set_weights(self, weights: Weights) -> None:
        """Split traffic between the tracks; applied without dropping a request."""

    def status(self) -> Status: ...

    def down(self, volumes: bool = False) -> None:
        """Remove what ``up`` made; data volumes only when asked."""

    def logs(self, service: str, tail: int, follow: bool) -> None: ...

    def versions(self) -> list[str]:
        """Versions that can be deployed (in the registry)."""
        ...
