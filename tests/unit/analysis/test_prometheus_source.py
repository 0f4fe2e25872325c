"""PrometheusSource: windows from canned answers of Prometheus's HTTP API, and a Prometheus that
does not answer is never silence."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pipeline.analysis.checks import Verdict, analyse, overall
from pipeline.analysis.prometheus import PrometheusSource, PrometheusUnanswered, latency_points
from pipeline.analysis.window import percentile
from pipeline.environment.model import Thresholds

END = 1_700_000_100.0
LE = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)
SLOTS = {"blue": "stable", "green": "canary"}  # the edge's pair now: blue serves stable


def vector(rows: list[tuple[dict[str, str], float]]) -> bytes:
    result = [{"metric": labels, "value": [END, repr(value)]} for labels, value in rows]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()


def buckets(latencies_s: list[float]) -> dict[str, float]:
    """Cumulative bucket counts of these latencies, keyed as Prometheus writes ``le``."""
    return {("+Inf" if math.isinf(le) else repr(le)): float(sum(1 for v in latencies_s if v <= le)) for le in LE}


def latencies(n: int, low_ms: float, high_ms: float) -> list[float]:
    """``n`` deterministic latencies (seconds) from low to high, denser near low (a long tail)."""
    return [(low_ms + (high_ms - low_ms) * ((i + 0.5) / n) ** 3) / 1000.0 for i in range(n)]


class Fake:
    """Prometheus's /api/v1/query for canned series: counts by (slot, route, method, status, version),
    latencies by (slot, route, method); every query is recorded."""

    def __init__(self, counts: dict[tuple[str, str, str, str, str], float], timed: dict[tuple[str, str, str], list[float]]):
        self.counts = counts
        self.timed = timed
        self.last_scrape = END - 2.0
        self.queries: list[tuple[str, float]] = []
        self.fail: str | None = None

    def __call__(self, url: str, timeout: float) -> bytes:
        assert timeout <= 5.0 and url.startswith("http://127.0.0.1:9090/api/v1/query?")
        params = parse_qs(urlsplit(url).query)
        expr, at = params["query"][0], float(params["time"][0])
        self.queries.append((expr, at))
        if self.fail == "down":
            raise PrometheusUnanswered("connection refused")
        if self.fail == "error":
            return json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"}).encode()
        if expr.startswith("max(timestamp(up"):
            return vector([({}, self.last_scrape)])
        if "_bucket" in expr:
            rows = []
            for (slot, route, method), values in self.timed.items():
                rows += [({"slot": slot, "route": route, "method": method, "le": le}, c) for le, c in buckets(values).items()]
            return vector(rows)
        if "by (slot, version)" in expr:
            per: dict[tuple[str, str], float] = {}
            for (slot, _route, _method, _status, version), n in self.counts.items():
                per[(slot, version)] = per.get((slot, version), 0.0) + n
            return vector([({"slot": s, "version": v}, n) for (s, v), n in per.items()])
        rows = [
            ({"slot": slot, "route": route, "method": method, "status": status}, n)
            for (slot, route, method, status, _version), n in self.counts.items()
        ]
        return vector(rows)


def canned() -> Fake:
    notes = "/api/notes"
    return Fake(
        {
            ("blue", notes, "GET", "200", "v1"): 380.4,
            ("blue", notes, "GET", "500", "v1"): 19.6,  # increase() extrapolates: not whole numbers
            ("blue", notes, "POST", "201", "v1"): 100.0,
            ("green", notes, "GET", "200", "v2"): 90.0,
            ("green", notes, "GET", "503", "v2"): 10.0,
            ("baseline", notes, "GET", "200", "v1"): 100.0,
            ("canary-old", notes, "GET", "200", "v0"): 50.0,  # a slot of no track now: not counted
        },
        {
            ("blue", notes, "GET"): latencies(400, 4.0, 400.0),
            ("blue", notes, "POST"): latencies(100, 20.0, 60.0),
            ("green", notes, "GET"): latencies(100, 30.0, 900.0),
            ("baseline", notes, "GET"): latencies(100, 4.0, 400.0),
        },
    )


def source(fake: Fake, **kwargs: Any) -> PrometheusSource:
    return PrometheusSource("http://127.0.0.1:9090", SLOTS.get, scrape_seconds=5, get=fake, **kwargs)


def test_a_window_counts_requests_and_5xx_per_track_by_the_slot_that_serves_it_now() -> None:
    fake = canned()
    windows = source(fake).window(END - 60, END)
    assert {t: (w.requests, w.errors) for t, w in windows.items()} == {
        "stable": (500, 20),
        "canary": (100, 10),
        "baseline": (100, 0),
    }
    # the successful requests are timed, the failed ones are not (as from the edge's log)
    assert len(windows["canary"].latencies_ms) == 90 and len(windows["stable"].latencies_ms) == 480
    # split by route, as the route checks read it
    assert {r: (w.requests, w.errors) for r, w in windows["stable"].routes.items()} == {
        "GET /api/notes": (400, 20),
        "POST /api/notes": (100, 0),
    }
    # every query is an instant query at the window's end over the window's length; the app's probes are left out
    assert fake.queries and all(at == END for _expr, at in fake.queries)
    ranged = [expr for expr, _at in fake.queries if "increase(" in expr]
    assert ranged and all("[60000ms]" in expr and 'route!~"/healthz|/metrics|/readyz"' in expr for expr in ranged)


def test_a_promotion_swaps_the_slots_and_with_them_the_tracks() -> None:
    fake = canned()
    now = {"blue": "canary", "green": "stable"}
    windows = PrometheusSource("http://127.0.0.1:9090", now.get, scrape_seconds=5, get=fake).window(END - 60, END)
    assert windows["stable"].requests == 100 and windows["canary"].requests == 500


@pytest.mark.parametrize(
    ("slot", "route", "method", "low", "high"),
    [
        ("green", "/api/notes", "GET", 30.0, 900.0),
        ("blue", "/api/notes", "GET", 4.0, 400.0),
        ("blue", "/api/notes", "POST", 20.0, 60.0),
    ],
)
@pytest.mark.parametrize("q", [50.0, 90.0, 95.0, 99.0])
def test_latency_percentiles_are_kept_within_the_histograms_bucket(
    slot: str, route: str, method: str, low: float, high: float, q: float
) -> None:
    truth = sorted(v * 1000 for v in latencies(400 if (slot, method) == ("blue", "GET") else 100, low, high))
    true_q = percentile(truth, q)
    assert true_q is not None
    windows = source(canned()).window(END - 60, END)
    track = windows[SLOTS[slot]]
    window = track.routes[f"{method} {route}"] if slot == "blue" else track
    got = window.percentile(q)
    assert got is not None
    bounds = [0.0, *(le * 1000 for le in LE if math.isfinite(le))]
    upper = next(b for b in bounds if b >= true_q)
    lower = max(b for b in bounds if b < upper)
    assert lower - 1e-6 <= got <= upper + 1e-6, (true_q, got, (lower, upper))


def test_latency_points_step_over_empty_buckets_and_stop_at_the_last_finite_bound() -> None:
    # nothing below 25 ms, 10 between 25 and 50 ms, 10 beyond 10 s
    points = latency_points({0.005: 0, 0.01: 0, 0.025: 0, 0.05: 10, 10.0: 10, math.inf: 20})
    assert points == [(0.0, 25.0), (50.0, 50.0), (50.0, 10000.0), (100.0, 10000.0)]
    assert latency_points({0.005: 0, math.inf: 0}) == []
    # counts that extrapolation left a little out of order are made monotone
    assert latency_points({0.01: 5.2, 0.025: 5.0, math.inf: 10}) == [(0.0, 0.0), (52.0, 10.0), (52.0, 25.0), (100.0, 25.0)]


def test_a_bad_canary_is_judged_failing_on_prometheus_windows() -> None:
    windows = source(canned()).window(END - 60, END)
    results = analyse(windows["canary"], windows["baseline"], Thresholds(), "baseline")
    assert overall(results) == Verdict.FAIL
    assert {r.name for r in results if r.verdict == Verdict.FAIL} >= {"error_rate", "error_rate_vs_baseline"}


def test_served_counts_by_track_and_version() -> None:
    assert source(canned()).served(END - 60, END) == {"stable": {"v1": 500}, "canary": {"v2": 100}, "baseline": {"v1": 100}}


@pytest.mark.parametrize(
    ("fail", "last_scrape", "why"),
    [
        ("down", END - 2.0, "connection refused"),
        ("error", END - 2.0, "parse error"),
        (None, END - 16.0, "no scrape of the app since 16 s before the window's end"),  # 3 x 5 s scrapes missed
    ],
)
def test_a_prometheus_that_does_not_answer_is_unread_never_an_empty_pass(fail: str | None, last_scrape: float, why: str) -> None:
    fake = canned()
    fake.fail, fake.last_scrape = fail, last_scrape
    prometheus = source(fake)
    windows = prometheus.windows([(END - 60, END), (END - 10, END)])
    assert prometheus.unread() == ["prometheus"] and why in prometheus.problem
    assert all(w.requests == 0 for read in windows for w in read.values())
    fake.fail, fake.last_scrape = None, END - 2.0  # it answers again: the next read is judged
    assert prometheus.window(END - 60, END)["stable"].requests == 500 and prometheus.unread() == []


def test_a_scrape_just_inside_the_staleness_bound_is_read() -> None:
    fake = canned()
    fake.last_scrape = END - 15.0  # exactly 3 scrapes ago
    prometheus = source(fake)
    assert prometheus.window(END - 60, END)["stable"].requests == 500 and prometheus.unread() == []


def test_a_window_ending_at_infinity_ends_now_and_an_empty_one_asks_nothing() -> None:
    fake = canned()
    prometheus = source(fake, now=lambda: END)
    assert prometheus.window(END - 30, math.inf)["canary"].requests == 100
    assert all(at == END for _expr, at in fake.queries)
    fake.queries.clear()
    assert prometheus.window(END, END)["stable"].requests == 0
    assert not [expr for expr, _at in fake.queries if "increase(" in expr]


@pytest.mark.parametrize("url", ["http://10.0.0.5:9090", "https://127.0.0.1:9090", "http://prometheus:9090"])
def test_prometheus_is_read_on_loopback_only(url: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        PrometheusSource(url, SLOTS.get)


# --- over real HTTP, on 127.0.0.1 --------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[str, dict[str, Any]]]:
    """A tiny HTTP server on 127.0.0.1 answering /api/v1/query from ``canned()`` (``state["delay"]``: seconds to stall)."""
    fake = canned()
    state: dict[str, Any] = {"delay": 0.0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(state["delay"])
            body = fake(f"http://127.0.0.1:9090{self.path}", 1.0)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def test_over_http_a_window_is_read_and_a_stalled_prometheus_times_out_as_unread(served: tuple[str, dict[str, Any]]) -> None:
    url, state = served
    prometheus = PrometheusSource(url, SLOTS.get, scrape_seconds=5, timeout=0.3)
    assert prometheus.window(END - 60, END)["stable"].requests == 500 and prometheus.unread() == []
    state["delay"] = 1.0
    began = time.monotonic()
    assert prometheus.window(END - 60, END)["stable"].requests == 0
    assert prometheus.unread() == ["prometheus"]
    assert time.monotonic() - began < 1.0  # the first query that times out ends the read


def test_over_http_nothing_listening_is_unread() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    prometheus = PrometheusSource(f"http://127.0.0.1:{port}", SLOTS.get, timeout=0.5)
    assert prometheus.window(END - 60, END)["canary"].requests == 0
    assert prometheus.unread() == ["prometheus"] and prometheus.served(END - 60, END) is None
