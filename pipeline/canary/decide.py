"""The controller's decisions as one pure function, tested table by table.

Inputs are what the controller knows at a tick: the policy, where it is in the walk,
how long the step has been held, the analysis verdict so far, and any operator
command. The output says what to do next. Nothing here reads a clock or a target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pipeline.analysis.checks import CheckResult, Verdict
from pipeline.environment.model import Canary


class Action(StrEnum):
    WAIT = "wait"  # keep holding the step
    NEXT = "next"  # move to the next weight
    EXTEND = "extend"  # not enough data: hold the step once more
    CONFIRM = "confirm"  # a latency check failed: measure a fresh window before acting on it
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    ABORT = "abort"


@dataclass(frozen=True)
class Position:
    step: int  # index into policy.steps
    held: float  # seconds the step has been held (negative after a clock jump back)
    extensions: int  # times this step was extended for lack of data
    confirmations: int = 0  # fresh windows measured after a latency failure in this step
    # latency check -> consecutive held windows of this step it failed in, before this one
    streaks: Mapping[str, int] = field(default_factory=dict)
    # latency checks that failed at an earlier step of this walk and were cleared by a fresh window
    forgiven: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


@dataclass(frozen=True)
class BakePosition:
    held: float  # seconds the bake has been held (its fresh window's, after a confirmation)
    confirmations: int = 0  # fresh windows measured after latency failures in the bake
    streaks: Mapping[str, int] = field(default_factory=dict)  # as in Position
    # the share the warm previous release takes beside the new stable in a fresh window (0: none can)
    beside: int = 0


OPERATOR = "rolled back by the operator"


# Checks that may fail a step before its hold is over: error counts are tested for
# significance, and a canary task that stays unready (while its reference is ready) is
# never a release to keep, so an early failure is real. Latency is judged over the whole hold.
EARLY_CHECKS = frozenset(
    {"error_rate", "error_rate_vs_stable", "error_rate_vs_baseline", "error_rate_vs_previous", "route_errors", "readiness"}
)


def latency_failures(results: list[CheckResult]) -> list[str]:
    """The checks that failed and act only at a hold's end, after a confirming window (latency)."""
    return [r.name for r in results if r.verdict == Verdict.FAIL and r.name not in EARLY_CHECKS]


def streaks_after(streaks: Mapping[str, int], results: list[CheckResult]) -> dict[str, int]:
    """The streaks once this window is counted: a latency check that failed again grows, one that passed ends."""
    return {name: streaks.get(name, 0) + 1 for name in latency_failures(results)}


def lasting(policy: Canary, streaks: Mapping[str, int], results: list[CheckResult]) -> list[str]:
    """Latency checks that have now failed in ``latency_windows`` consecutive windows: those act.
    The same check must fail again: with several latency checks, one failing by chance in each
    window is likely on a busy host; the same one failing twice is not."""
    return [name for name, n in streaks_after(streaks, results).items() if n >= policy.latency_windows]


# a route_latency whose p-value at the last step is within this factor of its level (p < 8 x level)
# is a near miss: the step is held longer (``max_step_extensions``) for data before promotion
NEAR_MISS = 8.0


def near_misses(results: list[CheckResult]) -> list[CheckResult]:
    """Latency tests that passed close to their level: more data would likely settle them (a small
    real slowdown gains significance, chance loses it)."""
    return [
        r
        for r in results
        if r.name == "route_latency"
        and r.verdict == Verdict.PASS
        and r.value is not None
        and r.limit
        and r.value < NEAR_MISS * r.limit
    ]


# latency tests with a p-value whose failure, cleared once by a fresh window, counts again at a later step
STRIKE_CHECKS = frozenset({"route_latency"})


def repeated(policy: Canary, at: Position, results: list[CheckResult]) -> list[CheckResult]:
    """Latency tests failing again on requests measured after a fresh window cleared them at an earlier
    step (``route_latency`` reads the walk from that window on: new data, not the burst it forgave),
    with p below their level divided by the number of steps (the repeat was looked for at each of them).
    Chance fails such a test at two steps once in thousands of walks; a slowdown of a small share of the
    requests, too small for a short fresh window to show, fails it at every step."""
    return [
        r
        for r in results
        if r.name in at.forgiven
        and r.name in STRIKE_CHECKS
        and r.verdict == Verdict.FAIL
        and r.value is not None
        and r.limit
        and r.value < r.limit / len(policy.steps)
    ]


def confirmations_allowed(policy: Canary) -> int:
    """Fresh windows a hold may add after latency failures before it acts anyway (checks that fail
    in turn, a different one each window, are not chance for ever)."""
    return policy.latency_windows


def _failures(results: list[CheckResult], only: frozenset[str] | None = None) -> str:
    failed = [r for r in results if r.verdict == Verdict.FAIL and (only is None or r.name in only)]
    return "; ".join(f"{r.name}: {r.detail}" for r in failed)


def decide(
    policy: Canary,
    at: Position,
    verdict: Verdict,
    results: list[CheckResult],
    command: str | None = None,
) -> Decision:
    """What to do now. A failure acts at once, mid-step; everything else waits for the step's end."""
    last = at.step >= len(policy.steps) - 1
    where = f"step {at.step + 1} ({policy.steps[at.step]}%)"
    # a step is held step_seconds; an extension (for lack of data) ends as soon as there is enough
    hold = policy.step_seconds
    held = at.held >= hold
    if command == "abort":
        return Decision(Action.ABORT, "aborted by an operator")
    early = _failures(results, EARLY_CHECKS)
    if verdict == Verdict.FAIL and held and not early and not command:
        # latency tails are bursty on a busy host: a real slowdown fails the same check in the next window too
        again = repeated(policy, at, results)
        if again:
            return Decision(
                Action.ROLLBACK,
                f"{where}: {_failures(again)} (failed again at this step after a fresh window cleared it at an earlier "
                f"one, p below its level / {len(policy.steps)} steps)",
            )
        confirmed = lasting(policy, at.streaks, results)
        if confirmed:
            reason = _failures([r for r in results if r.name in confirmed])
            return Decision(Action.ROLLBACK, f"{where}: {reason} (failed in {policy.latency_windows} windows in a row)")
        if at.confirmations < confirmations_allowed(policy):
            return Decision(
                Action.CONFIRM,
                f"{where}: {_failures(results)}; measuring a fresh window: acted on only if the same check fails "
                f"{policy.latency_windows} times in a row",
            )
        return Decision(
            Action.ROLLBACK, f"{where}: {_failures(results)} (latency checks failed in {at.confirmations + 1} windows in a row)"
        )
    if verdict == Verdict.FAIL and (held or early or command == "promote"):
        return Decision(Action.ROLLBACK, f"{where}: {_failures(results) if held or command else early}")
    if command == "promote":
        return Decision(Action.PROMOTE, "promoted by an operator (remaining steps skipped)")
    if not held:
        return Decision(Action.WAIT, f"holding step {at.step + 1} ({max(at.held, 0):.0f}/{hold:.0f} s)")
    if verdict == Verdict.INSUFFICIENT:
        extended = hold * (1 + at.extensions)
        if at.held < extended:
            return Decision(
                Action.WAIT, f"step {at.step + 1}: insufficient data, extended ({max(at.held, 0):.0f}/{extended:.0f} s)"
            )
        if at.extensions < policy.max_step_extensions:
            return Decision(
                Action.EXTEND,
                f"step {at.step + 1}: insufficient data, extending ({at.extensions + 1}/{policy.max_step_extensions})",
            )
        return Decision(
            Action.ROLLBACK,
            f"step {at.step + 1}: insufficient data after {at.extensions} extension(s); a canary is never passed on silence",
        )
    near = near_misses(results) if last and verdict == Verdict.PASS and not at.confirmations else []
    if near:  # before promotion: a latency test near its level holds the last step for more data
        extended = hold * (1 + at.extensions)
        close = near[0]
        how = f"{close.name} p={close.value:.2g} near its level {close.limit:.2g}"
        if at.held < extended:
            return Decision(Action.WAIT, f"{where}: {how}: held for more data ({max(at.held, 0):.0f}/{extended:.0f} s)")
        if at.extensions < policy.max_step_extensions:
            return Decision(
                Action.EXTEND,
                f"{where}: {how}: holding the last step for more data ({at.extensions + 1}/{policy.max_step_extensions})",
            )
    if last:
        return Decision(Action.PROMOTE, f"all {len(policy.steps)} steps passed")
    return Decision(Action.NEXT, f"step {at.step + 1} ({policy.steps[at.step]}%) passed")


def decide_bake(policy: Canary, at: BakePosition, results: list[CheckResult], command: str | None = None) -> Decision:
    """What to do at a tick of the bake (the new stable alone, the previous release warm at weight 0).

    The rules of a step: an operator's rollback or abort reverts at once and promote ends the bake
    (PROMOTE: the new stable is kept); an error check or readiness failing reverts at once; latency
    is judged when the bake has been held ``bake_seconds`` (an edge whose log could not be read then
    reverts: what it served nobody judged), and a latency failure reverts only when
    the same check has failed in ``latency_windows`` windows in a row (else CONFIRM: a fresh window
    held as long as a step, at most ``confirmations_allowed`` of them, with the warm previous release
    beside the new stable at ``at.beside`` percent when it can be, so that a slow host shows in both).
    ROLLBACK here means "revert to the previous release".
    """
    if command in ("rollback", "abort"):
        return Decision(Action.ROLLBACK, f"{OPERATOR} during the bake ({command})")
    if command == "promote":
        return Decision(Action.PROMOTE, "the operator ended the bake")
    # the bake is held bake_seconds; a fresh window after a latency failure as long as a step's
    hold = policy.bake_seconds if not at.confirmations else min(policy.bake_seconds, policy.step_seconds)
    held = at.held >= hold
    early = _failures(results, EARLY_CHECKS)
    if early:
        return Decision(Action.ROLLBACK, early)
    unseen = [r for r in results if r.name == "edge_logs" and r.verdict == Verdict.INSUFFICIENT]
    if held and unseen:  # what an edge served nobody read: the bake cannot pass
        return Decision(Action.ROLLBACK, f"bake: insufficient data: {unseen[0].detail}")
    if held and latency_failures(results):
        if not lasting(policy, at.streaks, results) and at.confirmations < confirmations_allowed(policy):
            beside = f" with the previous release beside it at {at.beside} %" if at.beside else ""
            return Decision(Action.CONFIRM, f"bake: {_failures(results)}; measuring a fresh window{beside}")
        return Decision(Action.ROLLBACK, _failures(results))
    if held:
        return Decision(Action.PROMOTE, f"the bake of {policy.bake_seconds:g} s passed")
    return Decision(Action.WAIT, f"baking ({max(at.held, 0):.0f}/{hold:g} s)")
