"""The canary checks of one traffic step: canary vs its absolute limits and vs its reference (baseline or stable)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pipeline.analysis.stats import binom_sf, mann_whitney, quantile_exceeds, quantile_upper_bound
from pipeline.analysis.window import TrackWindow
from pipeline.environment.model import Thresholds


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INSUFFICIENT = "insufficient"  # not enough canary traffic yet: hold or extend the step
    SKIPPED = "skipped"  # the check does not apply (e.g. no stable baseline at 100 %)


@dataclass(frozen=True)
class CheckResult:
    """One check: its verdict, the measured value, the limit it was held to and a one-line reason."""

    name: str
    verdict: Verdict
    value: float | None
    limit: float | None
    detail: str

    def as_dict(self) -> dict[str, str | float | None]:
        return {"name": self.name, "verdict": self.verdict.value, "value": self.value, "limit": self.limit, "detail": self.detail}


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def _ms(value: float) -> str:
    return f"{value:.1f} ms"


def _too_few(canary: TrackWindow, t: Thresholds) -> str:
    return f"canary {canary.requests} requests < {t.min_requests} needed"


def _check_requests(canary: TrackWindow, t: Thresholds) -> CheckResult:
    ok = canary.requests >= t.min_requests
    detail = f"canary {canary.requests} requests >= {t.min_requests} needed" if ok else _too_few(canary, t)
    return CheckResult("requests", Verdict.PASS if ok else Verdict.INSUFFICIENT, canary.requests, t.min_requests, detail)


def _significant(errors: int, requests: int, limit: float, t: Thresholds) -> tuple[bool, float]:
    """Is ``errors`` in ``requests`` more than ``limit`` allows, beyond chance? (binomial tail)"""
    if requests == 0 or errors / requests <= limit:
        return False, 1.0
    p_value = binom_sf(errors, requests, limit)
    return p_value < t.error_alpha, p_value


def _check_error_rate(canary: TrackWindow, t: Thresholds) -> CheckResult:
    """Absolute error rate. It fails only when the excess is significant (``error_alpha``), so a
    very bad canary fails within a few requests (3 errors in 10 at a 1 % limit) while one stray
    error in 20 does not; below ``min_requests`` anything short of that is "insufficient"."""
    rate, limit = canary.error_rate, t.max_error_rate
    failing, p_value = _significant(canary.errors, canary.requests, limit, t)
    if failing:
        detail = f"canary {_pct(rate)} errors ({canary.errors}/{canary.requests}) > {_pct(limit)} allowed (p={p_value:.2g})"
        return CheckResult("error_rate", Verdict.FAIL, rate, limit, detail)
    if canary.requests < t.min_requests:
        detail = f"{_too_few(canary, t)} ({canary.errors} errors so far)"
        return CheckResult("error_rate", Verdict.INSUFFICIENT, rate, limit, detail)
    note = f" (not significant, p={p_value:.2g})" if rate > limit else ""
    return CheckResult("error_rate", Verdict.PASS, rate, limit, f"canary {_pct(rate)} errors <= {_pct(limit)} allowed{note}")


def _has_baseline(reference: TrackWindow, t: Thresholds) -> bool:
    return reference.requests >= t.min_requests and reference.requests > 0


def _no_baseline(reference: TrackWindow, t: Thresholds, against: str) -> str:
    return f"no {against} to compare with ({reference.requests} requests < {t.min_requests})"


def _check_error_rate_vs(canary: TrackWindow, reference: TrackWindow, t: Thresholds, against: str) -> CheckResult:
    """Canary error rate against the reference's (baseline or stable) times ``max_error_rate_ratio``,
    plus half the absolute allowance as a tolerance: without it any single error against a
    zero-error reference would fail (0 * ratio = 0); with it a canary needs more than
    ``max_error_rate / 2`` errors per request."""
    name = f"error_rate_vs_{against}"
    if not _has_baseline(reference, t):
        return CheckResult(name, Verdict.SKIPPED, None, None, _no_baseline(reference, t, against))
    limit = reference.error_rate * t.max_error_rate_ratio + t.max_error_rate / 2
    rate = canary.error_rate
    if canary.requests < t.min_requests and not _significant(canary.errors, canary.requests, limit, t)[0]:
        return CheckResult(name, Verdict.INSUFFICIENT, rate, limit, _too_few(canary, t))
    how = f"({against} {_pct(reference.error_rate)} x {t.max_error_rate_ratio:g} + {_pct(t.max_error_rate / 2)})"
    failing, p_value = _significant(canary.errors, canary.requests, limit, t)
    if failing:
        return CheckResult(name, Verdict.FAIL, rate, limit, f"canary {_pct(rate)} errors > {_pct(limit)} {how}, p={p_value:.2g}")
    return CheckResult(name, Verdict.PASS, rate, limit, f"canary {_pct(rate)} errors <= {_pct(limit)} {how}")


def _latency_alpha(t: Thresholds) -> float:
    return 1.0 - t.latency_confidence


def _check_latency(
    canary: TrackWindow, t: Thresholds, q: float, limit: float, reference: TrackWindow | None = None, against: str = ""
) -> CheckResult:
    """The canary's q-th percentile against an absolute limit. It fails only when a quantile test
    says the true percentile is above the limit at ``latency_confidence``: k of n timed requests
    above the limit, where at most (1 - q) of them would be if the limit held. When the reference
    (served beside it, over the same time) is over the limit as well, the host is slow, not the
    release: the relative checks judge the canary then."""
    name = f"p{q:g}_ms"
    if canary.requests < t.min_requests:
        return CheckResult(name, Verdict.INSUFFICIENT, canary.percentile(q), limit, _too_few(canary, t))
    value = canary.percentile(q)
    if value is None:
        return CheckResult(name, Verdict.INSUFFICIENT, None, limit, "no successful canary request to time")
    if value <= limit:
        return CheckResult(name, Verdict.PASS, value, limit, f"canary p{q:g} {_ms(value)} <= {_ms(limit)} allowed")
    above, p_value = quantile_exceeds(canary.latencies_ms, limit, q / 100.0)
    over = f"{above}/{len(canary.latencies_ms)} requests above it, p={p_value:.2g}"
    theirs = reference.percentile(q) if reference is not None and _has_baseline(reference, t) else None
    if theirs is not None and theirs > limit:
        detail = (
            f"canary p{q:g} {_ms(value)} > {_ms(limit)} allowed, but {against} p{q:g} is {_ms(theirs)}: "
            "the host is slow, not the release (the relative checks judge it)"
        )
        return CheckResult(name, Verdict.PASS, value, limit, detail)
    if p_value < _latency_alpha(t):
        return CheckResult(name, Verdict.FAIL, value, limit, f"canary p{q:g} {_ms(value)} > {_ms(limit)} allowed ({over})")
    detail = f"canary p{q:g} {_ms(value)} > {_ms(limit)}, not significant ({over}, needs p < {_latency_alpha(t):.2g})"
    return CheckResult(name, Verdict.PASS, value, limit, detail)


def _check_p95_vs(canary: TrackWindow, reference: TrackWindow, t: Thresholds, against: str) -> CheckResult:
    """Canary p95 against the reference's: the limit is ``max(ref * ratio, ref + min_latency_delta_ms)``.

    Both p95s are estimates, so the check fails only with confidence ``latency_confidence``: the
    limit is taken from an upper confidence bound of the reference's p95 (an order statistic), and
    a quantile test must show the canary's p95 above that limit; each side spends half of alpha.
    The limit reported is the one tested."""
    name = f"p95_vs_{against}"
    base = reference.p95
    if not _has_baseline(reference, t) or base is None:
        reason = f"no successful {against} request to compare with" if _has_baseline(reference, t) else ""
        return CheckResult(name, Verdict.SKIPPED, None, None, reason or _no_baseline(reference, t, against))
    value = canary.p95
    if canary.requests < t.min_requests or value is None:
        reason = _too_few(canary, t) if canary.requests < t.min_requests else "no successful canary request to time"
        return CheckResult(name, Verdict.INSUFFICIENT, value, None, reason)
    half = _latency_alpha(t) / 2
    bound = quantile_upper_bound(reference.latencies_ms, 0.95, half)
    if not math.isfinite(bound):
        reason = f"{len(reference.latencies_ms)} timed {against} requests are too few to bound its p95; mann_whitney judges"
        return CheckResult(name, Verdict.SKIPPED, value, None, reason)
    limit = max(bound * t.max_latency_ratio, bound + t.min_latency_delta_ms)
    how = (
        f"{against} p95 {_ms(base)}, at most {_ms(bound)} at {1 - half:.3g}, x {t.max_latency_ratio:g} "
        f"and + {_ms(t.min_latency_delta_ms)}"
    )
    if value <= limit:
        return CheckResult(name, Verdict.PASS, value, limit, f"canary p95 {_ms(value)} <= {_ms(limit)} ({how})")
    above, p_value = quantile_exceeds(canary.latencies_ms, limit, 0.95)
    over = f"{above}/{len(canary.latencies_ms)} above it, p={p_value:.2g}"
    if p_value < half:
        return CheckResult(name, Verdict.FAIL, value, limit, f"canary p95 {_ms(value)} > {_ms(limit)} ({how}; {over})")
    detail = f"canary p95 {_ms(value)} > {_ms(limit)}, not significant ({how}; {over})"
    return CheckResult(name, Verdict.PASS, value, limit, detail)


def _check_mann_whitney(canary: TrackWindow, reference: TrackWindow, t: Thresholds, against: str) -> CheckResult:
    """Canary latencies stochastically greater than the reference's: fails when significant (p < alpha),
    large enough (effect > tolerance) and material (median difference > ``min_latency_delta_ms``)."""
    name = "mann_whitney"
    limit = t.effect_size_tolerance
    if not _has_baseline(reference, t) or not reference.latencies_ms:
        reason = f"no successful {against} request to compare with" if _has_baseline(reference, t) else ""
        return CheckResult(name, Verdict.SKIPPED, None, None, reason or _no_baseline(reference, t, against))
    if canary.requests < t.min_requests or not canary.latencies_ms:
        reason = _too_few(canary, t) if canary.requests < t.min_requests else "no successful canary request to time"
        return CheckResult(name, Verdict.INSUFFICIENT, None, limit, reason)
    test = mann_whitney(canary.latencies_ms, reference.latencies_ms)
    delta = statistics.median(canary.latencies_ms) - statistics.median(reference.latencies_ms)
    slower = test.p_value < t.mann_whitney_alpha and test.effect > limit and delta > t.min_latency_delta_ms
    detail = (
        f"p={test.p_value:.3g} (alpha {t.mann_whitney_alpha:g}), effect {test.effect:+.2f} (tolerance {limit:g}), "
        f"median {delta:+.1f} ms (min {t.min_latency_delta_ms:g} ms): "
        + (f"canary slower than {against}" if slower else "no material slowdown")
    )
    return CheckResult(name, Verdict.FAIL if slower else Verdict.PASS, test.effect, limit, detail)


def absolute(canary: TrackWindow, reference: TrackWindow, t: Thresholds, against: str) -> list[CheckResult]:
    """The checks against env.yaml's absolute limits only, in ``analyse``'s order: requests,
    error_rate, p95_ms, p99_ms (the reference only says whether the host is slow for both)."""
    return [
        _check_requests(canary, t),
        _check_error_rate(canary, t),
        _check_latency(canary, t, 95.0, t.max_p95_ms, reference, against),
        _check_latency(canary, t, 99.0, t.max_p99_ms, reference, against),
    ]


def analyse(canary: TrackWindow, reference: TrackWindow, t: Thresholds, against: str = "stable") -> list[CheckResult]:
    """Every check of one step, in a fixed order: requests, error_rate, error_rate_vs_<against>,
    p95_ms, p99_ms, p95_vs_<against>, mann_whitney. ``reference`` is the track the canary is judged
    against (``against``: "baseline" or "stable"). Relative checks are SKIPPED when the reference
    has fewer than ``min_requests`` requests; checks needing canary traffic are INSUFFICIENT below it.
    Every latency check that can fail has a test of chance behind it (``latency_confidence``)."""
    requests, error_rate, p95, p99 = absolute(canary, reference, t, against)
    return [
        requests,
        error_rate,
        _check_error_rate_vs(canary, reference, t, against),
        p95,
        p99,
        _check_p95_vs(canary, reference, t, against),
        _check_mann_whitney(canary, reference, t, against),
    ]


def overall(results: Sequence[CheckResult]) -> Verdict:
    """FAIL if any check failed, else INSUFFICIENT if any lacked data, else PASS (skips don't count)."""
    verdicts = {result.verdict for result in results}
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if Verdict.INSUFFICIENT in verdicts:
        return Verdict.INSUFFICIENT
    return Verdict.PASS
