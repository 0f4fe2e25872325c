from __future__ import annotations

import pytest

from pipeline.analysis.records import Record
from pipeline.analysis.window import TrackWindow, percentile, summarize

ONE_TO_HUNDRED = tuple(float(v) for v in range(1, 101))


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        (ONE_TO_HUNDRED, 95.0, 95.0),
        (ONE_TO_HUNDRED, 99.0, 99.0),
        (ONE_TO_HUNDRED, 50.0, 50.0),
        (ONE_TO_HUNDRED, 100.0, 100.0),
        (ONE_TO_HUNDRED, 0.0, 1.0),
        (ONE_TO_HUNDRED, 95.5, 96.0),
        ((10.0, 20.0, 30.0, 40.0), 50.0, 20.0),
        ((10.0, 20.0, 30.0, 40.0), 51.0, 30.0),
        ((10.0, 20.0, 30.0, 40.0), 95.0, 40.0),
        ((7.0,), 99.0, 7.0),
        (tuple(float(v) for v in range(1, 1001)), 99.9, 999.0),  # no float noise: 99.9 * 1000 / 100
        ((), 95.0, None),
    ],
)
def test_nearest_rank_percentile(values: tuple[float, ...], q: float, expected: float | None) -> None:
    assert percentile(values, q) == expected


def test_percentile_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile((1.0,), 101.0)


def test_track_window_sorts_and_reports() -> None:
    window = TrackWindow("canary", requests=5, errors=1, latencies_ms=(40.0, 10.0, 30.0, 20.0))
    assert window.latencies_ms == (10.0, 20.0, 30.0, 40.0)
    assert window.error_rate == 0.2
    assert (window.p50, window.p95, window.p99) == (20.0, 40.0, 40.0)
    assert window.as_dict() == {"requests": 5, "errors": 1, "error_rate": 0.2, "p50_ms": 20.0, "p95_ms": 40.0, "p99_ms": 40.0}


def test_empty_window() -> None:
    window = TrackWindow("stable")
    assert window.error_rate == 0.0
    assert window.p95 is None and window.p99 is None
    assert window.as_dict() == {"requests": 0, "errors": 0, "error_rate": 0.0, "p50_ms": None, "p95_ms": None, "p99_ms": None}


def test_inconsistent_window_is_rejected() -> None:
    with pytest.raises(ValueError):
        TrackWindow("canary", requests=1, errors=2)


def test_as_dict_rounds() -> None:
    window = TrackWindow("canary", requests=3, errors=1, latencies_ms=(12.3456, 12.3456))
    assert window.as_dict()["error_rate"] == 0.3333
    assert window.as_dict()["p95_ms"] == 12.3


def _r(ts: float, track: str = "canary", status: int = 200, ms: float = 10.0) -> Record:
    return Record(ts=ts, track=track, status=status, latency_ms=ms)


def test_summarize_boundaries_and_tracks() -> None:
    records = [
        _r(99.999, ms=1.0),  # before start
        _r(100.0, ms=2.0),  # start is inclusive
        _r(105.0, status=502, ms=3000.0),  # an error: counted, not timed
        _r(105.0, track="stable", ms=4.0),  # other track
        _r(109.999, status=404, ms=5.0),  # a 4xx is not a failure
        _r(110.0, ms=6.0),  # end is exclusive
    ]
    window = summarize(records, "canary", 100.0, 110.0)
    assert window == TrackWindow("canary", requests=3, errors=1, latencies_ms=(2.0, 5.0))
    assert summarize(records, "stable", 100.0, 110.0).requests == 1
    assert summarize(records, "canary", 200.0, 300.0) == TrackWindow("canary")
