"""The canary judged route by route over the walk: minority faults caught, identical releases passed."""

from __future__ import annotations

import math
import random

import pytest

from pipeline.analysis.checks import Verdict, analyse, overall
from pipeline.analysis.records import Record
from pipeline.analysis.routes import ALL, groups, route_errors, route_latency
from pipeline.analysis.window import MAX_ROUTES, OTHER, TrackWindow, summarize
from pipeline.environment.model import Thresholds

DEFAULT = Thresholds()
READS = [("GET", "/api/notes?limit=5"), ("GET", "/version"), ("GET", "/")]


def traffic(
    track: str,
    n: int,
    seed: int,
    write_share: float = 0.2,
    write_errors: float = 0.0,
    route_errors_: tuple[str, float] | None = None,
    slow_share: float = 0.0,
    slow_ms: float = 300.0,
    slow_only: str = "",
) -> TrackWindow:
    """``n`` requests of the judge bench's mix (20 % POST /api/notes, the rest GETs of three paths),
    latencies drawn from one log-normal distribution (~20 ms), with optional faults."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        method, uri = ("POST", "/api/notes") if rng.random() < write_share else rng.choice(READS)
        status = 200
        if method == "POST" and rng.random() < write_errors:
            status = 503
        if route_errors_ and uri.startswith(route_errors_[0]) and method == "GET" and rng.random() < route_errors_[1]:
            status = 500
        latency = rng.lognormvariate(math.log(20.0), 0.4)
        if rng.random() < slow_share and uri.startswith(slow_only):
            latency += slow_ms
        records.append(Record(ts=float(i), track=track, status=status, latency_ms=latency, uri=uri, method=method))
    return summarize(records, track, 0.0, math.inf)


def test_windows_split_requests_by_route() -> None:
    window = traffic("canary", 400, seed=1)
    assert set(window.routes) == {"POST /api/notes", "GET /api/notes", "GET /version", "GET /"}
    assert sum(r.requests for r in window.routes.values()) == window.requests == 400
    assert next(name for name, _ in groups(window)) == ALL


def test_a_long_tail_of_routes_is_pooled() -> None:
    records = [Record(float(i), "canary", 200, 5.0, uri=f"/page/p{i % 40}x", method="GET") for i in range(400)]
    window = summarize(records, "canary", 0.0, math.inf)
    assert len(window.routes) == MAX_ROUTES + 1 and window.routes[OTHER].requests == 400 - 10 * MAX_ROUTES


def test_a_log_without_methods_has_only_the_whole_track() -> None:
    records = [Record(float(i), "canary", 200, 5.0, uri="/x") for i in range(50)]
    assert [name for name, _ in groups(summarize(records, "canary", 0.0, math.inf))] == [ALL]


def test_errors_on_writes_only_are_caught_where_the_whole_track_dilutes_them() -> None:
    canary = traffic("canary", 400, seed=2, write_errors=0.05)
    baseline = traffic("baseline", 400, seed=3)
    whole = analyse(canary, baseline, DEFAULT, "baseline")
    assert overall(whole) == Verdict.PASS  # ~1 % of all canary requests: under significance
    result = route_errors(canary, baseline, DEFAULT, "baseline")
    assert result.verdict == Verdict.FAIL and result.detail.startswith("POST /api/notes: canary"), result.detail


def test_errors_on_one_read_endpoint_are_caught() -> None:
    canary = traffic("canary", 600, seed=4, route_errors_=("/api/notes", 0.05))
    result = route_errors(canary, traffic("baseline", 600, seed=5), DEFAULT, "baseline")
    assert result.verdict == Verdict.FAIL and "GET /api/notes" in result.detail, result.detail


def test_errors_the_reference_has_too_are_not_the_release() -> None:
    # an endpoint that already fails 4 % on the version running: the canary inherits it
    canary = traffic("canary", 600, seed=6, route_errors_=("/api/notes", 0.04))
    baseline = traffic("baseline", 600, seed=7, route_errors_=("/api/notes", 0.04))
    assert route_errors(canary, baseline, DEFAULT, "baseline").verdict == Verdict.PASS


def test_without_a_reference_a_route_is_held_to_the_absolute_limit() -> None:
    canary = traffic("stable", 800, seed=8, route_errors_=("/api/notes", 0.06))
    assert route_errors(canary, None, DEFAULT, "previous").verdict == Verdict.FAIL
    assert route_errors(traffic("stable", 800, seed=9), None, DEFAULT, "previous").verdict == Verdict.PASS


def test_the_level_is_shared_by_the_groups() -> None:
    canary = traffic("canary", 400, seed=10)
    result = route_errors(canary, traffic("baseline", 400, seed=11), DEFAULT, "baseline")
    assert result.verdict == Verdict.PASS and result.limit == pytest.approx(DEFAULT.error_alpha / 5)  # all + 4 routes


def test_no_traffic_is_skipped_not_passed() -> None:
    assert route_errors(TrackWindow("canary"), None, DEFAULT, "baseline").verdict == Verdict.SKIPPED
    assert route_latency(TrackWindow("canary"), TrackWindow("baseline"), DEFAULT, "baseline").verdict == Verdict.SKIPPED


def test_latency_on_a_minority_of_requests_is_caught_over_the_walk() -> None:
    canary = traffic("canary", 400, seed=12, slow_share=0.1)
    baseline = traffic("baseline", 400, seed=13)
    result = route_latency(canary, baseline, DEFAULT, "baseline")
    assert result.verdict == Verdict.FAIL and result.detail.startswith(ALL), result.detail


def test_a_slow_endpoint_is_named() -> None:
    rng = random.Random(14)
    records = [
        Record(float(i), "canary", 200, rng.lognormvariate(math.log(20.0), 0.4) + (250.0 if i % 4 == 0 else 0.0),
               uri="/api/notes" if i % 4 == 0 else "/version", method="GET")
        for i in range(400)
    ]  # fmt: skip
    canary = summarize(records, "canary", 0.0, math.inf)
    result = route_latency(canary, traffic("baseline", 400, seed=15, write_share=0.0), DEFAULT, "baseline")
    assert result.verdict == Verdict.FAIL, result.detail


def test_a_latency_failure_must_be_seen_again_in_the_fresh_window() -> None:
    canary = traffic("canary", 400, seed=16, slow_share=0.1)
    baseline = traffic("baseline", 400, seed=17)
    burst_over = traffic("canary", 120, seed=18)  # the slowness has passed
    still_slow = traffic("canary", 120, seed=19, slow_share=0.1)
    assert route_latency(canary, baseline, DEFAULT, "baseline", fresh=burst_over).verdict == Verdict.PASS
    result = route_latency(canary, baseline, DEFAULT, "baseline", fresh=still_slow)
    assert result.verdict == Verdict.FAIL and "in the fresh window" in result.detail
    assert route_latency(canary, baseline, DEFAULT, "baseline", fresh=traffic("canary", 5, seed=20)).verdict == Verdict.PASS


def test_the_fresh_window_confirms_only_beside_the_references_own_fresh_window() -> None:
    # the bench of 2026-12-01, 23:35: a burst slowed the canary's first window of step 3; in the
    # fresh window the host had turned slower for both tracks (baseline p95 50 -> 80 ms), so the
    # canary's share above the walk's line (4.4 %) beat the walk baseline's (1.9 %) but not the
    # fresh baseline's: an identical release was rolled back
    canary = traffic("canary", 400, seed=16, slow_share=0.1)
    baseline = traffic("baseline", 400, seed=17)
    slower_host = traffic("canary", 200, seed=23, slow_share=0.06), traffic("baseline", 200, seed=24, slow_share=0.06)
    alone = route_latency(canary, baseline, DEFAULT, "baseline", fresh=slower_host[0])
    assert alone.verdict == Verdict.FAIL  # against the walk's reference only, the host's slowness looks like the canary's
    both = route_latency(canary, baseline, DEFAULT, "baseline", fresh=slower_host[0], fresh_reference=slower_host[1])
    assert both.verdict == Verdict.PASS, both.detail
    # a canary still slow beside a fresh reference that is not: confirmed, with both counts said
    still = traffic("canary", 200, seed=25, slow_share=0.12), traffic("baseline", 200, seed=26)
    result = route_latency(canary, baseline, DEFAULT, "baseline", fresh=still[0], fresh_reference=still[1])
    assert result.verdict == Verdict.FAIL and "in the fresh window, baseline" in result.detail, result.detail


def test_identical_releases_rarely_fail_a_route_check() -> None:
    # the same mix and distribution on both sides, 200 walks: each check may fail at most at its level
    failures = {"route_errors": 0, "route_latency": 0}
    for seed in range(200):
        canary, baseline = traffic("canary", 400, seed=1000 + seed), traffic("baseline", 400, seed=5000 + seed)
        failures["route_errors"] += route_errors(canary, baseline, DEFAULT, "baseline").verdict == Verdict.FAIL
        failures["route_latency"] += route_latency(canary, baseline, DEFAULT, "baseline").verdict == Verdict.FAIL
    assert failures["route_errors"] == 0  # no errors on either side
    assert failures["route_latency"] <= 200 * (1 - DEFAULT.latency_confidence) / 2, failures


def test_latency_on_a_tenth_of_the_api_requests_only_is_caught() -> None:
    # the app's fault knobs spare /version and the health paths: 10 % of the API requests are slow,
    # 6 % of all; a one-sample test against the 5 % a p95 allows missed it (the bench of 2026-12-01)
    caught = 0
    for seed in range(20):
        canary = traffic("canary", 400, seed=300 + seed, slow_share=0.1, slow_only="/api/")
        baseline = traffic("baseline", 400, seed=400 + seed)
        caught += route_latency(canary, baseline, DEFAULT, "baseline").verdict == Verdict.FAIL
    assert caught >= 18, caught


def test_a_slow_host_that_slows_both_tracks_is_not_the_release() -> None:
    canary = traffic("canary", 400, seed=21, slow_share=0.1)
    baseline = traffic("baseline", 400, seed=22, slow_share=0.1)  # the same slowness on the reference
    assert route_latency(canary, baseline, DEFAULT, "baseline").verdict == Verdict.PASS
