"""A metrics source for the canary controller from Prometheus: the app's own counters and histogram.

Per track and window ``[start, end)`` of ``D`` seconds, instant queries (``/api/v1/query``) at
``time=end`` over the app's series (``app/refapp/metrics.py``), scraped from every task (job
``app``) and summed by the ``slot`` label Prometheus gives each task (the service it was found
by, ``pipeline/observability/prometheus.py``):

* requests: ``increase(http_requests_total[D])``; errors: the part with a 5xx ``status``;
  by ``route`` and ``method`` too (the route checks), and by ``version`` (``served``);
* latencies: ``increase(http_request_duration_seconds_bucket[D])``, the bucket counts turned into
  quantile points (``le`` is the value at the share of requests at or below it, linear inside a
  bucket, as ``histogram_quantile`` reads them; the ``+Inf`` bucket sits at the last finite bound)
  and spread over the successful requests (:func:`pipeline.analysis.window.spread`). The
  histogram has no status, so failed requests' times shape it too; a percentile is right within
  its bucket, no closer.

The track of a series comes from its slot, not from the app's ``track`` label: a baseline task runs
as ``stable`` and a promoted canary's tasks keep ``canary``, while the slot that serves a track is
the target's (``track_of``, asked at every read: a promotion swaps the slots). The app's own probe
routes (the health and readiness paths, ``/metrics``), which Docker, the controller and Prometheus
hit directly and no user through the edge, are left out.

Prometheus's lag: a window ending now has samples only up to the last scrape, up to
``scrape_seconds`` before ``end``. The source evaluates at ``end`` and relies on ``increase()``'s
extrapolation to the window's ends (the rate of the samples inside it); what changed within the
last scrape interval shows one scrape later. A window shorter than two scrapes has at most one
sample per series and no increase at all: it reads as empty, which the checks call insufficient,
never a pass. A Prometheus that does not answer, answers an error, or has not scraped the app for
``STALE_SCRAPES`` intervals before ``end`` is never silence: ``unread()`` reports ``prometheus``
and the controller's ``edge_logs`` check holds the verdict at insufficient.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from pipeline.analysis.checks import CheckResult
from pipeline.analysis.source import TRACKS
from pipeline.analysis.window import MAX_ROUTES, OTHER, TrackWindow, spread

LOOPBACK = ("127.0.0.1", "::1", "localhost")
TIMEOUT = 2.0  # seconds per query: a Prometheus that hangs costs a tick at most once per read
STALE_SCRAPES = 3  # no scrape of the app for this many intervals before a window's end: unread
PROBE_ROUTES = ("/healthz", "/readyz", "/metrics")

Get = Callable[[str, float], bytes]  # (url, timeout) -> the answer's body


class PrometheusUnanswered(Exception):
    """Prometheus did not answer a query, or answered something other than a vector."""


def http_get(url: str, timeout: float) -> bytes:
    """GET ``url`` (a loopback address: checked by the source) within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # http, on loopback only
            body: bytes = answer.read(8 << 20)
            return body
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PrometheusUnanswered(str(getattr(exc, "reason", exc))) from exc


def _range(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def _le(value: str) -> float:
    return math.inf if value in ("+Inf", "Inf") else float(value)


def latency_points(buckets: Mapping[float, float]) -> list[tuple[float, float]]:
    """Quantile points (0..100 -> ms) of a histogram's cumulative bucket counts (``le`` in seconds ->
    count): the lower and upper bound of every bucket that holds requests, at the shares of requests
    below and at it (counts made monotone, as ``histogram_quantile`` does). Empty without requests."""
    ordered = sorted(buckets.items())
    total = max((count for _le_, count in ordered), default=0.0)
    if total <= 0:
        return []
    finite = [le for le, _count in ordered if math.isfinite(le)]
    top = finite[-1] if finite else 0.0
    points: list[tuple[float, float]] = []
    below, lower = 0.0, 0.0
    for le, count in ordered:
        count = max(count, below)
        if count > below:
            upper = le if math.isfinite(le) else top
            points += [(100.0 * below / total, lower * 1000.0), (100.0 * count / total, upper * 1000.0)]
        below, lower = count, (le if math.isfinite(le) else lower)
    return points


class _Counts:
    __slots__ = ("buckets", "errors", "requests")

    def __init__(self) -> None:
        self.requests = 0.0
        self.errors = 0.0
        self.buckets: dict[float, float] = {}

    def merge(self, other: _Counts) -> None:
        self.requests += other.requests
        self.errors += other.errors
        for le, count in other.buckets.items():
            self.buckets[le] = self.buckets.get(le, 0.0) + count

    def window(self, track: str, routes: Mapping[str, TrackWindow] | None = None) -> TrackWindow:
        requests = round(self.requests)
        errors = min(requests, round(self.errors))
        return TrackWindow(track, requests, errors, spread(latency_points(self.buckets), requests - errors), routes or {})


class PrometheusSource:
    """``MetricsSource`` of the app's metrics in Prometheus at ``url`` (loopback only).

    ``track_of(slot)``: the track the tasks of a slot serve now (None: none of this release's);
    ``scrape_seconds``: Prometheus's scrape interval (how stale its newest sample may be);
    ``get``: how a URL is fetched (tests give canned answers); ``now``: the time of a window that
    ends at ``math.inf``.
    """

    def __init__(
        self,
        url: str,
        track_of: Callable[[str], str | None],
        scrape_seconds: float = 15.0,
        probe_routes: Iterable[str] = PROBE_ROUTES,
        get: Get = http_get,
        timeout: float = TIMEOUT,
        now: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK:
            raise ValueError(f"{url}: Prometheus is read on loopback only (http://127.0.0.1:PORT)")
        self.url = url.rstrip("/")
        self.track_of = track_of
        self.scrape_seconds = scrape_seconds
        routes = "|".join(sorted({r.rstrip("/") or "/" for r in probe_routes}))
        self.selector = f'job="app",route!~"{routes}"' if routes else 'job="app"'
        self._get = get
        self.timeout = timeout
        self._now = now
        self._unread = ""  # why the last read failed ("" when it did not)

    # --- the HTTP API --------------------------------------------------------------------
    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        """An instant query's vector at ``at``; :class:`PrometheusUnanswered` when there is none."""
        url = f"{self.url}/api/v1/query?{urlencode({'query': expr, 'time': f'{at:.3f}'})}"
        body = self._get(url, self.timeout)
        try:
            answer = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PrometheusUnanswered(f"not JSON: {body[:80]!r}") from exc
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(answer, dict) or answer.get("status") != "success" or not isinstance(data, dict):
            raise PrometheusUnanswered(str(answer.get("error") if isinstance(answer, dict) else answer)[:200])
        if data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise PrometheusUnanswered(f"a {data.get('resultType')} where a vector was asked for")
        return [r for r in data["result"] if isinstance(r, dict)]

    def _series(self, expr: str, at: float) -> list[tuple[dict[str, str], float]]:
        out = []
        for row in self.query(expr, at):
            labels, value = row.get("metric") or {}, row.get("value") or [0, "0"]
            number = float(value[1])
            if math.isfinite(number) and number > 0:
                out.append(({str(k): str(v) for k, v in labels.items()}, number))
        return out

    def _track(self, labels: Mapping[str, str]) -> str | None:
        slot = labels.get("slot", "")
        return "baseline" if slot == "baseline" else self.track_of(slot)

    # --- MetricsSource --------------------------------------------------------------------
    def unread(self) -> list[str]:
        """``["prometheus"]`` when the last read got no answer (or a stale one): never silence."""
        return ["prometheus"] if self._unread else []

    def findings(self) -> list[CheckResult]:
        return []

    @property
    def problem(self) -> str:
        """Why the last read failed ("" when it did not)."""
        return self._unread

    def windows(self, spans: Sequence[tuple[float, float]]) -> list[dict[str, TrackWindow]]:
        """:meth:`window` for each span; a read that fails leaves every window empty and ``unread`` set."""
        self._unread = ""
        try:
            newest = max((self._end(end) for _start, end in spans), default=self._now())
            self._fresh(newest)
            return [self._window(start, self._end(end)) for start, end in spans]
        except PrometheusUnanswered as exc:
            self._unread = str(exc) or "no answer"
            return [{track: TrackWindow(track) for track in TRACKS} for _ in spans]

    def window(self, start: float, end: float) -> dict[str, TrackWindow]:
        return self.windows([(start, end)])[0]

    def served(self, start: float, end: float) -> dict[str, dict[str, int]] | None:
        """Requests per track and version (the ``version`` label) over the window; None when
        Prometheus does not answer (the promotion is then recorded as not verifiable)."""
        end = self._end(end)
        if end <= start:
            return {}
        expr = f"sum by (slot, version) (increase(http_requests_total{{{self.selector}}}[{_range(end - start)}]))"
        try:
            rows = self._series(expr, end)
        except PrometheusUnanswered:
            return None
        out: dict[str, dict[str, int]] = {}
        for labels, value in rows:
            track = self._track(labels)
            if track is not None and round(value):
                per = out.setdefault(track, {})
                per[labels.get("version", "")] = per.get(labels.get("version", ""), 0) + round(value)
        return out

    def _end(self, end: float) -> float:
        return end if math.isfinite(end) else self._now()

    def _fresh(self, at: float) -> None:
        """Has Prometheus scraped the app lately, as of ``at``? (``up`` has a sample per scrape, failed or not.)"""
        rows = self.query('max(timestamp(up{job="app"}))', at)
        last = float(rows[0]["value"][1]) if rows else -math.inf
        if at - last > STALE_SCRAPES * self.scrape_seconds:
            since = "never" if not math.isfinite(last) else f"{at - last:.0f} s before the window's end"
            raise PrometheusUnanswered(f"no scrape of the app since {since}")

    def _window(self, start: float, end: float) -> dict[str, TrackWindow]:
        if not end > start or not math.isfinite(start):
            return {track: TrackWindow(track) for track in TRACKS}
        over = _range(end - start)
        by_route: dict[str, dict[str, _Counts]] = {track: {} for track in TRACKS}
        requests = f"sum by (slot, route, method, status) (increase(http_requests_total{{{self.selector}}}[{over}]))"
        for labels, value in self._series(requests, end):
            counts = self._counts(by_route, labels)
            if counts is not None:
                counts.requests += value
                if labels.get("status", "").startswith("5"):
                    counts.errors += value
        buckets = f"sum by (slot, route, method, le) (increase(http_request_duration_seconds_bucket{{{self.selector}}}[{over}]))"
        for labels, value in self._series(buckets, end):
            counts = self._counts(by_route, labels)
            if counts is not None and "le" in labels:
                le = _le(labels["le"])
                counts.buckets[le] = counts.buckets.get(le, 0.0) + value
        return {track: _summary(track, routes) for track, routes in by_route.items()}

    def _counts(self, by_route: dict[str, dict[str, _Counts]], labels: Mapping[str, str]) -> _Counts | None:
        track = self._track(labels)
        if track not in by_route:
            return None
        route = f"{labels.get('method', 'GET')} {labels.get('route', '/')}"
        return by_route[track].setdefault(route, _Counts())


def _summary(track: str, routes: Mapping[str, _Counts]) -> TrackWindow:
    """The track's window, in all and per route (the busiest ``MAX_ROUTES``, the rest as ``OTHER``)."""
    total = _Counts()
    for counts in routes.values():
        total.merge(counts)
    busiest = sorted(routes.items(), key=lambda kv: (-kv[1].requests, kv[0]))
    split = {name: counts.window(track) for name, counts in busiest[:MAX_ROUTES] if round(counts.requests)}
    if len(busiest) > MAX_ROUTES:
        rest = _Counts()
        for _name, counts in busiest[MAX_ROUTES:]:
            rest.merge(counts)
        split[OTHER] = rest.window(track)
    return total.window(track, split)
