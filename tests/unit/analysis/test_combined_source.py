"""canary.metrics: both: the edge's log judged, Prometheus's counts held to it (sources_agree), the
tolerance at its boundary, and the controller's walk with two sources that agree, disagree, or
one of which does not answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from pipeline.analysis.checks import CheckResult, Verdict
from pipeline.analysis.combined import CombinedSource, Read, agreement, tolerated
from pipeline.analysis.source import StaticSource
from pipeline.analysis.window import TrackWindow
from pipeline.canary.controller import Controller, Outcome
from pipeline.environment.model import Canary
from pipeline.testing import FakeCanaryTarget, FakeClock, SyntheticTraffic

# (edge, prometheus, window seconds, relative, scrape seconds) -> tolerated difference
TOLERANCE = [
    (1000, 1000, 60.0, 0.1, 5.0, 166),  # the lag term: 2 * 1000 * 5 / 60 = 166.7
    (1000, 900, 600.0, 0.1, 5.0, 100),  # the relative term: 0.1 * 1000 (the lag: 16.7)
    (10, 8, 600.0, 0.1, 5.0, 5),  # the floor: a handful of requests
    (0, 0, 60.0, 0.1, 5.0, 5),
    (500, 0, 10.0, 0.1, 5.0, 500),  # a window of two scrapes can never disagree
    (500, 480, 0.0, 0.1, 5.0, 500),  # no window at all: neither
]


@pytest.mark.parametrize(("edge", "prometheus", "seconds", "relative", "scrape", "allowed"), TOLERANCE)
def test_the_tolerance_rule(edge: int, prometheus: int, seconds: float, relative: float, scrape: float, allowed: int) -> None:
    assert tolerated(edge, prometheus, seconds, relative, scrape) == allowed


def windows(**requests: int) -> dict[str, TrackWindow]:
    return {t: TrackWindow(t, requests.get(t, 0)) for t in ("stable", "canary", "baseline")}


SPAN = [(0.0, 600.0)]  # lag term 2 * n * 5 / 600: below the relative term from n = 6 on


@pytest.mark.parametrize(
    ("edge", "prometheus", "verdict"),
    [
        (1000, 900, Verdict.PASS),  # exactly at the tolerance (100)
        (1000, 899, Verdict.FAIL),  # one past it
        (900, 1000, Verdict.PASS),  # either side may count more
        (899, 1000, Verdict.FAIL),
        (3, 0, Verdict.PASS),  # a quiet track: the floor
        (6, 0, Verdict.FAIL),
    ],
)
def test_agreement_at_the_boundary(edge: int, prometheus: int, verdict: Verdict) -> None:
    result = agreement(SPAN, [windows(canary=edge, stable=2000)], [windows(canary=prometheus, stable=2000)], 0.1, 5.0)
    assert result.name == "sources_agree" and result.verdict == verdict
    if verdict == Verdict.FAIL:
        assert "the edge log and Prometheus disagree" in result.detail
        assert f"canary: {edge} requests in the edge log, {prometheus} in Prometheus" in result.detail
        assert result.value is not None and result.value > 1.0


def test_the_widest_gap_of_every_window_and_track_is_the_one_named() -> None:
    spans = [(0.0, 600.0), (300.0, 600.0)]
    edge = [windows(stable=1000, canary=100), windows(stable=500, canary=50)]
    theirs = [windows(stable=1000, canary=100), windows(stable=300, canary=50)]
    result = agreement(spans, edge, theirs, 0.1, 5.0)
    assert (
        result.verdict == Verdict.FAIL and "stable: 500 requests in the edge log, 300 in Prometheus over 300 s" in result.detail
    )


class Counted:
    """A source that reports ``factor`` times another's requests of ``track`` (a Prometheus that
    misses a task, say), or nothing at all when ``down``."""

    def __init__(self, inner: Any, track: str = "canary", factor: float = 1.0) -> None:
        self.inner, self.track, self.factor = inner, track, factor
        self.down = False

    def windows(self, spans: Sequence[tuple[float, float]]) -> list[dict[str, TrackWindow]]:
        out = []
        for read in self.inner.windows(spans):
            read = dict(read)
            w = read[self.track]
            n = round(w.requests * self.factor)
            read[self.track] = replace(w, requests=n, errors=min(w.errors, n), latencies_ms=w.latencies_ms[:n])
            out.append({t: TrackWindow(t) for t in read} if self.down else read)
        return out

    def window(self, start: float, end: float) -> dict[str, TrackWindow]:
        return self.windows([(start, end)])[0]

    def served(self, start: float, end: float) -> dict[str, dict[str, int]] | None:
        return None

    def unread(self) -> list[str]:
        return ["prometheus"] if self.down else []

    def findings(self) -> list[CheckResult]:
        return []


def test_combined_returns_the_edges_windows_and_its_served_and_observes_every_read() -> None:
    edge = StaticSource()
    theirs = Counted(StaticSource())
    reads: list[Read] = []
    both = CombinedSource(edge, theirs, 0.1, 5.0, observe=reads.append)
    assert both.window(0.0, 60.0) == edge.window(0.0, 60.0)
    assert both.served(0.0, 60.0) == {} and len(reads) == 1 and reads[0].spans == ((0.0, 60.0),)
    assert [r.verdict for r in both.findings()] == [Verdict.PASS]
    theirs.down = True
    both.window(0.0, 60.0)
    assert both.unread() == ["prometheus"] and both.findings() == []  # unread says it: no agreement claimed


POLICY = Canary(steps=[5, 25, 50], step_seconds=10, bake_seconds=20)


def walk(factor: float = 1.0, down: bool = False) -> tuple[Any, list[tuple[str, dict[str, Any]]]]:
    target = FakeCanaryTarget(stable="v1")
    clock = FakeClock()
    events: list[tuple[str, dict[str, Any]]] = []
    edge = SyntheticTraffic(target)
    prometheus = Counted(SyntheticTraffic(target), "canary", factor)  # same seed: the same requests
    prometheus.down = down
    both = CombinedSource(edge, prometheus, 0.1, 5.0)
    controller = Controller(POLICY, target, both, clock, lambda k, d: events.append((k, d)), lease_seconds=15)  # type: ignore[arg-type]
    return controller.run("v2", previous="v1"), events


def checks(events: list[tuple[str, dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [c for k, d in events if k == "verdict" for c in d["checks"] if c["name"] == name]


def test_both_agreeing_adds_no_failure_and_the_release_is_promoted() -> None:
    result, events = walk()
    assert result.outcome == Outcome.PROMOTED, result.reason
    agreed = checks(events, "sources_agree")
    assert agreed and {c["verdict"] for c in agreed} == {"pass"}


def test_both_disagreeing_is_its_own_verdict_naming_both_counts_and_rolls_back() -> None:
    result, events = walk(factor=0.5)  # Prometheus counts half the canary's requests
    assert result.outcome == Outcome.ROLLED_BACK
    assert "sources_agree: the edge log and Prometheus disagree" in result.reason
    assert "requests in the edge log" in result.reason and "in Prometheus" in result.reason
    failed = [c for c in checks(events, "sources_agree") if c["verdict"] == "fail"]
    assert failed and all(c["name"] == "sources_agree" for c in failed)
    # the judged checks themselves passed: the edge log saw a good canary; only the sources disagree
    assert not [
        c for k, d in events if k == "verdict" for c in d["checks"] if c["verdict"] == "fail" and c["name"] != "sources_agree"
    ]


def test_both_with_prometheus_down_is_never_passed() -> None:
    result, events = walk(down=True)
    assert result.outcome == Outcome.ROLLED_BACK and "insufficient data" in result.reason
    unseen = checks(events, "edge_logs")
    assert unseen and "Prometheus could not be read" in unseen[0]["detail"]
