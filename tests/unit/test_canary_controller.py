"""The controller end to end against fakes: clock, synthetic traffic, recording target."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.canary.controller import Controller, Outcome
from pipeline.environment.model import Canary, Thresholds
from pipeline.testing import FakeCanaryTarget, FakeClock, SyntheticTraffic

POLICY = Canary(steps=[5, 25, 50, 100], step_seconds=10, bake_seconds=20)


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
    assert result.steps_passed == 4
    assert target.weights[:4] == [5, 25, 50, 100]
    assert ("promote", ("v2", "v1")) in target.calls
    assert target.stable == "v2"
    assert target.names()[-1] == "remove_track"  # the warm previous release goes after the bake
    assert [d["step"] for k, d in events if k == "step"] == [1, 2, 3, 4]
    assert any(k == "bake" for k, _ in events)
    # 4 steps of 10 s + 20 s of bake
    assert clock.slept == pytest.approx(60, abs=4)


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
    assert result.seconds_to_zero is not None and result.seconds_to_zero <= 15


def test_release_that_dies_at_start_never_gets_traffic() -> None:
    controller, target, _, _ = make()
    target.fail_deploy = "v2"
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert "never became healthy" in result.reason
    assert all(w == 0 for w in target.weights)
    assert result.canary_started is None
    assert ("remove_track", ("canary",)) in target.calls


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
    controller, target, _, _ = make()
    controller.run("v2", previous="v1")
    renewals = [c for c in target.calls if c[0] == "renew_lease"]
    # steps last 40 s and the lease (15 s) is renewed every 5 s
    assert len(renewals) >= 6
    leases = [c[1][1] for c in target.calls if c[0] == "set_weights" and c[1][0] > 0]
    assert all(lease is not None for lease in leases)


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
    result = controller.run("v2", previous="v1", start_step=2, deploy=False)
    assert result.outcome == Outcome.PROMOTED
    assert "deploy_track" not in target.names()
    assert target.weights[:2] == [50, 100]


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
    ("stable", "canary", "weights", "expected"),
    [
        (2, 1, [5, 25, 50, 100], [1, 1, 2, 2]),
        (4, 1, [10, 25, 50, 75, 100], [1, 2, 4, 4, 4]),
        (1, 1, [50, 100], [1, 1]),
        (3, 2, [5, 100], [2, 3]),
    ],
)
def test_canary_is_scaled_so_no_task_carries_more_than_a_stable_one(
    stable: int, canary: int, weights: list[int], expected: list[int]
) -> None:
    target = FakeCanaryTarget(stable="v1")
    policy = Canary(steps=weights, step_seconds=5, bake_seconds=0)
    controller = Controller(
        policy, target, SyntheticTraffic(target), FakeClock(), lambda k, d: None, stable_replicas=stable, canary_replicas=canary
    )  # type: ignore[arg-type]
    assert [controller.replicas_for(w) for w in weights] == expected
    controller.run("v2", previous="v1")
    scaled = [c[1][1] for c in target.calls if c[0] == "scale_track"]
    assert scaled == sorted(set(e for e in expected if e > canary))
    # a scale always comes before the weight that needs it
    if scaled:
        first_weight = weights[expected.index(scaled[0])]
        weight_at = next(i for i, c in enumerate(target.calls) if c[0] == "set_weights" and c[1][0] == first_weight)
        assert target.names().index("scale_track") < weight_at


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
    policy = Canary(steps=[5, 25, 50, 100], step_seconds=10, bake_seconds=0, perf_gate_at=25)
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
    patient = Canary(steps=[5, 25, 50, 100], step_seconds=10, bake_seconds=20, latency_windows=2)
    start = FakeClock().t
    controller, _, _, events = make(patient, canary_ms=20.0, stable_ms=20.0, burst=(start + 12, start + 19, 400.0))
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED, result.reason
    confirms = [d for k, d in events if k == "decision" and d["action"] == "confirm"]
    assert len(confirms) == 1 and "step 2 (25%)" in confirms[0]["reason"]


def test_the_same_burst_rolls_back_with_one_window() -> None:
    strict = Canary(steps=[5, 25, 50, 100], step_seconds=10, bake_seconds=20)
    start = FakeClock().t
    controller, _, _, _ = make(strict, canary_ms=20.0, stable_ms=20.0, burst=(start + 12, start + 19, 400.0))
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert "step 2 (25%)" in result.reason


def test_a_lasting_slowdown_fails_every_window_and_rolls_back() -> None:
    patient = Canary(steps=[5, 25, 50, 100], step_seconds=10, bake_seconds=20, latency_windows=2)
    controller, _, _, events = make(patient, canary_ms=220.0, stable_ms=20.0)
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK
    assert [d["action"] for k, d in events if k == "decision"][-2:] == ["confirm", "rollback"]
