"""The canary controller: a state machine with the clock, the metrics and the target injected.

::

    deploy canary --(unhealthy)--> ROLLED_BACK
         |
    step i: set weight, hold, analyse every tick --FAIL--> rollback: weight 0 at once, canary removed
         |  insufficient data -> extend (bounded) -> still insufficient -> rollback
         |  pass -> [perf gate at this step, if the policy asks: fail/error -> rollback]
         |  -> step i+1 ... last step passed (or operator promote) -> promote
    promote: stable <- new version, weight 0, previous release kept warm on the canary track
    bake: watch the new stable for bake_seconds --FAIL--> revert to the warm previous release
         -> PROMOTED

Every transition is reported to ``record(kind, data)`` (the journal and the live view).
While a split is live the controller renews a lease on the target; if the controller
dies, the target's watchdog sets the canary weight back to 0 when the lease runs out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from pipeline.analysis.checks import Verdict, analyse, overall
from pipeline.analysis.source import MetricsSource
from pipeline.analysis.window import TrackWindow
from pipeline.canary.decide import EARLY_CHECKS, Action, Decision, Position, decide
from pipeline.edge import Weights
from pipeline.environment.model import Canary, Faults
from pipeline.errors import PipelineError


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class CanaryTarget(Protocol):
    """What the controller needs of a target."""

    def deploy_track(
        self, track: Any, version: str, faults: Faults | None = None, labels: dict[str, str] | None = None, timeout: float = 300.0
    ) -> None: ...

    def set_weights(self, weights: Weights, lease_until: float | None = None) -> None: ...

    def remove_track(self, track: Any) -> None: ...

    def scale_track(self, track: Any, replicas: int) -> None: ...

    def renew_lease(self, until: float | None) -> None: ...

    def take_command(self) -> str | None: ...

    def promote(self, version: str, previous: str | None) -> None: ...

    def revert_to_previous(self, previous: str) -> None: ...


class GateVerdict(Protocol):
    @property
    def passed(self) -> bool: ...

    @property
    def reason(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


class Gate(Protocol):
    """A gate run at a step (the perf gate's canary-vs-stable k6 run)."""

    seconds: float

    def __call__(self) -> GateVerdict: ...


class Outcome(StrEnum):
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"


@dataclass
class Result:
    outcome: Outcome
    reason: str
    canary_started: float | None = None  # first time the canary got traffic
    weight_zero: float | None = None  # when the canary's weight went back to 0 (rollback/abort)
    steps_passed: int = 0
    timeline: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def seconds_to_zero(self) -> float | None:
        if self.canary_started is None or self.weight_zero is None:
            return None
        return self.weight_zero - self.canary_started


Record = Callable[[str, dict[str, Any]], None]


class Controller:
    def __init__(
        self,
        policy: Canary,
        target: CanaryTarget,
        source: MetricsSource,
        clock: Clock,
        record: Record,
        tick: float = 1.0,
        lease_seconds: float = 15.0,
        stable_faults: Faults | None = None,
        stable_replicas: int = 1,
        canary_replicas: int = 1,
        gate: Gate | None = None,
    ) -> None:
        self.policy = policy
        self.target = target
        self.source = source
        self.clock = clock
        self.record = record
        self.tick = tick
        self.lease_seconds = lease_seconds
        self.stable_faults = stable_faults
        self.stable_replicas = max(1, stable_replicas)
        self.canary_replicas = max(1, canary_replicas)
        self.scaled_to = self.canary_replicas
        self.gate = gate
        self.result: Result | None = None
        self.weight = 0

    # --- the walk ----------------------------------------------------------------
    def run(
        self,
        version: str,
        previous: str | None,
        faults: Faults | None = None,
        labels: dict[str, str] | None = None,
        start_step: int = 0,
        deploy: bool = True,
    ) -> Result:
        self.result = Result(Outcome.ABORTED, "did not finish")
        if deploy:
            self._emit("phase", {"phase": "deploying canary", "version": version})
            try:
                self.target.deploy_track("canary", version, faults=faults, labels=labels)
            except PipelineError as exc:
                return self._rollback(f"the canary never became healthy: {exc.message}", weight_was_zero=True)
        for index in range(start_step, len(self.policy.steps)):
            decision = self._step(index)
            if decision.action == Action.NEXT:
                self.result.steps_passed = index + 1
                continue
            if decision.action == Action.PROMOTE:
                self.result.steps_passed = index + 1 if index == len(self.policy.steps) - 1 else index
                return self._promote(version, previous, decision.reason)
            if decision.action == Action.ABORT:
                return self._stop(Outcome.ABORTED, decision.reason)
            return self._rollback(decision.reason)
        return self._promote(version, previous, "all steps passed")

    def replicas_for(self, weight: int) -> int:
        """Canary tasks for a weight, so that no canary task carries more load than a stable one."""
        need = self.stable_replicas if weight >= 100 else math.ceil(self.stable_replicas * weight / (100 - weight))
        return max(self.canary_replicas, min(need, self.stable_replicas))

    def _step(self, index: int) -> Decision:
        weight = self.policy.steps[index]
        # scale for this step and the next: new tasks warm up under this step's smaller share
        following = self.policy.steps[index + 1] if index + 1 < len(self.policy.steps) else weight
        replicas = max(self.replicas_for(weight), self.replicas_for(following))
        if replicas > self.scaled_to:
            self._emit("scale", {"track": "canary", "replicas": replicas, "weight": weight})
            self.target.scale_track("canary", replicas)
            self.scaled_to = replicas
        self._set_weight(weight)
        self._emit("step", {"step": index + 1, "weight": weight})
        start = self.clock.now()
        extensions = 0
        confirmations = 0
        last_renew = start
        while True:
            self.clock.sleep(self.tick)
            now = self.clock.now()
            if now < start:  # the clock jumped back: restart the hold, keep the data rule
                self._emit("clock", {"jump_seconds": round(now - start, 3)})
                start = now
                last_renew = now
            if now - last_renew >= self.lease_seconds / 3 or now < last_renew:
                self.target.renew_lease(now + self.lease_seconds)
                last_renew = now
            command = self.target.take_command()
            windows = self.source.window(start, now)
            results = analyse(windows["canary"], windows["stable"], self.policy.thresholds)
            verdict = overall(results)
            self._snapshot(now, windows)
            decision = decide(self.policy, Position(index, now - start, extensions, confirmations), verdict, results, command)
            if decision.action == Action.WAIT:
                continue
            self._emit(
                "verdict",
                {"step": index + 1, "weight": weight, "verdict": verdict.value, "checks": [r.as_dict() for r in results]},
            )
            self._emit("decision", {"action": decision.action.value, "reason": decision.reason})
            if decision.action == Action.EXTEND:
                extensions += 1
                continue
            if decision.action == Action.CONFIRM:  # a fresh window: the failed one is not counted twice
                confirmations += 1
                start = now
                continue
            if decision.action in (Action.NEXT, Action.PROMOTE) and weight == self.policy.perf_gate_at and not command:
                return self._run_gate(index, weight) or decision
            return decision

    def _run_gate(self, index: int, weight: int) -> Decision | None:
        """The policy's gate at this step; a failure (or a gate that cannot judge) rolls back."""
        if self.gate is None:
            return Decision(Action.ROLLBACK, f"step {index + 1} ({weight}%): the policy needs a perf gate, none was given")
        # the gate holds the step longer than a lease: cover it, so the watchdog does not reset the split
        self.target.renew_lease(self.clock.now() + self.gate.seconds + self.lease_seconds)
        self._emit("phase", {"phase": f"perf gate at {weight}%", "seconds": self.gate.seconds})
        verdict = self.gate()
        self._emit("gate", {"step": index + 1, "weight": weight, **verdict.as_dict()})
        self.target.renew_lease(self.clock.now() + self.lease_seconds)
        if verdict.passed:
            return None
        return Decision(Action.ROLLBACK, f"step {index + 1} ({weight}%): perf gate: {verdict.reason}")

    # --- endings -----------------------------------------------------------------
    def _set_weight(self, weight: int) -> None:
        assert self.result is not None
        self.target.set_weights(Weights(weight), lease_until=self.clock.now() + self.lease_seconds if weight else None)
        if weight > 0 and self.result.canary_started is None:
            self.result.canary_started = self.clock.now()
        if weight == 0 and self.weight > 0:
            self.result.weight_zero = self.clock.now()
        self.weight = weight

    def _rollback(self, reason: str, weight_was_zero: bool = False) -> Result:
        return self._stop(Outcome.ROLLED_BACK, reason, weight_was_zero)

    def _stop(self, outcome: Outcome, reason: str, weight_was_zero: bool = False) -> Result:
        """Weight to 0 first, at once; then the canary is removed."""
        assert self.result is not None
        if not weight_was_zero or self.weight:
            self._set_weight(0)
        self._emit("phase", {"phase": "removing canary"})
        self.target.remove_track("canary")
        self.result.outcome = outcome
        self.result.reason = reason
        self._emit("outcome", {"outcome": outcome.value, "reason": reason, "seconds_to_zero": self.result.seconds_to_zero})
        return self.result

    def abort(self, reason: str) -> Result:
        """For an interrupted run (Ctrl-C, an error): stop the split now."""
        if self.result is None:
            self.result = Result(Outcome.ABORTED, reason)
        return self._stop(Outcome.ABORTED, reason)

    def _promote(self, version: str, previous: str | None, reason: str) -> Result:
        assert self.result is not None
        self._emit("phase", {"phase": "promoting", "version": version})
        self.target.promote(version, previous)
        self.weight = 0
        if previous is not None and self.policy.bake_seconds > 0:
            regression = self._bake()
            if regression is not None:
                self._emit("phase", {"phase": "reverting to the previous release", "version": previous})
                self.target.revert_to_previous(previous)
                self.result.outcome = Outcome.ROLLED_BACK
                self.result.reason = f"regression after promotion, reverted to {previous}: {regression}"
                self._emit("outcome", {"outcome": self.result.outcome.value, "reason": self.result.reason})
                return self.result
            self.target.remove_track("canary")
        self.result.outcome = Outcome.PROMOTED
        self.result.reason = reason
        self._emit("outcome", {"outcome": "promoted", "reason": reason})
        return self.result

    def _bake(self) -> str | None:
        """Watch the new stable alone against the absolute thresholds; the previous release stays warm.

        As in a step: significance-tested error checks act at once, latency is judged over the
        whole bake (a promotion's own rolling restart makes its first seconds slow), and with
        ``latency_windows`` > 1 a latency failure is confirmed over a fresh window first.
        """
        start = self.clock.now()
        confirmations = 0
        self._emit("phase", {"phase": "baking", "seconds": self.policy.bake_seconds})
        while True:
            self.clock.sleep(self.tick)
            now = self.clock.now()
            if now < start:
                start = now
            windows = self.source.window(start, now)
            baseline = TrackWindow("none", 0, 0, ())
            results = analyse(windows["stable"], baseline, self.policy.thresholds)
            self._snapshot(now, windows)
            held = now - start >= self.policy.bake_seconds
            failed = [r for r in results if r.verdict == Verdict.FAIL and (held or r.name in EARLY_CHECKS)]
            if failed:
                reason = "; ".join(f"{r.name}: {r.detail}" for r in failed)
                self._emit("verdict", {"step": "bake", "weight": 0, "verdict": "fail", "checks": [r.as_dict() for r in results]})
                early = any(r.name in EARLY_CHECKS for r in failed)
                if not early and confirmations + 1 < self.policy.latency_windows:
                    confirmations += 1
                    self._emit("decision", {"action": "confirm", "reason": f"bake: {reason}; measuring a fresh window"})
                    start = now
                    continue
                return reason
            if held:
                break
        self._emit("bake", {"seconds": self.policy.bake_seconds, "verdict": "pass"})
        return None

    # --- reporting ---------------------------------------------------------------
    def _snapshot(self, now: float, windows: dict[str, TrackWindow]) -> None:
        self._emit("snapshot", {"t": now, "weight": self.weight, "tracks": {k: w.as_dict() for k, w in windows.items()}})

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.result is not None:
            self.result.timeline.append((self.clock.now(), kind, data))
        self.record(kind, data)
