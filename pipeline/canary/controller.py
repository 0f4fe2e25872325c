"""The canary controller: a state machine with the clock, the metrics and the target injected.

::

    deploy canary (+ baseline: the stable version afresh, same size) --(unhealthy)--> ROLLED_BACK
         |  every task answers the readiness path --(not within readiness_timeout)--> ROLLED_BACK
    step i: set weight (canary and baseline each get it), hold, analyse canary vs baseline every tick
         |  (a canary task that stops being ready, or a significant error excess: at once)
         |  --FAIL--> rollback: weights 0 at once, canary and baseline removed
         |  insufficient data -> extend (bounded) -> still insufficient -> rollback
         |  pass -> [perf gate at this step, if the policy asks: fail/error -> rollback]
         |  -> step i+1 ... last step passed (or operator promote) -> promote
    promote: the canary's own tasks become stable (scaled to stable's size, then one swap at the edge);
             the previous release stays warm, at weight 0, on the other slot
    bake: watch the new stable for bake_seconds --FAIL (or the operator's rollback)--> swap back to
          the warm previous release -> the warm previous release is removed
          (a latency limit crossed: a fresh window with the previous release beside the new stable,
          task for task as loaded; crossed by both, it is the host's and the weight goes back to 0)
         -> the edge log confirms who served since the switch (a mismatch: FAILED) -> PROMOTED

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

from pipeline.analysis.checks import CheckResult, Verdict, absolute, analyse, overall
from pipeline.analysis.routes import route_errors, route_latency
from pipeline.analysis.source import MetricsSource
from pipeline.analysis.window import TrackWindow
from pipeline.canary.decide import (
    OPERATOR,
    Action,
    BakePosition,
    Decision,
    Position,
    decide,
    decide_bake,
    streaks_after,
)
from pipeline.canary.probe import Answer, InlineProbes, Probes
from pipeline.edge import Weights
from pipeline.environment.model import Canary, Faults
from pipeline.errors import PipelineError
from pipeline.targets.base import TaskReadiness, TrackPlan, readiness_gap


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class CanaryTarget(Protocol):
    """What the controller needs of a target."""

    def deploy_tracks(self, plans: list[TrackPlan], timeout: float = 300.0) -> None:
        """Start every planned track at once and wait until all of them are healthy."""

    def readiness(self, tracks: tuple[str, ...]) -> list[TaskReadiness]:
        """What every task of these tracks answers on the app's readiness path, now."""
        ...

    def set_weights(self, weights: Weights, lease_until: float | None = None) -> None: ...

    def remove_track(self, track: Any, wait: bool = True) -> None: ...

    def renew_lease(self, until: float | None) -> None: ...

    def take_command(self) -> str | None: ...

    def promote(self, version: str, previous: str | None) -> None: ...

    def revert_to_previous(self, previous: str) -> None: ...

    def settle(self, probes: list[TaskReadiness] | None = None) -> bool:
        """After a promotion that handed over: True once all traffic is on the new stable (with
        ``probes``, a fresh answer of stable's tasks, the target need not probe them itself)."""
        ...


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
    FAILED = "failed"  # e.g. the edge log shows another version serving than the one promoted


@dataclass
class Result:
    outcome: Outcome
    reason: str
    canary_started: float | None = None  # first time the canary got traffic
    weight_zero: float | None = None  # when the canary's weight went back to 0 (rollback/abort)
    steps_passed: int = 0
    timeline: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    verified: dict[str, Any] | None = None  # who served since the last switch, read from the edge log

    @property
    def seconds_to_zero(self) -> float | None:
        if self.canary_started is None or self.weight_zero is None:
            return None
        return self.weight_zero - self.canary_started


Record = Callable[[str, dict[str, Any]], None]

# the bake reads the log (and with it an operator's rollback) twice as often as a step: a rollback
# there is a swap back to the warm previous release, and waiting a whole tick for it is most of it
BAKE_TICK = 0.5
READINESS_EVERY = 2.0  # seconds between readiness probes of the judged tracks during the walk and the bake
NOT_READY_STREAK = 2  # consecutive probes a task must fail before it fails the step (one can be a blip)
PROMOTE_SECONDS = 180.0  # how long a promotion may take (scaling the canary to stable's size) with the split held


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
        readiness_path: str = "/readyz",
        probes: Probes | None = None,
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
        # canary and baseline run this many tasks for the whole walk, all started (and ready) before any traffic
        self.tasks = policy.release_tasks(self.stable_replicas, self.canary_replicas)
        self.gate = gate
        self.readiness_path = readiness_path
        # readiness probes during the steps and the bake (answered on a later tick: BackgroundProbes)
        self.probes = probes if probes is not None else InlineProbes(target.readiness)
        self.result: Result | None = None
        self.weight = 0
        self.baseline = False  # set by run(): is a baseline judged beside the canary?
        self._not_ready: dict[str, int] = {}  # task -> consecutive failed probes
        self._promoted_at = 0.0
        self._settled_at: float | None = None  # when all traffic was on the new stable (after a hand-over)
        self._probed_at = -math.inf  # when the last readiness probe was asked
        self._judged_at = -math.inf  # the last answer judged for readiness was asked then
        self._reference_walk: TrackWindow | None = None  # the reference over the walk, kept for the bake
        self._latency_since = -math.inf  # route latency is judged from here: before it, a burst was forgiven
        self._forgiven: set[str] = set()  # latency checks a fresh window cleared at an earlier step (decide.repeated)
        self._beside_until = -math.inf  # when the previous release last served beside the new stable in the bake

    @property
    def against(self) -> str:
        """The track the canary is compared with."""
        return "baseline" if self.baseline else "stable"

    @property
    def judged(self) -> tuple[str, ...]:
        return ("canary", "baseline") if self.baseline else ("canary",)

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
        try:
            return self._run(version, previous, faults, labels, start_step, deploy)
        finally:
            self.probes.close()

    def _run(
        self,
        version: str,
        previous: str | None,
        faults: Faults | None,
        labels: dict[str, str] | None,
        start_step: int,
        deploy: bool,
    ) -> Result:
        self.result = Result(Outcome.ABORTED, "did not finish")
        self.baseline = self.policy.compare_with == "baseline" and previous is not None
        plans = []
        if deploy:
            plans.append(TrackPlan("canary", version, faults, labels, self.tasks))
        if self.baseline:  # on resume too: starting it again is a no-op when it runs
            plans.append(TrackPlan("baseline", previous or "", self.stable_faults, labels, self.tasks))
        if plans:
            what = " and ".join(f"{p.track} {p.version}" for p in plans)
            self._emit("phase", {"phase": f"starting {what}", "version": version, "tasks": self.tasks})
            try:
                self.target.deploy_tracks(plans)
            except PipelineError as exc:
                return self._rollback(f"the canary never became healthy: {exc.message}", weight_was_zero=True)
            not_ready = self._await_ready()
            if not_ready is not None:
                return self._rollback(not_ready, weight_was_zero=True)
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

    def _next_tick(self, began: float, tick: float | None = None) -> None:
        """Sleep until one tick after ``began`` (the last tick's start): its work (reading the log,
        probing) counts toward the tick, so a step of 10 s holds 10 s, not 10 ticks plus their work."""
        tick = self.tick if tick is None else tick
        spent = self.clock.now() - began
        self.clock.sleep(tick if spent < 0 else max(0.0, tick - spent))

    # --- readiness -----------------------------------------------------------------
    def _await_ready(self) -> str | None:
        """Bounded wait until every task of the judged tracks answers the readiness path; else why not."""
        deadline = self.clock.now() + self.policy.readiness_timeout_seconds
        while True:
            probes = self.target.readiness(self.judged)
            gaps = [(t, gap) for t in self.judged if (gap := readiness_gap(probes, t, self.tasks, self.readiness_path))]
            if not gaps:
                self._emit("ready", {"tracks": list(self.judged), "tasks": self.tasks, "path": self.readiness_path})
                return None
            if self.clock.now() >= deadline:
                track, why = gaps[0]
                whose = "the canary" if track == "canary" else f"the {track}"
                return f"{whose} was not ready after {self.policy.readiness_timeout_seconds:g} s: {why}"
            self.clock.sleep(self.tick)

    def _probe(self, tracks: tuple[str, str], every: float, since: float) -> Answer | None:
        """Ask for a probe of ``tracks`` when the last was asked ``every`` s ago (or the clock jumped
        back) and none is out; the answer that came back, if it was asked of these tracks since ``since``."""
        now = self.clock.now()
        if (now - self._probed_at >= every or now < self._probed_at) and not self.probes.out:
            self._probed_at = now
            self.probes.ask(tracks, now)
        answer = self.probes.answered()
        if answer is None or answer.tracks != tracks or answer.asked < since:
            return None  # none back yet, or one asked before this phase (of tasks that may be gone)
        return answer

    def _readiness_check(self, answer: Answer | None) -> CheckResult | None:
        """An answer at least ``READINESS_EVERY`` s after the last judged one: a task of
        ``answer.tracks[0]`` that fails the readiness path in ``NOT_READY_STREAK`` such answers in a
        row fails the step, unless ``answer.tracks[1]`` (its reference) is not ready either: then
        nothing is the release's doing (the database is away, say)."""
        if answer is None or (answer.asked - self._judged_at < READINESS_EVERY and answer.asked >= self._judged_at):
            return None
        self._judged_at = answer.asked
        judged, reference = answer.tracks[0], answer.tracks[1]
        probes = answer.probes
        failing = [p for p in probes if p.track == judged and not p.ready]
        self._not_ready = {p.task: self._not_ready.get(p.task, 0) + 1 for p in failing}
        lasting = [p for p in failing if self._not_ready[p.task] >= NOT_READY_STREAK]
        if not lasting:
            return CheckResult("readiness", Verdict.PASS, 0, NOT_READY_STREAK, f"every {judged} task is ready")
        if any(p.track == reference and not p.ready for p in probes):
            detail = f"{lasting[0].describe(self.readiness_path)}; {reference} is not ready either: not the release's doing"
            return CheckResult("readiness", Verdict.PASS, len(lasting), NOT_READY_STREAK, detail)
        detail = lasting[0].describe(self.readiness_path) + f" ({self._not_ready[lasting[0].task]} probes in a row)"
        return CheckResult("readiness", Verdict.FAIL, len(lasting), NOT_READY_STREAK, detail)

    def _step(self, index: int) -> Decision:
        weight = self.policy.steps[index]
        self._set_weight(weight)
        self._emit("step", {"step": index + 1, "weight": weight})
        start = self.clock.now()
        extensions = 0
        confirmations = 0
        streaks: dict[str, int] = {}
        last_renew = start
        readiness: CheckResult | None = None
        now = start
        while True:
            self._next_tick(now)
            now = self.clock.now()
            if now < start:  # the clock jumped back: restart the hold, keep the data rule
                self._emit("clock", {"jump_seconds": round(now - start, 3)})
                start = now
                last_renew = now
            # a step that is due most likely ends at this tick, and its weight change renews the lease
            # anyway: no renewal and no new probe (both would run beside the reload) unless it waits on
            due = now - start >= self.policy.step_seconds
            last_renew = self._hold_split(now, last_renew, self.lease_seconds / 2 if due else None)
            command = self.target.take_command()
            every = 2 * READINESS_EVERY if due else READINESS_EVERY
            readiness = self._readiness_check(self._probe(("canary", self.against), every, -math.inf)) or readiness
            windows, *walks = self.source.windows(self._spans(start, now))
            results = analyse(windows["canary"], windows[self.against], self.policy.thresholds, self.against)
            results += self._walk_checks(walks, windows if confirmations else None)
            if readiness is not None:
                results.append(readiness)
            results += self._edge_logs_check()
            verdict = overall(results)
            self._snapshot(now, windows)
            at = Position(index, now - start, extensions, confirmations, streaks, frozenset(self._forgiven))
            decision = decide(self.policy, at, verdict, results, command)
            if decision.action == Action.WAIT:
                continue
            self._emit(
                "verdict",
                {
                    "step": index + 1,
                    "weight": weight,
                    "against": self.against,
                    "verdict": verdict.value,
                    "checks": [r.as_dict() for r in results],
                },
            )
            self._emit("decision", {"action": decision.action.value, "reason": decision.reason})
            if decision.action == Action.EXTEND:
                extensions += 1
                continue
            if decision.action == Action.CONFIRM:  # a fresh window: the failed one is not counted twice
                confirmations += 1
                streaks = streaks_after(streaks, results)
                start = now
                continue
            if confirmations:  # a fresh window cleared a latency failure: the burst before it is forgiven
                self._latency_since = start
                self._forgiven.update(streaks)  # ... once: the same test failing again at a later step counts
            if decision.action in (Action.NEXT, Action.PROMOTE) and weight == self.policy.perf_gate_at and not command:
                return self._run_gate(index, weight) or decision
            return decision

    def _spans(self, start: float, now: float) -> list[tuple[float, float]]:
        """The windows a tick of the walk reads: the step's (or the fresh one's), the walk since the
        canary's first traffic, and the walk since a forgiven latency burst when there was one."""
        assert self.result is not None
        since = self.result.canary_started if self.result.canary_started is not None else start
        spans = [(start, now), (since, now)]
        if self._latency_since > since:
            spans.append((self._latency_since, now))
        return spans

    def _walk_checks(self, walks: list[dict[str, TrackWindow]], fresh: dict[str, TrackWindow] | None) -> list[CheckResult]:
        """The route checks over every request since the canary's first traffic (a fresh window,
        after a latency failure, must show it again beside the reference's fresh window); the
        reference's walk is kept for the bake."""
        walk, slow = walks[0], walks[-1]
        self._reference_walk = walk[self.against]
        t = self.policy.thresholds
        return [
            route_errors(walk["canary"], walk[self.against], t, self.against),
            route_latency(
                slow["canary"],
                slow[self.against],
                t,
                self.against,
                fresh=fresh["canary"] if fresh else None,
                fresh_reference=fresh[self.against] if fresh else None,
            ),
        ]

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
        weights = Weights(weight, weight if self.baseline else 0)
        self.target.set_weights(weights, lease_until=self.clock.now() + self.lease_seconds if weight else None)
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
        zero = self.clock.now()
        self._emit("phase", {"phase": "removing " + " and ".join(self.judged)})
        for track in self.judged:
            self.target.remove_track(track)
        self.result.outcome = outcome
        self.result.reason = reason
        if not weight_was_zero:
            mismatch = self._verify(zero, "stable", None)
            if mismatch:
                self.result.reason += f"; and {mismatch}"
        self._emit("outcome", {"outcome": outcome.value, "reason": reason, "seconds_to_zero": self.result.seconds_to_zero})
        return self.result

    def abort(self, reason: str) -> Result:
        """For an interrupted run (Ctrl-C, an error): stop the split now."""
        if self.result is None:
            self.result = Result(Outcome.ABORTED, reason)
        return self._stop(Outcome.ABORTED, reason)

    def _promote(self, version: str, previous: str | None, reason: str) -> Result:
        """The canary's tasks become stable (the target swaps them in: no second rollout of the same
        version), the previous release stays warm at weight 0 through the bake, then goes."""
        assert self.result is not None
        self._emit("phase", {"phase": "promoting", "version": version})
        if self.weight:  # the target may first scale the canary to stable's size: the split stays held meanwhile
            self.target.renew_lease(self.clock.now() + self.lease_seconds + PROMOTE_SECONDS)
        began = self.clock.now()
        self.target.promote(version, previous)
        self.weight = 0
        promoted = self.clock.now()
        self._promoted_at = promoted
        self._settled_at = promoted if self.target.settle() else None
        self._emit(
            "promoted",
            {
                "version": version,
                "previous": previous,
                "seconds": round(promoted - began, 1),
                "handover": self._settled_at is None,
            },
        )
        if previous is not None and self.policy.bake_seconds > 0:
            regression = self._bake()
            if regression is not None:
                self._emit("phase", {"phase": "reverting to the previous release", "version": previous})
                asked = self.clock.now()
                self.target.revert_to_previous(previous)
                reverted = self.clock.now()
                self._emit("reverted", {"version": previous, "seconds": round(reverted - asked, 1)})
                self.result.outcome = Outcome.ROLLED_BACK
                if regression.startswith(OPERATOR):
                    self.result.reason = f"{regression}: reverted to {previous}"
                else:
                    self.result.reason = f"regression after promotion, reverted to {previous}: {regression}"
                mismatch = self._verify(reverted, "stable", previous)
                if mismatch:
                    self.result.reason += f"; and {mismatch}"
                self._emit("outcome", {"outcome": self.result.outcome.value, "reason": self.result.reason})
                return self.result
            self.target.remove_track("canary", wait=False)  # it drains at weight 0; nothing waits for it
        else:
            if self.baseline:
                self.target.remove_track("baseline", wait=False)
            unsettled = self._await_settled(self.clock.now() + PROMOTE_SECONDS)
            if unsettled is not None:
                return self._stop(Outcome.FAILED, f"promoted, but {unsettled}")
        mismatch = self._verify(max(self._settled_at or promoted, self._beside_until), "stable", version)
        self.result.outcome = Outcome.FAILED if mismatch else Outcome.PROMOTED
        self.result.reason = f"promoted, but {mismatch}" if mismatch else reason
        self._emit("outcome", {"outcome": self.result.outcome.value, "reason": self.result.reason})
        return self.result

    def _verify(self, since: float, track: str, version: str | None) -> str | None:
        """Read from live traffic who served since a switch: every request that arrived after ``since``
        went to ``track`` (and, when given, was answered by ``version``). A mismatch is returned as a
        reason; the count and share go to the result and the journal."""
        assert self.result is not None
        now = self.clock.now()
        if now - since < self.tick:  # give the switch a moment of traffic
            self.clock.sleep(self.tick)
            now = self.clock.now()
        served = self.source.served(since, now)
        if served is None:
            self.result.verified = {"verifiable": False, "track": track, "expected": version}
            self._emit("verify", self.result.verified)
            return None
        total = sum(sum(per.values()) for per in served.values())
        # a request that no upstream answered carries no version: it is judged by the error checks
        answered = {t: {v: n for v, n in per.items() if v} for t, per in served.items()}
        matching = sum(n for v, n in answered.get(track, {}).items() if version is None or v == version)
        others = {f"{t}:{v}": n for t, per in answered.items() for v, n in per.items() if t != track or version not in (None, v)}
        counted = matching + sum(others.values())
        self.result.verified = {
            "verifiable": True,
            "track": track,
            "expected": version,
            "since": since,
            "seconds": round(now - since, 1),
            "requests": total,
            "matching": matching,
            "share": round(matching / counted, 4) if counted else None,
            "others": others,
        }
        self._emit("verify", self.result.verified)
        if not others:
            return None
        shown = ", ".join(f"{n} by {k}" for k, n in sorted(others.items(), key=lambda kv: -kv[1])[:3])
        expected = f"{track} {version}" if version else track
        return (
            f"the edge log shows {sum(others.values())} of {counted} requests since the switch not served by {expected} ({shown})"
        )

    def _edge_logs_check(self) -> list[CheckResult]:
        """An edge whose log cannot be read (or a Prometheus that does not answer, when the judge
        reads it) served requests nobody judged: never a pass (a walk's step or a bake with one ends
        in a rollback for insufficient data). Then the source's own findings (``sources_agree``)."""
        unread = self.source.unread()
        findings = self.source.findings()
        if not unread:
            return findings
        logs = [name for name in unread if name != "prometheus"]
        seen = ([f"the log of {', '.join(logs)}"] if logs else []) + (["Prometheus"] if "prometheus" in unread else [])
        detail = f"{' and '.join(seen)} could not be read: what it served is unseen"
        return [CheckResult("edge_logs", Verdict.INSUFFICIENT, len(unread), 0, detail), *findings]

    def _bake(self) -> str | None:
        """Watch the new stable alone against the absolute thresholds; the previous release stays warm.

        As in a step (``decide_bake``): significance-tested error checks (and a new stable task that
        stops being ready while the warm previous release is) act at once, from the promotion on;
        latency is judged from the end of a hand-over (the added tasks start cold meanwhile) over
        the rest of the ``bake_seconds``, at least a step's length of it, and a latency failure
        must show again in a fresh window. A hand-over that has not settled ``bake_seconds`` + the
        lease after the promotion fails the bake.

        The bake has no reference beside the new stable, so a host that turns slow in it would look
        like the release's fault. A fresh window after a latency failure therefore gives the warm
        previous release a share of traffic (as much per task as the new stable's: ``_beside_share``)
        and judges the two side by side, as a step judges canary and baseline: an absolute limit the
        previous release crosses too is the host's, and a new stable slower than it still fails.
        The share goes back to 0 when the bake passes (the live traffic is verified from then).
        """
        start = baked_from = self.clock.now()
        confirmations = 0
        streaks: dict[str, int] = {}
        self._not_ready = {}
        self._probed_at = self._judged_at = -math.inf
        readiness: CheckResult | None = None
        ready: list[TaskReadiness] = []  # the last probe's answers (how many tasks each release has ready)
        beside = 0  # the previous release's share while it serves beside the new stable
        self._emit("phase", {"phase": "baking", "seconds": self.policy.bake_seconds})
        if self.baseline:  # at weight 0 since the promotion; it goes while the new stable is watched
            self.target.remove_track("baseline", wait=False)
        now = start
        last_renew = start
        while True:
            self._next_tick(now, min(self.tick, BAKE_TICK))
            now = self.clock.now()
            if now < start:
                start = now
            settled = self._settled_at is not None
            if not settled:  # a hand-over: the previous release still carries a share
                last_renew = self._hold_split(now, last_renew)
                if now - self._promoted_at >= self.policy.bake_seconds + self.lease_seconds:
                    return self._unsettled(now)
            elif beside:  # the previous release's share is held by a lease, as a step's
                last_renew = self._hold_split(now, last_renew)
            # latency is judged from the end of a hand-over: until then the new stable's added tasks
            # start cold (on a busy host, slowly) while the previous release still carries a share;
            # errors and readiness are judged from the promotion on. The bake still ends
            # bake_seconds after the promotion, given at least a step's worth of settled traffic.
            judged_from = max(start, self._settled_at or start) if settled else now
            enough = settled and now - judged_from >= min(self.policy.bake_seconds, self.policy.step_seconds)
            # the judged window (a fresh one after a confirmation) and, route by route, the whole bake
            spans = [(judged_from, now)] if judged_from == baked_from else [(judged_from, now), (baked_from, now)]
            windows, *rest = self.source.windows(spans)  # the read also sees an operator's command
            bake = rest[0] if rest else windows
            command = self.target.take_command()
            if command is None:  # a command is acted on now; probes and the hand-over wait a tick
                # the new stable's tasks (and the warm previous release's), probed off the loop: once
                # a tick during a hand-over (each answer may settle it), else every READINESS_EVERY s
                answer = self._probe(("stable", "canary"), READINESS_EVERY if settled else self.tick, self._promoted_at)
                if answer is not None:
                    ready = answer.probes
                    if not settled:
                        self._try_settle(answer.probes)
                readiness = self._readiness_check(answer) or readiness
            previous = (windows.get("canary") or TrackWindow("canary")) if beside else None
            results = self._bake_checks(windows["stable"], bake["stable"], readiness, previous) + self._edge_logs_check()
            self._snapshot(now, windows if settled else bake)
            share = beside or (_beside_share(ready) if settled else 0)
            at = BakePosition(now - start if enough else 0.0, confirmations, streaks, share)
            decision = decide_bake(self.policy, at, results, command)
            if decision.action == Action.WAIT:
                continue
            judged = command is None
            if judged and (decision.action != Action.PROMOTE or beside):  # the checks, as in a step
                checks = [r.as_dict() for r in results]
                self._emit("verdict", {"step": "bake", "weight": 0, "verdict": overall(results).value, "checks": checks})
            if not judged or decision.action != Action.PROMOTE:  # a bake that passed says so in its "bake" event
                self._emit("decision", {"action": decision.action.value, "reason": decision.reason})
            if decision.action == Action.CONFIRM:
                confirmations += 1
                streaks = streaks_after(streaks, results)
                if share and not beside:  # the fresh window starts once the edge sends the share
                    beside = self._serve_beside(share, decision.reason)
                    last_renew = now = self.clock.now()
                start = now
                continue
            if decision.action == Action.ROLLBACK:
                return decision.reason  # the revert swaps back: the previous release takes it all
            break
        if beside:
            self._serve_beside(0, "the bake passed")
        unsettled = self._await_settled(self.clock.now() + self.lease_seconds)
        if unsettled is not None:
            return unsettled
        self._emit("bake", {"seconds": self.policy.bake_seconds, "verdict": "pass", **({"beside": beside} if beside else {})})
        return None

    def _bake_checks(
        self, window: TrackWindow, bake: TrackWindow, readiness: CheckResult | None, previous: TrackWindow | None = None
    ) -> list[CheckResult]:
        """The new stable at full traffic: its absolute limits (with what the canary's reference
        served in the walk as the measure of the host: an absolute latency limit the reference broke
        too says the host is slow, not the release) and, route by route over the whole bake, its
        errors against the reference's in the walk; readiness when a task stopped being ready.
        With the previous release serving beside it (``previous``: a fresh window after a latency
        failure), every check of a step, against the previous release over the same seconds."""
        against = f"{self.against} in the walk"
        t = self.policy.thresholds
        if previous is not None:
            results = analyse(window, previous, t, "previous")
        else:  # the relative checks would compare times apart (walk and bake): the absolute ones only
            results = absolute(window, self._reference_walk or TrackWindow("none"), t, against)
        results.append(route_errors(bake, self._reference_walk, t, against))
        if readiness is not None:
            results.append(readiness)
        return results

    def _serve_beside(self, share: int, why: str) -> int:
        """The warm previous release (on the canary's track since the promotion) takes ``share``
        percent beside the new stable, held by a lease; 0 takes it back. Returns the share."""
        now = self.clock.now()
        self.target.set_weights(Weights(share), lease_until=now + self.lease_seconds if share else None)
        self.weight = share
        if not share:
            self._beside_until = self.clock.now()
        self._emit("beside", {"share": share, "reason": why})
        return share

    def _try_settle(self, probes: list[TaskReadiness] | None = None) -> bool:
        if self._settled_at is None and self.target.settle(probes):
            self._settled_at = self.clock.now()
            self._emit("settled", {"seconds": round(self._settled_at - self._promoted_at, 1)})
        return self._settled_at is not None

    def _await_settled(self, deadline: float) -> str | None:
        """Bounded wait until the hand-over is done (all traffic on the new stable); else why not."""
        last_renew = -math.inf
        while not self._try_settle():
            now = self.clock.now()
            if now >= deadline:
                return self._unsettled(now)
            last_renew = self._hold_split(now, last_renew)
            self.clock.sleep(self.tick)
        return None

    def _unsettled(self, now: float) -> str:
        return (
            f"the new stable did not take all traffic within {now - self._promoted_at:.0f} s "
            "of the promotion (its tasks did not all answer the readiness path)"
        )

    def _hold_split(self, now: float, last_renew: float, after: float | None = None) -> float:
        """Renew the split's lease a third of the way through it (``after`` s: later, still well
        inside it), or after the clock jumped back; returns when it was last renewed."""
        if now - last_renew >= (self.lease_seconds / 3 if after is None else after) or now < last_renew:
            self.target.renew_lease(now + self.lease_seconds)
            return now
        return last_renew

    # --- reporting ---------------------------------------------------------------
    def _snapshot(self, now: float, windows: dict[str, TrackWindow]) -> None:
        self._emit("snapshot", {"t": now, "weight": self.weight, "tracks": {k: w.as_dict() for k, w in windows.items()}})

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.result is not None:
            self.result.timeline.append((self.clock.now(), kind, data))
        self.record(kind, data)


def _beside_share(probes: list[TaskReadiness]) -> int:
    """The share of traffic that loads the previous release's ready tasks as much, task for task, as
    the new stable's (2 and 2: 50 %); 0 when either has none ready (no fair reference then)."""
    new = sum(1 for p in probes if p.track == "stable" and p.ready)
    old = sum(1 for p in probes if p.track == "canary" and p.ready)
    if not new or not old:
        return 0
    return max(1, min(99, round(100 * old / (old + new))))
