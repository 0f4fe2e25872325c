"""The canary judged route by route, over the whole walk.

A fault on one endpoint, on writes only, or on a tenth of the requests is diluted below
significance in a whole track's window of one step (the judge bench of 2026-12-01 promoted two
such releases). Here the evidence is every request since the canary's first traffic, split by
route (method and path template), with all requests as one more group; each group is tested
against the reference's same group over the same time, at the level the policy sets divided
by the number of groups (Bonferroni), so judging more groups does not make a false rollback
more likely.

- ``route_errors`` acts at once, like the other error checks: a group whose canary error rate is
  above the reference's (times ``max_error_rate_ratio``, plus half the absolute allowance) beyond
  chance. Without a reference group (the bake before there is one, a route the reference never
  served) the absolute ``max_error_rate`` is the limit.
- ``route_latency`` is a latency check: it fails at a step's end, and a failure must be seen again
  in a fresh window before it acts. A group fails when a larger share of its canary requests is
  slower than ``max(p95 * max_latency_ratio, p95 + min_latency_delta_ms)`` of the reference group
  than of the reference's own, beyond chance (an exact two-sample test) and by ``MIN_EXCESS`` at
  least; in the fresh window (``fresh``) the canary's share must still exceed the reference's by
  that margin: a burst that has passed is not seen again, a slow release is.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.analysis.checks import CheckResult, Verdict
from pipeline.analysis.stats import binom_sf
from pipeline.analysis.window import TrackWindow
from pipeline.environment.model import Thresholds

ALL = "all requests"
EMPTY = TrackWindow("none")
FRESH_MIN = 10  # timed requests of a group in the fresh window before it can confirm a latency failure
MIN_EXCESS = 0.02  # a canary's share of slow requests must exceed the reference's by this much to fail


def groups(window: TrackWindow) -> Iterator[tuple[str, TrackWindow]]:
    """All requests, then each route the source told apart (none when it knows no routes)."""
    yield ALL, window
    if len(window.routes) > 1:  # one route is the same group as all requests
        yield from window.routes.items()


def _group(window: TrackWindow | None, name: str) -> TrackWindow:
    if window is None:
        return EMPTY
    return window if name == ALL else window.routes.get(name, EMPTY)


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


@dataclass(frozen=True)
class _Finding:
    route: str
    p_value: float
    detail: str


def _verdict(name: str, found: list[_Finding], judged: int, what: str, alpha: float, closest: float) -> CheckResult:
    """One result for all groups: the value is the smallest p-value of any group, the limit the
    level each group is held to (a value under the limit fails)."""
    if judged == 0:
        return CheckResult(name, Verdict.SKIPPED, None, None, f"no route has enough {what} yet")
    level = f"alpha {alpha:.2g} / {judged} group{'s' if judged > 1 else ''}"
    if not found:
        detail = f"{judged} group(s) judged ({level}): none worse (smallest p={closest:.2g})"
        return CheckResult(name, Verdict.PASS, closest, alpha / judged, detail)
    found.sort(key=lambda f: f.p_value)
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return CheckResult(name, Verdict.FAIL, found[0].p_value, alpha / judged, f"{found[0].detail}{more} ({level})")


def route_errors(canary: TrackWindow, reference: TrackWindow | None, t: Thresholds, against: str) -> CheckResult:
    """Does any group of the canary fail more than its reference group allows, beyond chance?"""
    pairs = [(name, window, _group(reference, name)) for name, window in groups(canary) if window.requests]
    alpha = t.error_alpha / max(1, len(pairs))
    found = []
    closest = 1.0
    for route, mine, ref in pairs:
        if ref.requests >= max(1, t.min_requests):
            limit = ref.error_rate * t.max_error_rate_ratio + t.max_error_rate / 2
            how = f"{against} {_pct(ref.error_rate)} x {t.max_error_rate_ratio:g} + {_pct(t.max_error_rate / 2)}"
        else:
            limit = t.max_error_rate
            how = f"allowed; {against} has {ref.requests} requests there"
        if mine.error_rate <= limit:
            continue
        p_value = binom_sf(mine.errors, mine.requests, limit)
        closest = min(closest, p_value)
        if p_value < alpha:
            rate = f"{_pct(mine.error_rate)} errors ({mine.errors}/{mine.requests})"
            detail = f"{route}: canary {rate} > {_pct(limit)} ({how}), p={p_value:.2g}"
            found.append(_Finding(route, p_value, detail))
    return _verdict("route_errors", found, len(pairs), "requests", t.error_alpha, closest)


def route_latency(
    canary: TrackWindow,
    reference: TrackWindow,
    t: Thresholds,
    against: str,
    fresh: TrackWindow | None = None,
    fresh_reference: TrackWindow | None = None,
) -> CheckResult:
    """Does any group of the canary have more slow requests than its reference group, beyond chance
    (and, when the canary's ``fresh`` window is given, still more in it than the reference in its
    own fresh window, ``fresh_reference``, over the same seconds: a host that turned slower for
    both since does not confirm it)?

    Slow is above ``max(p95 * max_latency_ratio, p95 + min_latency_delta_ms)`` of the reference
    group; the shares of both sides above that line are compared by an exact test (conditional on
    the slow requests of both, the canary's count is binomial with its share of the requests), and
    the canary's share must exceed the reference's by ``MIN_EXCESS`` as well. Two samples over the
    same time: a host that slows both tracks moves both shares; a release that slows a tenth of its
    requests does not hide behind a p95 that allows 5 %."""
    need = max(1, t.min_requests)
    pairs = [
        (name, window, ref)
        for name, window in groups(canary)
        if len(window.latencies_ms) >= need and len((ref := _group(reference, name)).latencies_ms) >= need
    ]
    alpha = (1.0 - t.latency_confidence) / 2
    level = alpha / max(1, len(pairs))
    found = []
    closest = 1.0
    for route, mine, ref in pairs:
        p95 = ref.p95
        if p95 is None:
            continue
        line = max(p95 * t.max_latency_ratio, p95 + t.min_latency_delta_ms)
        slow, theirs = _above(mine.latencies_ms, line), _above(ref.latencies_ms, line)
        n, m = len(mine.latencies_ms), len(ref.latencies_ms)
        share, ref_share = slow / n, theirs / m
        p_value = binom_sf(slow, slow + theirs, n / (n + m)) if share - ref_share > MIN_EXCESS else 1.0
        closest = min(closest, p_value)
        if p_value >= level:
            continue
        detail = (
            f"{route}: {slow}/{n} canary requests ({_pct(share)}) slower than {line:.1f} ms, {against} "
            f"{theirs}/{m} ({_pct(ref_share)}; its p95 {p95:.1f} ms, x {t.max_latency_ratio:g} and + "
            f"{t.min_latency_delta_ms:g} ms), p={p_value:.2g}"
        )
        if fresh is not None:
            again = _group(fresh, route).latencies_ms
            seen = _above(again, line)
            if len(again) < FRESH_MIN:
                continue  # too little traffic since to tell
            ref_again = _group(fresh_reference, route).latencies_ms if fresh_reference is not None else ()
            if len(ref_again) >= FRESH_MIN:  # the same line, both tracks over the same seconds
                ref_seen = _above(ref_again, line)
                fresh_p = binom_sf(seen, seen + ref_seen, len(again) / (len(again) + len(ref_again)))
                if seen / len(again) <= ref_seen / len(ref_again) + MIN_EXCESS or fresh_p >= alpha:
                    continue  # not seen again beside the reference since: a burst (or the host) that passed
                detail += f"; and {seen}/{len(again)} in the fresh window, {against} {ref_seen}/{len(ref_again)}"
            else:
                if seen / len(again) <= ref_share + MIN_EXCESS:
                    continue  # not seen again since: a burst that passed
                detail += f"; and {seen}/{len(again)} in the fresh window"
        found.append(_Finding(route, p_value, detail))
    return _verdict("route_latency", found, len(pairs), "timed requests on both sides", alpha, closest)


def _above(sorted_values: tuple[float, ...], line: float) -> int:
    return len(sorted_values) - bisect_right(sorted_values, line)
