"""The controller end to end against fakes: clock, synthetic traffic, recording target."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from pipeline.canary.controller import Controller, Outcome
from pipeline.environment.model import Canary, Thresholds
from pipeline.testing import FakeCanaryTarget, FakeClock, SyntheticTraffic

POLICY = Canary(steps=[5, 25, 50], step_seconds=10, bake_seconds=20)


def make(
    policy: Canary = POLICY, **traffic: Any
) -> tuple[Controller, FakeCanaryTarget, FakeClock, list[tuple[str, dict[str, Any]]]]:
    target = FakeCanaryTarget(stable="v1")
    clock = FakeClock()
    events: list[tuple[str, dict[str, Any]]] = []
    source = SyntheticTraffic(target, **traffic)
    controller = Controller(policy, target, source, clock, lambda k, d: events.append((k, d)), lease_seconds=15)  # type: ignore[arg-type]
    return controller, target, clock, events


def test_good_release_walks_every_step_bakes_and_is_promoted() -> None:
    controller, target, clock, events = make()
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED
    assert result.steps_passed == 3
    assert target.weights[:3] == [5, 25, 50]
    assert target.baselines[:3] == [5, 25, 50]  # the baseline gets the canary's share at every step
    names = target.names()
    # canary and baseline (the stable version afresh) start together, are probed ready, then get traffic
    assert target.calls[:2] == [("deploy_track", ("canary", "v2")), ("deploy_track", ("baseline", "v1"))]
    assert names.index("readiness") < names.index("set_weights")
    assert ("promote", ("v2", "v1")) in target.calls
    # promotion is one swap from the last step's split: no weight change, no track removed before it
    before = [n for n in names[: names.index("promote")] if n not in ("readiness", "renew_lease")]
    assert before[-1] == "set_weights" and target.weights[2] == 50 and "remove_track" not in before
    assert target.calls[names.index("promote") - 1][0] == "renew_lease"  # the split is held while it scales
    # the baseline (at weight 0 since the swap) goes during the bake; the warm previous release after it
    assert [c for c in target.calls if c[0] == "remove_track"] == [("remove_track", ("baseline",)), ("remove_track", ("canary",))]
    assert target.stable == "v2" and target.baseline is None
    assert names[-1] == "remove_track"  # the warm previous release goes after the bake
    assert [d["step"] for k, d in events if k == "step"] == [1, 2, 3]
    assert any(k == "bake" for k, _ in events)
    assert {d["against"] for k, d in events if k == "verdict"} == {"baseline"}
    # verified from live traffic: every request since the promotion was served by stable v2
    assert result.verified is not None and result.verified["share"] == 1.0 and result.verified["expected"] == "v2"
    assert result.verified["requests"] > 1000
    # 3 steps of 10 s + 20 s of bake
    assert clock.slept == pytest.approx(50, abs=4)


def test_bad_release_is_rolled_back_within_seconds_of_the_first_step() -> None:
    controller, target, _, events = make(canary_errors=0.3)
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert "error" in result.reason
    assert target.weights == [5, 0]
    assert result.seconds_to_zero is not None and result.seconds_to_zero <= 5
    assert target.names()[-1] == "remove_track"
    assert target.canary is None
    decision = [d for k, d in events if k == "decision"][-1]
    assert decision["action"] == "rollback"


def test_slow_release_is_caught_by_latency() -> None:
    controller, target, _, _ = make(canary_ms=220.0, stable_ms=20.0)
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert "p95" in result.reason or "mann_whitney" in result.reason
    assert target.weights[-1] == 0
    # a latency failure must persist over two windows (two holds of the step) before it rolls back
    assert result.seconds_to_zero is not None and 20 <= result.seconds_to_zero <= 25


def test_release_that_dies_at_start_never_gets_traffic() -> None:
    controller, target, _, _ = make()
    target.fail_deploy = "v2"
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert "never became healthy" in result.reason
    assert all(w == 0 for w in target.weights)
    assert result.canary_started is None
    assert ("remove_track", ("canary",)) in target.calls and ("remove_track", ("baseline",)) in target.calls


def test_zero_traffic_is_insufficient_and_never_promoted() -> None:
    controller, target, clock, events = make(rate=0.0)
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert "insufficient data" in result.reason
    # the first step was held 3 times (once + 2 extensions) before giving up
    assert clock.slept == pytest.approx(30, abs=2)
    assert target.weights == [5, 0]
    assert sum(1 for k, d in events if k == "decision" and d["action"] == "extend") == 2


def test_all_errors_stable_does_not_fail_a_healthy_canary() -> None:
    policy = POLICY.model_copy(update={"thresholds": Thresholds(max_error_rate=1.0)})
    controller, _, _, _ = make(policy, stable_errors=1.0)
    assert controller.run("v2", previous="v1").outcome == Outcome.PROMOTED


def test_operator_promote_skips_the_remaining_steps() -> None:
    controller, target, _, _ = make()
    target.commands = ["promote"]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED
    assert target.weights[0] == 5 and 25 not in target.weights


def test_operator_abort_sets_weight_zero_and_removes_the_canary() -> None:
    controller, target, _, _ = make()
    target.commands = [None, None, "abort"]  # type: ignore[list-item]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ABORTED
    assert target.weights[-1] == 0
    assert target.canary is None


def test_regression_during_bake_reverts_to_the_warm_previous_release() -> None:
    controller, target, _, _ = make()
    original = target.promote

    def promote_then_break(version: str, previous: str | None) -> None:
        original(version, previous)
        controller.source.stable_errors = 0.5  # type: ignore[attr-defined]

    target.promote = promote_then_break  # type: ignore[method-assign]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert "regression after promotion" in result.reason
    assert ("revert_to_previous", ("v1",)) in target.calls
    assert target.stable == "v1"


def test_the_operator_rolls_back_during_the_bake_through_the_running_controller() -> None:
    controller, target, _, events = make()
    original = target.promote

    def promote_then_ask(version: str, previous: str | None) -> None:
        original(version, previous)
        target.commands = [None, None, None, "rollback"]  # type: ignore[list-item]  # `pipeline rollback`, 4 s in

    target.promote = promote_then_ask  # type: ignore[method-assign]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert result.reason.startswith("rolled back by the operator during the bake")
    assert result.reason.endswith("reverted to v1")
    assert ("revert_to_previous", ("v1",)) in target.calls and target.stable == "v1"
    reverted = [d for k, d in events if k == "reverted"]
    assert reverted and reverted[0]["version"] == "v1"
    assert not any(k == "bake" for k, _ in events)  # the bake did not run to its end
    # verified from live traffic: what came after the swap back was served by stable v1
    assert result.verified is not None and result.verified["expected"] == "v1"


def test_an_operator_promote_during_the_bake_ends_it() -> None:
    controller, target, clock, _ = make()
    original = target.promote

    def promote_then_ask(version: str, previous: str | None) -> None:
        original(version, previous)
        target.commands = ["promote"]

    target.promote = promote_then_ask  # type: ignore[method-assign]
    start = clock.t
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED
    assert clock.t - start < 40  # 3 steps of 10 s, then the bake ends at once (it would be 20 s more)
    assert ("remove_track", ("canary",)) in target.calls


def test_a_slow_start_after_promotion_is_judged_over_the_whole_bake() -> None:
    """The promotion's rolling restart makes the new stable's first seconds slow: not a regression."""
    controller, target, clock, events = make()
    original = target.promote

    def promote_slowly(version: str, previous: str | None) -> None:
        original(version, previous)
        controller.source.burst = (clock.t, clock.t + 0.6, 900.0)  # type: ignore[attr-defined]
        controller.source.burst_track = "stable"  # type: ignore[attr-defined]

    target.promote = promote_slowly  # type: ignore[method-assign]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED, result.reason
    assert ("bake", {"seconds": 20.0, "verdict": "pass"}) in events


def test_a_lasting_slowdown_after_promotion_is_reverted_at_the_end_of_the_bake() -> None:
    controller, target, clock, _ = make()
    original = target.promote
    promoted_at: list[float] = []

    def promote_then_slow(version: str, previous: str | None) -> None:
        original(version, previous)
        promoted_at.append(clock.t)
        controller.source.stable_ms = 900.0  # type: ignore[attr-defined]

    target.promote = promote_then_slow  # type: ignore[method-assign]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK and "p95_ms" in result.reason
    assert clock.t - promoted_at[0] >= 20  # judged once the bake was held, not on its first second
    assert target.stable == "v1"


def test_the_lease_is_renewed_while_a_split_is_live() -> None:
    controller, target, clock, _ = make()
    grants: list[tuple[float, float | None]] = []  # (when, until) of every lease the split was given
    renew, set_weights = target.renew_lease, target.set_weights

    def renewing(until: float | None) -> None:
        grants.append((clock.t, until))
        renew(until)

    def setting(weights: object, lease_until: float | None = None) -> None:
        if int(getattr(weights, "canary", 0)) > 0:
            grants.append((clock.t, lease_until))
        set_weights(weights, lease_until)

    target.renew_lease = renewing  # type: ignore[method-assign]
    target.set_weights = setting  # type: ignore[method-assign]
    controller.run("v2", previous="v1")
    assert all(until is not None for _, until in grants)
    # the walk (30 s) and the hand-over keep it held: each lease is renewed with a third of it (5 s) to spare
    assert len(grants) >= 5
    for (_, until), (then, _) in itertools.pairwise(grants):
        assert until is not None and until - then >= controller.lease_seconds / 3, grants


def test_clock_jump_back_restarts_the_hold_without_losing_the_release() -> None:
    controller, target, clock, events = make()
    original = target.take_command
    jumped = []

    def jump_once() -> str | None:
        if not jumped and clock.slept > 3:
            clock.jump(-120)
            jumped.append(True)
        return original()

    target.take_command = jump_once  # type: ignore[method-assign]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED
    assert any(k == "clock" for k, _ in events)


def test_resume_starts_at_the_given_step_without_redeploying() -> None:
    controller, target, _, _ = make()
    target.canary = "v2"  # the orphaned canary still runs
    result = controller.run("v2", previous="v1", start_step=1, deploy=False)
    assert result.outcome == Outcome.PROMOTED
    assert ("deploy_track", ("canary", "v2")) not in target.calls
    assert ("deploy_track", ("baseline", "v1")) in target.calls  # a no-op where it still runs
    assert target.weights[:2] == [25, 50]


def test_interrupted_run_is_stopped_cleanly() -> None:
    controller, target, _, _ = make()

    def boom() -> str | None:
        raise KeyboardInterrupt

    target.take_command = boom  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        controller.run("v2", previous="v1")
    result = controller.abort("interrupted")
    assert result.outcome == Outcome.ABORTED
    assert target.weights[-1] == 0
    assert target.canary is None


@pytest.mark.parametrize(
    ("stable", "canary", "steps", "compare_with", "expected"),
    [
        (2, 1, [5, 25, 50], "baseline", 1),
        (4, 1, [10, 25, 50], "baseline", 2),
        (1, 1, [50], "baseline", 1),
        (3, 2, [5, 50], "baseline", 2),
        (6, 1, [5, 10, 50], "baseline", 3),
        (4, 1, [5, 100], "stable", 4),
    ],
)
def test_canary_and_baseline_start_at_their_full_size_before_any_traffic(
    stable: int, canary: int, steps: list[int], compare_with: str, expected: int
) -> None:
    """No task carries more at the last step than a stable task did; every task is ready before a weight."""
    target = FakeCanaryTarget(stable="v1")
    policy = Canary(steps=steps, step_seconds=5, bake_seconds=0, compare_with=compare_with)  # type: ignore[arg-type]
    controller = Controller(
        policy, target, SyntheticTraffic(target), FakeClock(), lambda k, d: None, stable_replicas=stable, canary_replicas=canary
    )  # type: ignore[arg-type]
    assert controller.run("v2", previous="v1").outcome == Outcome.PROMOTED
    assert target.tasks["canary"] == expected
    assert ("baseline" in target.tasks) == (compare_with == "baseline")
    if compare_with == "baseline":
        assert target.tasks["baseline"] == expected
    else:
        assert set(target.baselines) == {0}
    assert "scale_track" not in target.names()
    first_weight = target.names().index("set_weights")
    assert all(i < first_weight for i, name in enumerate(target.names()) if name == "deploy_track")


def test_a_canary_that_never_becomes_ready_is_rolled_back_before_any_traffic() -> None:
    controller, target, clock, _ = make()
    target.unready = lambda track, i: track == "canary"
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert result.canary_started is None and set(target.weights) <= {0}
    assert "canary was not ready after 60 s" in result.reason
    assert "canary task canary-task0 answered 503 on /readyz" in result.reason and '"fault"' in result.reason
    assert clock.slept == pytest.approx(60, abs=2)
    assert target.canary is None and target.baseline is None


def test_a_canary_task_that_stops_being_ready_fails_the_step_at_once() -> None:
    controller, target, clock, _ = make()
    start = clock.t
    target.unready = lambda track, i: track == "canary" and clock.t >= start + 14
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert "readiness: canary task canary-task0 answered 503" in result.reason and "step 2 (25%)" in result.reason
    assert result.weight_zero is not None and result.weight_zero - (start + 14) <= 5  # two probes, 2 s apart
    assert target.weights[-1] == 0


def test_unready_everywhere_is_not_the_canarys_doing() -> None:
    """The database is away: canary and baseline both answer 503; the canary is not blamed for it."""
    controller, target, clock, _ = make()
    start = clock.t
    target.unready = lambda track, i: track in ("canary", "baseline") and start + 14 <= clock.t < start + 20
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED, result.reason


def test_a_new_stable_that_stops_being_ready_in_the_bake_is_reverted() -> None:
    controller, target, clock, _ = make()
    promoted: list[float] = []
    original = target.promote

    def promote(version: str, previous: str | None) -> None:
        original(version, previous)
        promoted.append(clock.t)

    target.promote = promote  # type: ignore[method-assign]
    target.unready = lambda track, i: track == "stable" and bool(promoted) and target.stable == "v2"
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK and "readiness: stable task" in result.reason
    assert ("revert_to_previous", ("v1",)) in target.calls


def test_a_cold_canary_is_judged_against_an_equally_cold_baseline() -> None:
    """Fresh tasks are slower than warm ones; against a fresh baseline that is no regression."""
    cold = {"canary_ms": 60.0, "baseline_ms": 60.0, "stable_ms": 20.0}
    controller, _, _, _ = make(**cold)
    assert controller.run("v2", previous="v1").outcome == Outcome.PROMOTED
    against_stable = POLICY.model_copy(update={"compare_with": "stable"})
    controller, target, _, _ = make(against_stable, **cold)
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert "vs_stable" in result.reason or "slower than stable" in result.reason
    assert set(target.baselines) == {0}


def test_a_promotion_that_live_traffic_contradicts_is_a_failure() -> None:
    controller, _, _, _ = make(wrong_version={"stable": "v1"})
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.FAILED
    assert "not served by stable v2" in result.reason
    assert result.verified is not None and result.verified["share"] == 0.0


def test_a_rollback_is_verified_from_live_traffic() -> None:
    controller, _, _, events = make(canary_errors=0.3)
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    verified = [d for k, d in events if k == "verify"]
    assert verified and verified[-1]["track"] == "stable" and verified[-1]["share"] == 1.0


class RecordedGate:
    """A gate whose verdict the test decides; it records when it ran."""

    def __init__(self, clock: FakeClock, target: FakeCanaryTarget, passed: bool, reason: str = "ok") -> None:
        self.clock, self.target, self.passed_, self.reason_ = clock, target, passed, reason
        self.seconds = 35.0
        self.ran_at_weight: list[int] = []

    def __call__(self) -> Any:
        self.ran_at_weight.append(self.target.weights[-1])
        leases = [args[0] for name, args in self.target.calls if name == "renew_lease"]
        self.covered = leases[-1] - self.clock.now()
        self.clock.sleep(self.seconds - 5)
        gate = self

        class Verdict:
            passed = gate.passed_
            reason = gate.reason_

            def as_dict(self) -> dict[str, Any]:
                return {"verdict": "pass" if gate.passed_ else "fail"}

        return Verdict()


def make_gated(passed: bool, reason: str = "ok") -> tuple[Controller, FakeCanaryTarget, RecordedGate, list[Any]]:
    policy = Canary(steps=[5, 25, 50], step_seconds=10, bake_seconds=0, perf_gate_at=25)
    target = FakeCanaryTarget(stable="v1")
    clock = FakeClock()
    events: list[tuple[str, dict[str, Any]]] = []
    gate = RecordedGate(clock, target, passed, reason)
    controller = Controller(
        policy,
        target,  # type: ignore[arg-type]
        SyntheticTraffic(target),  # type: ignore[arg-type]
        clock,
        lambda k, d: events.append((k, d)),
        lease_seconds=15,
        gate=gate,
    )
    return controller, target, gate, events


def test_the_policys_perf_gate_runs_once_at_its_step_and_a_pass_goes_on() -> None:
    controller, _target, gate, events = make_gated(passed=True)
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED
    assert gate.ran_at_weight == [25]
    assert [d["weight"] for k, d in events if k == "gate"] == [25]
    # the lease covered the whole gate run, so the edge's watchdog never reset the split
    assert gate.covered >= gate.seconds


def test_a_failed_perf_gate_rolls_the_canary_back() -> None:
    controller, target, _gate, _ = make_gated(passed=False, reason="regression vs stable: canary p95 130 ms > 120 ms")
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert result.reason == "step 2 (25%): perf gate: regression vs stable: canary p95 130 ms > 120 ms"
    assert target.weights[-1] == 0 and 50 not in target.weights
    assert target.canary is None


def test_a_policy_gate_without_a_gate_never_passes() -> None:
    policy = Canary(steps=[5, 25], step_seconds=10, bake_seconds=0, perf_gate_at=5)
    target = FakeCanaryTarget(stable="v1")
    controller = Controller(policy, target, SyntheticTraffic(target), FakeClock(), lambda k, d: None)  # type: ignore[arg-type]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK and "needs a perf gate" in result.reason


def test_a_latency_burst_is_forgiven_when_a_fresh_window_is_clean() -> None:
    """With ``latency_windows: 2`` a burst over one hold is re-measured; the clean window promotes."""
    patient = Canary(steps=[5, 25, 50], step_seconds=10, bake_seconds=20, latency_windows=2)
    start = FakeClock().t
    controller, _, _, events = make(patient, canary_ms=20.0, stable_ms=20.0, burst=(start + 12, start + 19, 400.0))
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED, result.reason
    confirms = [d for k, d in events if k == "decision" and d["action"] == "confirm"]
    assert len(confirms) == 1 and "step 2 (25%)" in confirms[0]["reason"]


def test_a_latency_test_cleared_at_one_step_and_failing_again_at_the_next_rolls_back() -> None:
    """A slowdown a short fresh window misses (here: it pauses while the window is measured) fails the
    same route test again at the next step, on requests measured after it was cleared: that acts."""
    patient = Canary(steps=[5, 25, 50], step_seconds=10, bake_seconds=20, latency_windows=2)
    target = FakeCanaryTarget(stable="v1")
    clock = FakeClock()
    start = clock.t
    source = SyntheticTraffic(target, canary_ms=20.0, stable_ms=20.0, burst=(start + 12, start + 19, 400.0))
    events: list[tuple[str, dict[str, Any]]] = []

    def emit(kind: str, data: dict[str, Any]) -> None:
        events.append((kind, data))
        if kind == "step" and data["step"] == 3:  # slow again for most of the next step's hold
            source.burst = (clock.t, clock.t + 8, 400.0)

    controller = Controller(patient, target, source, clock, emit, lease_seconds=15)  # type: ignore[arg-type]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK, result.reason
    assert result.reason.startswith("step 3 (50%): route_latency") and "failed again at this step" in result.reason
    confirms = [d for k, d in events if k == "decision" and d["action"] == "confirm"]
    assert len(confirms) == 1 and "step 2 (25%)" in confirms[0]["reason"]  # step 3 did not need its own


def test_a_walk_with_an_edge_log_it_cannot_read_is_never_passed() -> None:
    """A swarm's edge replica whose node does not answer served requests nobody judged."""
    controller, target, _, events = make(unread_logs=("w2",))
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK, result.reason
    assert "insufficient data" in result.reason and target.stable == "v1"
    verdicts = [d for k, d in events if k == "verdict"]
    assert any(c["name"] == "edge_logs" and "w2" in c["detail"] for v in verdicts for c in v["checks"])


def test_a_bake_with_an_edge_log_it_cannot_read_is_never_passed() -> None:
    """The walk was read whole; in the bake an edge replica falls silent (its node stops answering):
    the bake does not pass on the other edges' requests alone, the previous release comes back."""
    target = FakeCanaryTarget(stable="v1")
    clock = FakeClock()
    source = SyntheticTraffic(target)
    events: list[tuple[str, dict[str, Any]]] = []

    def emit(kind: str, data: dict[str, Any]) -> None:
        events.append((kind, data))
        if kind == "phase" and data.get("phase") == "baking":
            source.unread_logs = ("w2",)

    controller = Controller(POLICY, target, source, clock, emit, lease_seconds=15)  # type: ignore[arg-type]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK, result.reason
    assert "reverted to v1: bake: insufficient data" in result.reason and "w2" in result.reason, result.reason
    assert target.stable == "v1"
    assert not [d for k, d in events if k == "bake" and d.get("verdict") == "pass"]


def test_a_latency_verdict_always_needs_two_windows() -> None:
    with pytest.raises(ValueError, match="latency_windows"):
        Canary(latency_windows=1)


def test_a_lasting_slowdown_fails_every_window_and_rolls_back() -> None:
    patient = Canary(steps=[5, 25, 50], step_seconds=10, bake_seconds=20, latency_windows=2)
    controller, _, _, events = make(patient, canary_ms=220.0, stable_ms=20.0)
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert [d["action"] for k, d in events if k == "decision"][-2:] == ["confirm", "rollback"]
    assert "(failed in 2 windows in a row)" in result.reason  # the same check failed again: the streak was carried


def test_a_tick_s_own_work_counts_toward_the_hold() -> None:
    """Reading the log and probing take time; the walk still holds each step for step_seconds."""
    controller, _, clock, _ = make()
    windows = controller.source.windows

    def slow_windows(spans: Any) -> Any:
        clock.jump(0.4)  # every tick's work (one read of the log): 0.4 s of a 1 s tick
        return windows(spans)

    controller.source.windows = slow_windows  # type: ignore[method-assign]
    start = clock.t
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED
    steps = [t for t, kind, _ in result.timeline if kind == "step"]
    assert steps[1] - steps[0] == pytest.approx(10, abs=0.6)  # not 8 ticks of 1.4 s
    assert clock.t - start == pytest.approx(50, abs=2)


def test_a_hand_over_settles_during_the_bake_and_is_verified_from_then() -> None:
    controller, target, _, events = make()
    target.handover_ticks = 8  # the new stable's extra task needs 8 ticks to be ready
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED
    promoted = next(d for k, d in events if k == "promoted")
    assert promoted["handover"] is True
    settled = next(d for k, d in events if k == "settled")
    assert 7 <= settled["seconds"] <= 10
    names = target.names()
    after = names[names.index("promote") :]
    last_settle = len(after) - 1 - after[::-1].index("settle")
    assert "renew_lease" in after[:last_settle]  # the hand-over's split stays held meanwhile
    kinds = [k for k, _ in events]
    assert kinds.index("settled") < kinds.index("bake") < kinds.index("verify")
    assert result.verified is not None and result.verified["share"] == 1.0


def test_a_hand_over_that_never_settles_is_reverted() -> None:
    controller, target, _, _ = make()
    target.handover_ticks = 10_000  # the new stable never gets all its tasks ready
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert "did not take all traffic" in result.reason
    assert ("revert_to_previous", ("v1",)) in target.calls and target.stable == "v1"


def test_errors_on_writes_only_are_judged_route_by_route_and_roll_back() -> None:
    # 5 % of the canary's writes fail (1 % of its requests, diluted in the whole track's window)
    controller, target, _, events = make(write_share=0.2, write_errors={"canary": 0.05})
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK, result.reason
    assert "route_errors: POST /api/notes" in result.reason
    assert target.canary is None and "promote" not in target.names()
    checks = [c["name"] for k, d in events if k == "verdict" for c in d["checks"]]
    assert {"route_errors", "route_latency"} <= set(checks)


def test_the_same_writes_failing_after_promotion_are_reverted_against_the_walks_reference() -> None:
    controller, target, _, _ = make(write_share=0.2)
    original = target.promote

    def promote_then_break(version: str, previous: str | None) -> None:
        original(version, previous)
        controller.source.write_errors = {"stable": 0.05}  # type: ignore[attr-defined]

    target.promote = promote_then_break  # type: ignore[method-assign]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK, result.reason
    assert "route_errors: POST /api/notes" in result.reason and "baseline in the walk" in result.reason
    assert ("revert_to_previous", ("v1",)) in target.calls


def test_writes_that_fail_as_often_on_the_reference_are_not_the_release() -> None:
    controller, _, _, _ = make(write_share=0.2, write_errors={"canary": 0.03, "baseline": 0.03, "stable": 0.03})
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED, result.reason


def test_the_bake_reads_an_operators_rollback_twice_a_second() -> None:
    controller, target, clock, _ = make()
    original = target.promote
    asked: list[float] = []

    def promote_then_ask(version: str, previous: str | None) -> None:
        original(version, previous)
        asked.append(clock.t)
        target.commands = [None, None, "rollback"]  # type: ignore[list-item]  # taken at the third read of the bake

    target.promote = promote_then_ask  # type: ignore[method-assign]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    reverted_at = next(t for t, kind, data in result.timeline if kind == "phase" and "reverting" in str(data))
    assert reverted_at - asked[0] == pytest.approx(1.5, abs=0.1)  # three bake ticks of 0.5 s, not three of 1 s


def test_a_busy_host_slow_in_the_walk_and_the_bake_is_not_blamed_on_the_release() -> None:
    """Found on a loaded host: the bake, with no reference beside the new stable, failed its p99
    limit and took a fresh window; what the reference served in the walk says the host is slow."""
    controller, _, _, events = make(canary_ms=1500.0, stable_ms=1500.0)
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED, result.reason
    assert not [d for k, d in events if k == "decision" and d["reason"].startswith("bake")]
    bake = [d for k, d in events if k == "snapshot"][-1]
    assert bake["tracks"]["stable"]["p95_ms"] > 1000  # slow indeed, over both absolute limits


def test_a_slowdown_only_after_promotion_is_still_reverted_when_the_walk_was_quick() -> None:
    controller, target, _, _ = make()
    original = target.promote

    def promote_then_slow(version: str, previous: str | None) -> None:
        original(version, previous)
        controller.source.stable_ms = 1500.0  # type: ignore[attr-defined]

    target.promote = promote_then_slow  # type: ignore[method-assign]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK and "p95_ms" in result.reason
    bake = [(t, d) for t, k, d in result.timeline if k == "decision" and d["reason"].startswith("bake")]
    assert [d["action"] for _, d in bake] == ["confirm"]
    reverted = next(t for t, k, _ in result.timeline if k == "reverted")
    # the fresh window after the bake's latency failure is held as long as a step (10 s), not a whole bake
    assert 10 <= reverted - bake[0][0] < 12


def test_latency_in_the_bake_is_judged_from_the_end_of_the_hand_over() -> None:
    """Found in CI on a loaded host: the new stable's added task started (slowly) during the whole
    10 s bake, its p95 failed twice and a good release was reverted."""
    controller, target, clock, events = make()
    target.handover_ticks = 8  # the added task needs about 8 s to be ready
    original = target.promote

    def promote_slow_until_ready(version: str, previous: str | None) -> None:
        original(version, previous)
        controller.source.burst = (clock.t, clock.t + 7.0, 1500.0)  # type: ignore[attr-defined]
        controller.source.burst_track = "stable"  # type: ignore[attr-defined]

    target.promote = promote_slow_until_ready  # type: ignore[method-assign]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED, result.reason
    promoted = next(t for t, k, _ in result.timeline if k == "promoted")
    settled = next(t for t, k, _ in result.timeline if k == "settled")
    baked = next(t for t, k, _ in result.timeline if k == "bake")
    assert baked - promoted < POLICY.bake_seconds + 2  # the bake still ends bake_seconds after the promotion
    assert baked - settled >= POLICY.step_seconds  # with at least a step's length judged after the hand-over
    assert not [d for k, d in events if k == "decision" and d["reason"].startswith("bake")]


def test_errors_during_the_hand_over_still_revert_at_once() -> None:
    controller, target, _, _ = make(write_share=0.2)
    target.handover_ticks = 8
    original = target.promote

    def promote_then_break(version: str, previous: str | None) -> None:
        original(version, previous)
        controller.source.write_errors = {"stable": 0.5}  # type: ignore[attr-defined]

    target.promote = promote_then_break  # type: ignore[method-assign]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK and "route_errors" in result.reason
    reverted = next(t for t, k, _ in result.timeline if k == "reverted")
    settled = [t for t, k, _ in result.timeline if k == "settled"]
    assert not settled or reverted < settled[0]  # not held until the hand-over is done


def test_a_hand_over_longer_than_the_bake_is_judged_for_a_step_after_it() -> None:
    controller, target, _, _ = make()
    target.handover_ticks = 25  # longer than the 20 s bake
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED, result.reason
    settled = next(t for t, k, _ in result.timeline if k == "settled")
    baked = next(t for t, k, _ in result.timeline if k == "bake")
    assert POLICY.step_seconds <= baked - settled < POLICY.step_seconds + 2


def _slow_after_promotion(controller: Controller, target: FakeCanaryTarget, new_ms: float, previous_ms: float) -> None:
    """From the promotion on, the new stable answers in ``new_ms`` and the warm previous release
    (on the canary's track since the swap) in ``previous_ms``."""
    original = target.promote

    def promote_then_slow(version: str, previous: str | None) -> None:
        original(version, previous)
        controller.source.stable_ms = new_ms  # type: ignore[attr-defined]
        controller.source.canary_ms = previous_ms  # type: ignore[attr-defined]

    target.promote = promote_then_slow  # type: ignore[method-assign]


def test_a_host_that_turns_slow_in_the_bake_is_seen_beside_the_previous_release() -> None:
    """Found by the judge's bench on a busy host: the walk was quick, the host turned slow in the
    bake, the new stable alone crossed the p95 limit twice and a good release was reverted. The
    fresh window gives the warm previous release its share beside the new stable: both slow, the host's."""
    controller, target, _, events = make()
    _slow_after_promotion(controller, target, 900.0, 900.0)
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED, result.reason
    beside = [d for k, d in events if k == "beside"]
    # the previous release's 1 ready task beside the new stable's 2: a third of the traffic, then back to 0
    assert [d["share"] for d in beside] == [33, 0]
    assert target.weights[-2:] == [33, 0]
    verdict = [d for k, d in events if k == "verdict" and d["step"] == "bake"][-1]
    checks = {c["name"]: c for c in verdict["checks"]}
    assert checks["p95_ms"]["verdict"] == "pass" and "host is slow" in checks["p95_ms"]["detail"]
    assert checks["p95_vs_previous"]["verdict"] == "pass"
    assert [d for k, d in events if k == "bake"][-1]["beside"] == 33
    # the live traffic is verified from when the previous release's share went back to 0
    back = next(t for t, k, d in result.timeline if k == "beside" and d["share"] == 0)
    assert result.verified is not None and result.verified["since"] >= back and result.verified["share"] == 1.0


def test_a_new_stable_slower_than_the_previous_release_beside_it_is_reverted() -> None:
    controller, target, _, events = make()
    _slow_after_promotion(controller, target, 1500.0, 20.0)
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK and "p95" in result.reason
    assert [d["share"] for k, d in events if k == "beside"] == [33]  # the revert swaps back from the split
    verdict = [d for k, d in events if k == "verdict" and d["step"] == "bake"][-1]
    failed = {c["name"] for c in verdict["checks"] if c["verdict"] == "fail"}
    assert {"p95_ms", "p95_vs_previous"} <= failed
    assert target.stable == "v1"


def test_without_a_ready_previous_release_the_fresh_window_has_no_reference_beside_it() -> None:
    controller, target, _, events = make()
    target.unready = lambda track, i: track == "canary" and target.canary == "v1"  # the warm v1 is not ready
    _slow_after_promotion(controller, target, 900.0, 900.0)
    result = controller.run("v2", previous="v1")
    # nothing can tell the host from the release then: the absolute limit acts, as before
    assert result.outcome == Outcome.ROLLED_BACK and "p95_ms" in result.reason
    assert not [d for k, d in events if k == "beside"]
    confirm = next(d for k, d in events if k == "decision" and d["action"] == "confirm")
    assert "beside" not in confirm["reason"]


@pytest.mark.parametrize(
    ("new", "old", "share"),
    [((True, True), (True, True), 50), ((True,), (True, True), 67), ((True, True), (True, False), 33), ((True,), (False,), 0)],
)
def test_the_share_beside_loads_each_ready_task_alike(new: tuple[bool, ...], old: tuple[bool, ...], share: int) -> None:
    from pipeline.canary.controller import _beside_share
    from pipeline.targets.base import TaskReadiness

    probes = [TaskReadiness("stable", f"n{i}", 200 if ok else 503) for i, ok in enumerate(new)]
    probes += [TaskReadiness("canary", f"o{i}", 200 if ok else 503) for i, ok in enumerate(old)]
    assert _beside_share(probes) == share
