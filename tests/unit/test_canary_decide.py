"""Every transition of the controller's decision function, table by table."""

from __future__ import annotations

import pytest

from pipeline.analysis.checks import CheckResult, Verdict
from pipeline.canary.decide import Action, BakePosition, Position, decide, decide_bake
from pipeline.environment.model import Canary

POLICY = Canary(steps=[5, 25, 50, 100], step_seconds=10, max_step_extensions=2, compare_with="stable", latency_windows=2)
FAIL = [CheckResult("error_rate", Verdict.FAIL, 0.3, 0.01, "canary 30.0% errors > 1.0% allowed")]
PASS = [CheckResult("error_rate", Verdict.PASS, 0.0, 0.01, "ok")]
SLOW = [CheckResult("p95_ms", Verdict.FAIL, 700.0, 500.0, "canary p95 700.0 ms > 500.0 ms")]
LACK = [CheckResult("requests", Verdict.INSUFFICIENT, 3, 20, "canary 3 requests < 20 needed")]

CASES = [
    # (id, position, verdict, results, command, expected action, words in the reason)
    ("failure mid-step rolls back at once", Position(0, 2, 0), Verdict.FAIL, FAIL, None, Action.ROLLBACK, "30.0% errors"),
    ("failure at the last step", Position(3, 10, 0), Verdict.FAIL, FAIL, None, Action.ROLLBACK, "step 4 (100%)"),
    ("failure beats an operator promote", Position(1, 3, 0), Verdict.FAIL, FAIL, "promote", Action.ROLLBACK, "errors"),
    ("abort beats everything", Position(1, 3, 0), Verdict.FAIL, FAIL, "abort", Action.ABORT, "operator"),
    ("latency failure mid-step waits for the hold", Position(0, 4, 0), Verdict.FAIL, SLOW, None, Action.WAIT, "holding"),
    (
        "latency failure at the end of the hold is measured again",
        Position(0, 10, 0),
        Verdict.FAIL,
        SLOW,
        None,
        Action.CONFIRM,
        "p95_ms",
    ),
    (
        "latency failure in the second window",
        Position(0, 10, 0, 1, {"p95_ms": 1}),
        Verdict.FAIL,
        SLOW,
        None,
        Action.ROLLBACK,
        "p95_ms",
    ),
    (
        "a canary task not ready acts at once",
        Position(1, 3, 0),
        Verdict.FAIL,
        [CheckResult("readiness", Verdict.FAIL, 1, 2, "canary task t1 answered 503 on /readyz")],
        None,
        Action.ROLLBACK,
        "readiness: canary task t1",
    ),
    (
        "errors against the baseline act at once",
        Position(1, 3, 0),
        Verdict.FAIL,
        [CheckResult("error_rate_vs_baseline", Verdict.FAIL, 0.1, 0.01, "canary 10.0% errors")],
        None,
        Action.ROLLBACK,
        "error_rate_vs_baseline",
    ),
    (
        "error failure names only early checks mid-step",
        Position(0, 2, 0),
        Verdict.FAIL,
        FAIL + SLOW,
        None,
        Action.ROLLBACK,
        "error_rate: canary 30.0%",
    ),
    ("pass mid-step waits", Position(0, 5, 0), Verdict.PASS, PASS, None, Action.WAIT, "holding step 1"),
    ("insufficient mid-step waits", Position(0, 5, 0), Verdict.INSUFFICIENT, LACK, None, Action.WAIT, "holding"),
    ("pass at the end of a step moves on", Position(0, 10, 0), Verdict.PASS, PASS, None, Action.NEXT, "step 1 (5%) passed"),
    ("pass at the end of the last step promotes", Position(3, 10, 0), Verdict.PASS, PASS, None, Action.PROMOTE, "all 4 steps"),
    ("operator promote skips the rest", Position(1, 1, 0), Verdict.PASS, PASS, "promote", Action.PROMOTE, "operator"),
    (
        "operator promote with too little data",
        Position(0, 1, 0),
        Verdict.INSUFFICIENT,
        LACK,
        "promote",
        Action.PROMOTE,
        "operator",
    ),
    ("no data at the end: extend", Position(0, 10, 0), Verdict.INSUFFICIENT, LACK, None, Action.EXTEND, "(1/2)"),
    ("extended step holds longer", Position(0, 15, 1), Verdict.INSUFFICIENT, LACK, None, Action.WAIT, "15/20"),
    ("second extension", Position(0, 20, 1), Verdict.INSUFFICIENT, LACK, None, Action.EXTEND, "(2/2)"),
    (
        "still no data after the last extension: roll back",
        Position(0, 30, 2),
        Verdict.INSUFFICIENT,
        LACK,
        None,
        Action.ROLLBACK,
        "never passed on silence",
    ),
    ("data arrives during an extension", Position(2, 20, 1), Verdict.PASS, PASS, None, Action.NEXT, "step 3 (50%) passed"),
    # an extension ends as soon as there is enough data, not after another whole step
    ("enough data early in an extension", Position(2, 12, 1), Verdict.PASS, PASS, None, Action.NEXT, "step 3 (50%) passed"),
    (
        "clock jumped back: negative hold waits",
        Position(1, -30, 0),
        Verdict.PASS,
        PASS,
        None,
        Action.WAIT,
        "holding step 2 (0/10",
    ),
    ("clock jumped far forward: data decides", Position(1, 3600, 0), Verdict.PASS, PASS, None, Action.NEXT, "passed"),
    (
        "skipped checks count as a pass",
        Position(3, 10, 0),
        Verdict.PASS,
        [CheckResult("p95_vs_stable", Verdict.SKIPPED, None, None, "no stable baseline")],
        None,
        Action.PROMOTE,
        "all 4",
    ),
]


@pytest.mark.parametrize(
    ("position", "verdict", "results", "command", "action", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decide(
    position: Position, verdict: Verdict, results: list[CheckResult], command: str | None, action: Action, words: str
) -> None:
    decision = decide(POLICY, position, verdict, results, command)
    assert decision.action == action
    assert words in decision.reason


def test_zero_extensions_policy_rolls_back_on_first_silence() -> None:
    strict = Canary(steps=[10, 50], step_seconds=5, max_step_extensions=0)
    decision = decide(strict, Position(0, 5, 0), Verdict.INSUFFICIENT, LACK)
    assert decision.action == Action.ROLLBACK


def test_single_step_policy_promotes_after_it() -> None:
    single = Canary(steps=[100], step_seconds=5, compare_with="stable")
    assert decide(single, Position(0, 5, 0), Verdict.PASS, PASS).action == Action.PROMOTE


PATIENT = Canary(steps=[5, 25, 50], step_seconds=10, latency_windows=2)
CONFIRM_CASES = [
    # (id, position, results, command, expected action, words in the reason)
    (
        "a latency failure is measured again",
        Position(1, 10, 0, 0),
        SLOW,
        None,
        Action.CONFIRM,
        "acted on only if the same check fails 2 times in a row",
    ),
    (
        "the fresh window fails the same check: roll back",
        Position(1, 10, 0, 1, {"p95_ms": 1}),
        SLOW,
        None,
        Action.ROLLBACK,
        "p95_ms: canary p95 700.0 ms > 500.0 ms (failed in 2 windows in a row)",
    ),
    # another check failing in the confirming window is a new suspicion, measured again in its turn
    ("the fresh window fails another check", Position(1, 10, 0, 1, {"mann_whitney": 1}), SLOW, None, Action.CONFIRM, "fresh"),
    (
        "latency checks failing in turn for ever: act",
        Position(1, 10, 0, 2, {"mann_whitney": 1}),
        SLOW,
        None,
        Action.ROLLBACK,
        "latency checks failed in 3 windows in a row",
    ),
    ("errors are never re-measured", Position(1, 10, 0, 0), FAIL + SLOW, None, Action.ROLLBACK, "error_rate"),
    ("errors mid-step still act at once", Position(1, 2, 0, 0), FAIL, None, Action.ROLLBACK, "30.0% errors"),
    ("mid-step latency still waits", Position(1, 4, 0, 0), SLOW, None, Action.WAIT, "holding"),
    ("an operator promote is not delayed", Position(1, 10, 0, 0), SLOW, "promote", Action.ROLLBACK, "p95_ms"),
]


@pytest.mark.parametrize(
    ("position", "results", "command", "action", "words"), [c[1:] for c in CONFIRM_CASES], ids=[c[0] for c in CONFIRM_CASES]
)
def test_latency_windows(position: Position, results: list[CheckResult], command: str | None, action: Action, words: str) -> None:
    decision = decide(PATIENT, position, Verdict.FAIL, results, command)
    assert decision.action == action
    assert words in decision.reason


def test_three_latency_windows_measure_twice_more() -> None:
    thrice = Canary(steps=[5, 25, 50], step_seconds=10, latency_windows=3)
    assert decide(thrice, Position(1, 10, 0, 1, {"p95_ms": 1}), Verdict.FAIL, SLOW).action == Action.CONFIRM
    assert decide(thrice, Position(1, 10, 0, 2, {"p95_ms": 2}), Verdict.FAIL, SLOW).action == Action.ROLLBACK


def test_streaks_count_the_same_check_in_consecutive_windows() -> None:
    from pipeline.canary.decide import streaks_after

    mw = [CheckResult("mann_whitney", Verdict.FAIL, 0.3, 0.2, "slower")]
    assert streaks_after({}, SLOW) == {"p95_ms": 1}
    assert streaks_after({"p95_ms": 1}, SLOW) == {"p95_ms": 2}
    assert streaks_after({"p95_ms": 1}, mw) == {"mann_whitney": 1}  # p95 passed this window: its streak ends
    assert streaks_after({"p95_ms": 1}, FAIL) == {}  # errors are not latency checks


BAKING = Canary(steps=[5, 25, 50], step_seconds=10, bake_seconds=60, latency_windows=2)
NOT_READY = [CheckResult("readiness", Verdict.FAIL, 1, 0, "a new stable task stopped being ready")]
BAKE_CASES = [
    # (id, position, results, command, expected action, words in the reason)
    ("an operator's rollback reverts at once", BakePosition(3), PASS, "rollback", Action.ROLLBACK, "operator"),
    ("an abort in the bake reverts too", BakePosition(3), PASS, "abort", Action.ROLLBACK, "(abort)"),
    ("an operator's promote ends the bake", BakePosition(3), SLOW, "promote", Action.PROMOTE, "ended the bake"),
    ("errors revert at once", BakePosition(2), FAIL, None, Action.ROLLBACK, "30.0% errors"),
    ("readiness reverts at once", BakePosition(2), NOT_READY, None, Action.ROLLBACK, "stopped being ready"),
    ("latency waits for the whole bake", BakePosition(30), SLOW, None, Action.WAIT, "baking (30/60 s)"),
    ("latency at the bake's end is measured again", BakePosition(60), SLOW, None, Action.CONFIRM, "fresh window"),
    ("the fresh window is as long as a step", BakePosition(5, 1, {"p95_ms": 1}), SLOW, None, Action.WAIT, "(5/10 s)"),
    ("the same check again reverts", BakePosition(10, 1, {"p95_ms": 1}), SLOW, None, Action.ROLLBACK, "p95_ms"),
    ("a fresh window that passes keeps the release", BakePosition(10, 1, {"p95_ms": 1}), PASS, None, Action.PROMOTE, "passed"),
    ("a clean bake keeps the release", BakePosition(60), PASS, None, Action.PROMOTE, "bake of 60 s passed"),
    ("checks failing in turn act in the end", BakePosition(10, 2, {"p99_ms": 1}), SLOW, None, Action.ROLLBACK, "p95"),
    (
        "the fresh window has the previous release beside the new stable",
        BakePosition(60, beside=50),
        SLOW,
        None,
        Action.CONFIRM,
        "previous release beside it at 50 %",
    ),
    (
        "errors against the previous release beside it revert at once",
        BakePosition(2, 1, {"p95_ms": 1}, beside=50),
        [CheckResult("error_rate_vs_previous", Verdict.FAIL, 0.2, 0.01, "canary 20.0% errors > 1.0%")],
        None,
        Action.ROLLBACK,
        "error_rate_vs_previous",
    ),
]


@pytest.mark.parametrize(
    ("position", "results", "command", "action", "words"), [c[1:] for c in BAKE_CASES], ids=[c[0] for c in BAKE_CASES]
)
def test_the_bake(position: BakePosition, results: list[CheckResult], command: str | None, action: Action, words: str) -> None:
    decision = decide_bake(BAKING, position, results, command)
    assert decision.action == action
    assert words in decision.reason


NEAR = [CheckResult("route_latency", Verdict.PASS, 0.039, 0.00625, "4 group(s) judged: none worse (smallest p=0.039)")]
FAR = [CheckResult("route_latency", Verdict.PASS, 0.4, 0.00625, "4 group(s) judged: none worse (smallest p=0.4)")]
LAST = len(POLICY.steps) - 1  # the last step
NEAR_CASES = [
    # (id, position, results, expected action, words in the reason)
    ("a near miss at the last step holds it for more data", Position(LAST, 10, 0), NEAR, Action.EXTEND, "for more data (1/2)"),
    ("meanwhile the step is held", Position(LAST, 14, 1), NEAR, Action.WAIT, "held for more data (14/20 s)"),
    ("still near after the extension: once more", Position(LAST, 20, 1), NEAR, Action.EXTEND, "(2/2)"),
    ("still near when the extensions are spent: promoted", Position(LAST, 30, 2), NEAR, Action.PROMOTE, "steps passed"),
    ("no longer near: promoted at once", Position(LAST, 12, 1), FAR, Action.PROMOTE, "steps passed"),
    ("far from its level: promoted", Position(LAST, 10, 0), FAR, Action.PROMOTE, "steps passed"),
    ("a near miss before the last step: the next steps bring the data", Position(0, 10, 0), NEAR, Action.NEXT, "passed"),
    ("after a fresh window cleared a failure: not held again", Position(LAST, 10, 0, 1), NEAR, Action.PROMOTE, "steps passed"),
]


@pytest.mark.parametrize(("position", "results", "action", "words"), [c[1:] for c in NEAR_CASES], ids=[c[0] for c in NEAR_CASES])
def test_a_latency_test_near_its_level_holds_the_last_step(
    position: Position, results: list[CheckResult], action: Action, words: str
) -> None:
    decision = decide(POLICY, position, Verdict.PASS, results)
    assert decision.action == action
    assert words in decision.reason


# --- a latency test cleared by a fresh window at one step and failing again at a later one -----------

LEVEL = 0.00625  # route_latency's level (alpha / groups); POLICY has 4 steps: a repeat needs p < LEVEL / 4
AGAIN = [CheckResult("route_latency", Verdict.FAIL, 7e-5, LEVEL, "GET /api/notes: 19/149 canary requests slower")]
AGAIN_WEAK = [CheckResult("route_latency", Verdict.FAIL, 0.0028, LEVEL, "all requests: 23/377 canary requests slower")]
FORGIVEN = frozenset({"route_latency"})

STRIKE_CASES = [
    ("failing again after an earlier step forgave it: rolled back", Position(2, 10, 0, 0, {}, FORGIVEN), AGAIN,
     Action.ROLLBACK, "failed again at this step after a fresh window cleared it"),
    ("the repeat must pass level / steps: a weak one is measured again", Position(2, 10, 0, 0, {}, FORGIVEN), AGAIN_WEAK,
     Action.CONFIRM, "measuring a fresh window"),
    ("never forgiven: its first failure is measured again", Position(2, 10, 0), AGAIN, Action.CONFIRM, "fresh window"),
    ("another test forgiven: this one is measured again", Position(2, 10, 0, 0, {}, frozenset({"p95_ms"})), AGAIN,
     Action.CONFIRM, "fresh window"),
    ("not before the hold is over", Position(2, 4, 0, 0, {}, FORGIVEN), AGAIN, Action.WAIT, "holding"),
    ("only a test with a p-value counts a repeat", Position(2, 10, 0, 0, {}, frozenset({"p95_ms"})), SLOW,
     Action.CONFIRM, "fresh window"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("position", "results", "action", "words"), [c[1:] for c in STRIKE_CASES], ids=[c[0] for c in STRIKE_CASES]
)
def test_a_latency_test_failing_again_at_a_later_step_acts(
    position: Position, results: list[CheckResult], action: Action, words: str
) -> None:
    decision = decide(POLICY, position, Verdict.FAIL, results)
    assert decision.action == action
    assert words in decision.reason
