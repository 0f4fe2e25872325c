"""Fakes of the pipeline's own protocols, for tests (ours and users')."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.commands import Command, Result
from pipeline.commands.executor import _failure

Responder = Callable[[Command], Result]


@dataclass
class FakeExecutor:
    """Records every command; answers from rules matched on the argv prefix.

    ``rules`` maps an argv prefix (tuple) to a ``Result`` or a function of the
    command. The longest matching prefix wins; unmatched commands succeed empty.
    """

    rules: dict[tuple[str, ...], Result | Responder] = field(default_factory=dict)
    calls: list[Command] = field(default_factory=list)
    dry_run: bool = False

    def on(self, *prefix: str, result: Result | Responder) -> FakeExecutor:
        self.rules[tuple(prefix)] = result
        return self

    def run(self, command: Command) -> Result:
        self.calls.append(command)
        best: tuple[str, ...] | None = None
        for prefix in self.rules:
            if command.argv[: len(prefix)] == prefix and (best is None or len(prefix) > len(best)):
                best = prefix
        answer: Result | Responder = Result(0) if best is None else self.rules[best]
        result = answer(command) if callable(answer) else answer
        if command.check and not result.ok:
            raise _failure(command, result)
        return result

    def lines(self) -> list[str]:
        return [c.shell() for c in self.calls]

    def mutating(self) -> list[Command]:
        return [c for c in self.calls if c.mutates]


@dataclass
class FakeClock:
    """A clock that moves only when slept on (or when a test jumps it)."""

    t: float = 1_000_000.0
    slept: float = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.slept += seconds

    def jump(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class FakeCanaryTarget:
    """Records what the canary controller asks of a target; can fail a deploy, hold tasks unready or
    send a command. ``unready(track, task_index)`` says whether a task fails its readiness probe now."""

    fail_deploy: str | None = None
    commands: list[str] = field(default_factory=list)
    calls: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)
    baselines: list[int] = field(default_factory=list)
    stable: str | None = None
    canary: str | None = None
    baseline: str | None = None
    tasks: dict[str, int] = field(default_factory=lambda: {"stable": 2})
    unready: Callable[[str, int], bool] | None = None
    handover_ticks: int = 0
    lock: Any = None  # the LockInfo held, if any
    url: str = "http://127.0.0.1:8080"
    registry: set[str] | None = None  # the versions the registry has (None: every one)

    def track_labels(self, track: str) -> dict[str, str]:
        version = getattr(self, track, None)
        return {"pipeline.version": version} if version else {}

    def require_version(self, version: str) -> str:
        from pipeline.errors import UnknownVersion

        self.calls.append(("require_version", (version,)))
        if self.registry is not None and version not in self.registry:
            raise UnknownVersion(f"version '{version}' is not in the registry 127.0.0.1:5000/refapp", hint="build it")
        return f"127.0.0.1:5000/refapp:{version}"

    # --- what a direct deploy and the lock need (``pipeline.canary.direct``, ``Release.locked``) ---
    def status(self) -> Any:
        from pipeline.edge import Weights
        from pipeline.targets.base import Status, TrackStatus

        split = Weights(self.weights[-1], self.baselines[-1]) if self.weights else None
        tracks = {
            t: TrackStatus(t, getattr(self, t), self.tasks.get(t, 0), self.tasks.get(t, 0) if getattr(self, t) else 0)
            for t in ("stable", "canary", "baseline")
        }
        return Status("fake", "fake", self.url, True, split, tracks)

    def deploy_track(
        self, track: str, version: str, faults: Any = None, labels: dict[str, str] | None = None, timeout: float = 300.0
    ) -> None:
        from pipeline.errors import NotReady

        self.calls.append(("deploy_track", (track, version)))
        if self.fail_deploy and version == self.fail_deploy:
            raise NotReady(f"pl-x-app-{track}: 0/1 tasks healthy after {timeout:.0f} s")
        setattr(self, track, version)
        self.tasks.setdefault(track, 1)

    def label_track(self, track: str, add: dict[str, str], remove: tuple[str, ...] = ()) -> None:
        self.calls.append(("label_track", (track, add)))

    def acquire_lock(self, info: Any) -> None:
        from pipeline.errors import Locked

        if self.lock is not None:
            raise Locked(f"locked by {self.lock.describe()}")
        self.calls.append(("acquire_lock", (info.reason,)))
        self.lock = info

    def release_lock(self) -> None:
        self.calls.append(("release_lock", ()))
        self.lock = None

    def read_lock(self) -> Any:
        return self.lock

    def deploy_tracks(self, plans: list[Any], timeout: float = 300.0) -> None:
        from pipeline.errors import NotReady

        for plan in plans:
            self.calls.append(("deploy_track", (plan.track, plan.version)))
            if self.fail_deploy and plan.track == "canary" and plan.version == self.fail_deploy:
                raise NotReady(f"pl-x-app-canary: 0/1 tasks healthy after {timeout:.0f} s")
            setattr(self, str(plan.track), plan.version)
            self.tasks[str(plan.track)] = plan.replicas or 1

    def readiness(self, tracks: tuple[str, ...]) -> list[Any]:
        from pipeline.targets.base import TaskReadiness

        self.calls.append(("readiness", tracks))
        out = []
        for track in tracks:
            if getattr(self, track, None) is None:
                continue
            for i in range(self.tasks.get(track, 1)):
                bad = self.unready is not None and self.unready(track, i)
                body = '{"status": "unavailable", "failed": ["fault"]}' if bad else '{"status": "ok"}'
                out.append(TaskReadiness(track, f"{track}-task{i}", 503 if bad else 200, body))
        return out

    def set_weights(self, weights: object, lease_until: float | None = None) -> None:
        canary = int(getattr(weights, "canary", 0))
        baseline = int(getattr(weights, "baseline", 0))
        self.calls.append(("set_weights", (canary, lease_until)))
        self.weights.append(canary)
        self.baselines.append(baseline)

    def remove_track(self, track: object, wait: bool = True) -> None:
        self.calls.append(("remove_track", (track,)))
        setattr(self, str(track), None)

    def renew_lease(self, until: float | None) -> None:
        self.calls.append(("renew_lease", (until,)))

    def take_command(self) -> str | None:
        return self.commands.pop(0) if self.commands else None

    def promote(self, version: str, previous: str | None) -> None:
        self.calls.append(("promote", (version, previous)))
        self.stable, self.canary = version, previous
        self.weights.append(0)
        self.baselines.append(0)

    def settle(self, probes: list[Any] | None = None) -> bool:
        """A hand-over settles after ``handover_ticks`` calls (0: the promotion settles at once)."""
        self.calls.append(("settle", () if probes is None else ("probed",)))
        if self.handover_ticks > 0:
            self.handover_ticks -= 1
            return False
        return True

    def revert_to_previous(self, previous: str) -> None:
        self.calls.append(("revert_to_previous", (previous,)))
        self.stable, self.canary = previous, None
        self.weights.append(0)
        self.baselines.append(0)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@dataclass
class SyntheticTraffic:
    """A metrics source that makes up edge-log records as the clock moves.

    ``rate`` requests per second split by the target's current canary weight; each
    track has an error share and a latency (ms, with seeded jitter). Deterministic.
    """

    target: FakeCanaryTarget
    rate: float = 100.0
    canary_errors: float = 0.0
    stable_errors: float = 0.0
    canary_ms: float = 20.0
    stable_ms: float = 20.0
    seed: int = 7
    burst: tuple[float, float, float] | None = None  # (from, until, ms): burst_track's latency meanwhile, clock time
    burst_track: str = "canary"
    unread_logs: tuple[str, ...] = ()  # edge logs that "cannot be read" (the swarm kind's silent edge)
    wrong_version: dict[str, str] = field(default_factory=dict)  # track -> the version that "really" answers
    baseline_ms: float | None = None  # the baseline's latency (default: stable's; a cold start can differ)
    write_share: float = 0.0  # share of the requests that are POST /api/notes (the rest GET /api/notes): routes
    write_errors: dict[str, float] = field(default_factory=dict)  # track -> share of its writes that fail

    def _shares(self) -> list[tuple[str, float, float, float]]:
        weight = self.target.weights[-1] if self.target.weights else 0
        baseline = self.target.baselines[-1] if self.target.baselines else 0
        return [
            ("canary", weight / 100, self.canary_errors, self.canary_ms),
            ("baseline", baseline / 100, self.stable_errors, self.stable_ms if self.baseline_ms is None else self.baseline_ms),
            ("stable", 1 - (weight + baseline) / 100, self.stable_errors, self.stable_ms),
        ]

    def served(self, start: float, end: float) -> dict[str, dict[str, int]]:
        """Requests per track and the version the target runs there (``wrong_version`` answers instead, if set)."""
        seconds = max(0.0, end - start)
        out: dict[str, dict[str, int]] = {}
        for track, share, _, _ in self._shares():
            n = int(self.rate * share * seconds)
            if n:
                version = self.wrong_version.get(track) or str(getattr(self.target, track, "") or "")
                out[track] = {version: n}
        return out

    def unread(self) -> list[str]:
        return list(self.unread_logs)

    def findings(self) -> list[Any]:
        return []

    def windows(self, spans: list[tuple[float, float]]) -> list[dict[str, object]]:
        return [self.window(start, end) for start, end in spans]

    def window(self, start: float, end: float) -> dict[str, object]:
        import random

        from pipeline.analysis.window import TrackWindow

        rng = random.Random(f"{self.seed}-{start:.3f}-{end:.3f}")
        seconds = max(0.0, end - start)
        out: dict[str, object] = {}
        for track, share, errors, ms in self._shares():
            n = int(self.rate * share * seconds)
            failed = sum(1 for _ in range(n) if rng.random() < errors)
            slow = 0
            if track == self.burst_track and self.burst is not None and seconds > 0:
                overlap = max(0.0, min(end, self.burst[1]) - max(start, self.burst[0]))
                slow = int((n - failed) * overlap / seconds)
            latencies = tuple(
                max(0.1, rng.gauss(m, m * 0.1)) for m in [self.burst[2] if self.burst else ms] * slow + [ms] * (n - failed - slow)
            )
            out[track] = TrackWindow(track, n, failed, latencies)
            if self.write_share:
                out[track] = self._with_routes(out[track], rng)
        return out

    def _with_routes(self, window: Any, rng: Any) -> Any:
        """The window split into POST and GET /api/notes; ``write_errors[track]`` of the writes fail too."""
        from pipeline.analysis.window import TrackWindow

        n, writes = window.requests, int(window.requests * self.write_share)
        read_errors = min(window.errors, n - writes)
        post_errors = window.errors - read_errors
        post_errors += sum(1 for _ in range(writes - post_errors) if rng.random() < self.write_errors.get(window.track, 0.0))
        timed = list(window.latencies_ms)
        rng.shuffle(timed)
        post_timed, get_timed = timed[: writes - post_errors], timed[writes - post_errors : n - post_errors - read_errors]
        routes = {
            "POST /api/notes": TrackWindow(window.track, writes, post_errors, tuple(post_timed)),
            "GET /api/notes": TrackWindow(window.track, n - writes, read_errors, tuple(get_timed)),
        }
        return TrackWindow(window.track, n, post_errors + read_errors, tuple(post_timed + get_timed), routes)
