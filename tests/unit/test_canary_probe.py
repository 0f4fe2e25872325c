"""Readiness probes asked now and answered later: the loop that watches a bake never waits for one."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pipeline.canary.controller import Controller, Outcome
from pipeline.canary.probe import Answer, BackgroundProbes, InlineProbes
from pipeline.environment.model import Canary
from pipeline.targets.base import TaskReadiness
from pipeline.testing import FakeCanaryTarget, FakeClock, SyntheticTraffic

POLICY = Canary(steps=[5, 25, 50], step_seconds=10, bake_seconds=20)


def ready(track: str) -> TaskReadiness:
    return TaskReadiness(track, f"{track}-task0", 200, '{"status": "ok"}')


def test_background_probes_answer_later_once_and_never_block() -> None:
    release = threading.Event()
    asked: list[tuple[str, ...]] = []

    def slow(tracks: tuple[str, ...]) -> list[TaskReadiness]:
        asked.append(tracks)
        assert release.wait(10), "the test never let the probe finish"
        return [ready(t) for t in tracks]

    probes = BackgroundProbes(slow)
    try:
        probes.ask(("stable", "canary"), 5.0)
        assert probes.out and probes.answered() is None  # out, and the caller did not wait for it
        probes.ask(("canary", "baseline"), 6.0)  # one probe at a time: this ask is dropped
        release.set()
        for _ in range(200):
            if not probes.out:
                break
            threading.Event().wait(0.01)
        answer = probes.answered()
        assert answer == Answer(("stable", "canary"), 5.0, [ready("stable"), ready("canary")])
        assert probes.answered() is None and asked == [("stable", "canary")]  # each answer once
    finally:
        probes.close()


def test_a_probe_that_failed_raises_its_error_when_answered() -> None:
    def broken(_tracks: tuple[str, ...]) -> list[TaskReadiness]:
        raise RuntimeError("the edge could not probe readiness")

    probes = BackgroundProbes(broken)
    try:
        probes.ask(("stable",), 0.0)
        for _ in range(200):
            if not probes.out:
                break
            threading.Event().wait(0.01)
        with pytest.raises(RuntimeError, match="could not probe"):
            probes.answered()
    finally:
        probes.close()


def test_inline_probes_answer_in_the_same_call() -> None:
    probes = InlineProbes(lambda tracks: [ready(t) for t in tracks])
    probes.ask(("canary",), 1.0)
    assert not probes.out
    assert probes.answered() == Answer(("canary",), 1.0, [ready("canary")])
    assert probes.answered() is None


class OutForever:
    """A probe that never comes back (a hung exec on a loaded host)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, ...]] = []

    def ask(self, tracks: tuple[str, ...], now: float) -> None:
        self.asked.append(tracks)

    def answered(self) -> Answer | None:
        return None

    @property
    def out(self) -> bool:
        return bool(self.asked)

    def close(self) -> None:
        pass


def rollback_delay(slow_probe_seconds: float, probes: Any) -> tuple[float, Controller]:
    """Seconds from ``pipeline rollback`` (asked at the promotion) to the controller's swap back,
    when every readiness probe costs ``slow_probe_seconds`` of the loop's clock."""
    target = FakeCanaryTarget(stable="v1")
    clock = FakeClock()
    original_readiness, original_promote = target.readiness, target.promote
    asked: list[float] = []

    def slow_readiness(tracks: tuple[str, ...]) -> list[Any]:
        clock.jump(slow_probe_seconds)
        return original_readiness(tracks)

    def promote_then_ask(version: str, previous: str | None) -> None:
        original_promote(version, previous)
        asked.append(clock.t)
        target.commands = [None, None, "rollback"]  # type: ignore[list-item]  # taken at the third read of the bake

    target.readiness = slow_readiness  # type: ignore[method-assign]
    target.promote = promote_then_ask  # type: ignore[method-assign]
    made = probes(target.readiness) if probes is not None else None
    controller = Controller(POLICY, target, SyntheticTraffic(target), clock, lambda k, d: None, probes=made)  # type: ignore[arg-type]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.ROLLED_BACK, result.reason
    reverted_at = next(t for t, kind, data in result.timeline if kind == "phase" and "reverting" in str(data))
    return reverted_at - asked[0], controller


def test_a_slow_probe_delays_the_operators_rollback_only_when_the_loop_waits_for_it() -> None:
    waited, _ = rollback_delay(2.0, InlineProbes)  # the loop waits for each probe: 2 s more per probe
    off_loop, controller = rollback_delay(2.0, lambda _readiness: OutForever())
    assert off_loop == pytest.approx(1.5, abs=0.1)  # three bake ticks of 0.5 s: the probe never came into it
    assert waited >= off_loop + 2.0
    assert controller.probes.asked  # type: ignore[attr-defined]  # it was asked all the same


def test_a_hand_over_settles_on_the_loops_probes() -> None:
    target = FakeCanaryTarget(stable="v1")
    target.handover_ticks = 4
    controller = Controller(POLICY, target, SyntheticTraffic(target), FakeClock(), lambda k, d: None)  # type: ignore[arg-type]
    result = controller.run("v2", previous="v1")
    assert result.outcome == Outcome.PROMOTED, result.reason
    settles = [args for name, args in target.calls if name == "settle"]
    # the first try right after the promotion probes itself; in the bake the loop's answers are used
    assert settles[0] == () and ("probed",) in settles[1:]
