from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pipeline.analysis.checks import CheckResult, Verdict, analyse, overall
from pipeline.analysis.stats import quantile_upper_bound
from pipeline.analysis.window import TrackWindow
from pipeline.environment.model import Thresholds

P, F, N, S = Verdict.PASS, Verdict.FAIL, Verdict.INSUFFICIENT, Verdict.SKIPPED
NAMES = ["requests", "error_rate", "error_rate_vs_stable", "p95_ms", "p99_ms", "p95_vs_stable", "mann_whitney"]
DEFAULT = Thresholds()  # min_requests 20, 1 % errors, p95 500 ms, ratio 1.5, delta 10 ms, alpha 0.05, effect 0.2


def track(name: str, requests: int, errors: int = 0, ms: float = 100.0, spread: float = 10.0) -> TrackWindow:
    """A window whose successful requests are spread evenly over ms ± spread (deterministic)."""
    ok = requests - errors
    latencies = tuple(ms - spread + 2 * spread * (i % 21) / 20 for i in range(ok))
    return TrackWindow(name, requests=requests, errors=errors, latencies_ms=latencies)


TAIL = TrackWindow("canary", requests=300, errors=0, latencies_ms=(100.0,) * 290 + (1500.0,) * 10)  # p95 100, p99 1500
# 4 slow in 200: the p99 point estimate is 1500, but 4 above the limit where 2 are expected is chance (p=0.14)
THIN_TAIL = TrackWindow("canary", requests=200, errors=0, latencies_ms=(100.0,) * 196 + (1500.0,) * 4)


@dataclass(frozen=True)
class Case:
    id: str
    canary: TrackWindow
    stable: TrackWindow
    expected: list[Verdict]
    verdict: Verdict
    thresholds: Thresholds = field(default=DEFAULT)


CASES = [
    Case("zero traffic", track("canary", 0), track("stable", 0), [N, N, S, N, N, S, S], N),
    Case("all-errors stable, good canary", track("canary", 200), track("stable", 200, errors=200), [P, P, P, P, P, S, S], P),
    Case("half-errors stable, good canary", track("canary", 200), track("stable", 200, errors=100), [P, P, P, P, P, P, P], P),
    Case("30 % errors in 10 requests: decisive", track("canary", 10, errors=3), track("stable", 200), [N, F, F, N, N, N, N], F),
    Case("1 error in 20: not significant", track("canary", 20, errors=1), track("stable", 200), [P, P, P, P, P, P, P], P),
    Case(
        "+200 ms on 40 requests: decisive for both latency tests",
        track("canary", 40, ms=300.0),
        track("stable", 400, ms=100.0),
        [P, P, P, P, P, F, F],
        F,
    ),
    Case(
        "stable too thin to bound its p95: the rank test judges",
        track("canary", 40, ms=300.0),
        track("stable", 20, ms=100.0),
        [P, P, P, P, P, S, F],
        F,
    ),
    Case("8 clean requests: too early", track("canary", 8), track("stable", 200), [N, N, N, N, N, N, N], N),
    Case("+200 ms canary", track("canary", 200, ms=500.0), track("stable", 400, ms=300.0), [P, P, P, F, P, F, F], F),
    Case(
        "+25 % latency under the absolute limit", track("canary", 200, ms=125.0), track("stable", 400), [P, P, P, P, P, P, F], F
    ),
    Case(
        "+25 % latency with a 1.2 ratio",
        track("canary", 200, ms=125.0),
        track("stable", 400),
        [P, P, P, P, P, F, F],
        F,
        Thresholds(max_latency_ratio=1.2),
    ),
    Case("100 % step: no stable baseline", track("canary", 200), track("stable", 0), [P, P, S, P, P, S, S], P),
    Case("stable below min_requests", track("canary", 200), track("stable", 19), [P, P, S, P, P, S, S], P),
    Case(
        "+8 ms on 10 ms: under min_latency_delta_ms",
        track("canary", 200, ms=18.0, spread=2.0),
        track("stable", 400, ms=10.0, spread=2.0),
        [P, P, P, P, P, P, P],
        P,
    ),
    Case(
        "one stray error in 200 vs a clean stable", track("canary", 200, errors=1), track("stable", 400), [P, P, P, P, P, P, P], P
    ),
    Case(
        "3 errors in 200 vs a clean stable: noise", track("canary", 200, errors=3), track("stable", 400), [P, P, P, P, P, P, P], P
    ),
    Case("8 errors in 200 vs a clean stable", track("canary", 200, errors=8), track("stable", 400), [P, F, F, P, P, P, P], F),
    Case("4 % errors vs stable at 2 %", track("canary", 200, errors=8), track("stable", 400, errors=8), [P, F, P, P, P, P, P], F),
    Case("all canary requests failed", track("canary", 50, errors=50), track("stable", 400), [P, F, F, N, N, N, N], F),
    Case("slow tail only: p99 over its limit", TAIL, track("stable", 300), [P, P, P, P, F, P, P], F),
    # the reference breaks the same absolute limit over the same time: the host is slow, not the release
    Case(
        "a loaded host: both tracks over p95 500 ms", track("canary", 200, ms=600.0), track("stable", 200, ms=600.0), [P] * 7, P
    ),
    Case("p99 over its limit on both sides", TAIL, TrackWindow("stable", 300, 0, TAIL.latencies_ms), [P, P, P, P, P, P, P], P),
    Case(
        "4 slow of 200: p99 over its limit by chance",
        THIN_TAIL,
        TrackWindow("stable", 200, 0, THIN_TAIL.latencies_ms),
        [P, P, P, P, P, P, P],
        P,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_analyse(case: Case) -> None:
    results = analyse(case.canary, case.stable, case.thresholds)
    assert [r.name for r in results] == NAMES
    assert {r.name: r.verdict for r in results} == dict(zip(NAMES, case.expected, strict=True))
    assert overall(results) == case.verdict
    assert all(r.detail and "\n" not in r.detail for r in results)


@pytest.mark.parametrize(
    ("requests", "errors", "expected"),
    [
        (8, 0, N),
        (8, 3, N),  # 37 % of 8 at a 10 % limit: p = 0.04, not significant at 0.01 yet
        (8, 4, F),  # p = 0.005: decisive before min_requests
        (1, 1, N),
        (20, 2, P),
        (20, 3, P),  # 15 % over a 10 % limit, but p = 0.32: chance
        (20, 7, F),
    ],
)
def test_error_rate_before_min_requests(requests: int, errors: int, expected: Verdict) -> None:
    t = Thresholds(max_error_rate=0.1, min_requests=20)
    result = analyse(track("canary", requests, errors=errors), track("stable", 100), t)[1]
    assert (result.name, result.verdict) == ("error_rate", expected)


def test_details_and_values() -> None:
    results = {r.name: r for r in analyse(track("canary", 100, errors=31, ms=530.0), track("stable", 100), DEFAULT)}
    assert results["error_rate"].detail.startswith("canary 31.0% errors (31/100) > 1.0% allowed (p=")
    assert (results["error_rate"].value, results["error_rate"].limit) == (0.31, 0.01)
    assert results["requests"].as_dict() == {
        "name": "requests",
        "verdict": "pass",
        "value": 100,
        "limit": 20,
        "detail": "canary 100 requests >= 20 needed",
    }
    assert results["p95_ms"].detail.startswith("canary p95 5") and results["p95_ms"].limit == 500.0
    # p95_vs_stable reports the limit it tested: an upper confidence bound of stable's p95, x 1.5
    stable = track("stable", 100)
    bound = quantile_upper_bound(stable.latencies_ms, 0.95, (1 - DEFAULT.latency_confidence) / 2)
    assert 109.0 <= bound <= 110.0
    assert results["p95_vs_stable"].limit == pytest.approx(bound * 1.5)
    assert "at most" in results["p95_vs_stable"].detail
    mw = results["mann_whitney"]
    assert mw.verdict == F and mw.value == 1.0 and mw.limit == 0.2
    assert "p=" in mw.detail and "effect +1.00" in mw.detail


def test_overall() -> None:
    def r(verdict: Verdict) -> CheckResult:
        return CheckResult("x", verdict, None, None, "")

    assert overall([]) == P
    assert overall([r(P), r(S)]) == P
    assert overall([r(P), r(N), r(S)]) == N
    assert overall([r(N), r(F), r(P)]) == F


def test_the_reference_is_named_after_the_track_it_is() -> None:
    results = analyse(track("canary", 200, errors=8), track("baseline", 400), DEFAULT, against="baseline")
    names = [r.name for r in results]
    assert names == [n.replace("stable", "baseline") for n in NAMES]
    failed = {r.name: r.detail for r in results if r.verdict == F}
    assert "error_rate_vs_baseline" in failed and "baseline 0.0%" in failed["error_rate_vs_baseline"]


def test_a_p95_over_its_limit_by_a_hair_is_not_significant() -> None:
    """p95 of 200 a few ms over the absolute limit: the point estimate crosses, the test does not."""
    canary = TrackWindow("canary", 200, 0, (100.0,) * 188 + (505.0,) * 12)  # 12 above 500, 10 expected at p95
    result = analyse(canary, track("stable", 400), DEFAULT)[3]
    assert result.name == "p95_ms" and canary.p95 == 505.0
    assert result.verdict == P and "not significant" in result.detail
    clearly = TrackWindow("canary", 200, 0, (100.0,) * 170 + (505.0,) * 30)
    assert analyse(clearly, track("stable", 400), DEFAULT)[3].verdict == F
