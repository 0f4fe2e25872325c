"""Per-track summaries of a time window of records."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from pipeline.analysis.records import Record


def percentile(sorted_values: tuple[float, ...] | list[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values: the smallest value with at least q % of
    the values at or below it (always an observed value; q=0 is the minimum). None when empty."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} is outside 0..100")
    n = len(sorted_values)
    if n == 0:
        return None
    # round() absorbs float noise such as 99.9 * 1000 / 100 = 999.0000000000001
    rank = max(1, math.ceil(round(q * n / 100.0, 9)))
    return sorted_values[min(rank, n) - 1]


@dataclass(frozen=True)
class TrackWindow:
    """What one track did during a window.

    ``latencies_ms`` holds the latencies of the requests that did not fail (status < 500); they are
    kept sorted. Failures are judged by the error checks; timing them too would let a crashed
    upstream's instant 502s make a broken track look fast. ``routes`` splits the same requests
    by route (method and path template, :func:`pipeline.analysis.records.route_of`) where the
    source knows them; the busiest ``MAX_ROUTES`` are kept, the rest are counted as ``OTHER``.
    """

    track: str
    requests: int = 0
    errors: int = 0
    latencies_ms: tuple[float, ...] = ()
    routes: Mapping[str, TrackWindow] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.requests < 0 or not 0 <= self.errors <= self.requests:
            raise ValueError(f"inconsistent window: {self.errors} errors in {self.requests} requests")
        values = tuple(float(v) for v in self.latencies_ms)
        if any(b < a for a, b in pairwise(values)):
            values = tuple(sorted(values))
        object.__setattr__(self, "latencies_ms", values)

    @property
    def error_rate(self) -> float:
        """Share (0..1) of requests that failed; 0.0 when there were none."""
        return self.errors / self.requests if self.requests else 0.0

    def percentile(self, q: float) -> float | None:
        """Nearest-rank latency percentile in ms (see :func:`percentile`); None without latencies."""
        return percentile(self.latencies_ms, q)

    @property
    def p50(self) -> float | None:
        return self.percentile(50.0)

    @property
    def p95(self) -> float | None:
        return self.percentile(95.0)

    @property
    def p99(self) -> float | None:
        return self.percentile(99.0)

    def as_dict(self) -> dict[str, int | float | None]:
        """A JSON-ready summary for the journal; latencies rounded to 0.1 ms."""

        def ms(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 4),
            "p50_ms": ms(self.p50),
            "p95_ms": ms(self.p95),
            "p99_ms": ms(self.p99),
        }


MAX_ROUTES = 12  # routes judged one by one; a long tail of rare routes is pooled as OTHER
OTHER = "other routes"


class _Tally:
    __slots__ = ("errors", "latencies", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.latencies: list[float] = []

    def add(self, record: Record) -> None:
        self.requests += 1
        if record.failed:
            self.errors += 1
        else:
            self.latencies.append(record.latency_ms)

    def merge(self, other: _Tally) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.latencies.extend(other.latencies)

    def window(self, track: str, routes: Mapping[str, TrackWindow] | None = None) -> TrackWindow:
        return TrackWindow(track, self.requests, self.errors, tuple(sorted(self.latencies)), routes or {})


def summarize(records: Iterable[Record], track: str, start: float, end: float) -> TrackWindow:
    """Summarise the records of ``track`` with ``start <= ts < end``, in all and per route."""
    total = _Tally()
    by_route: dict[str, _Tally] = {}
    for record in records:
        if record.track != track or not start <= record.ts < end:
            continue
        total.add(record)
        if record.method:  # a log without methods has no routes to tell apart
            by_route.setdefault(record.route, _Tally()).add(record)
    busiest = sorted(by_route.items(), key=lambda kv: (-kv[1].requests, kv[0]))
    routes = {name: tally.window(track) for name, tally in busiest[:MAX_ROUTES]}
    if len(busiest) > MAX_ROUTES:
        rest = _Tally()
        for _name, tally in busiest[MAX_ROUTES:]:
            rest.merge(tally)
        routes[OTHER] = rest.window(track)
    return total.window(track, routes)


MAX_SAMPLES = 5000  # synthetic latencies per window at most (their quantiles, not their count, matter)


def spread(points: Mapping[float, float] | Iterable[tuple[float, float]], n: int) -> tuple[float, ...]:
    """``n`` values whose quantiles follow ``points`` (quantile in 0..100 -> value), linear in between:
    the latencies of a window whose source reports statistics, not requests (CloudWatch's percentiles,
    a Prometheus histogram's buckets). Pairs may repeat a quantile with a higher value (a step: an
    empty histogram bucket), sorted by quantile then value. At most ``MAX_SAMPLES`` values."""
    known = sorted(points.items() if isinstance(points, Mapping) else points)
    if n <= 0 or not known:
        return ()
    count = min(n, MAX_SAMPLES)
    out: list[float] = []
    for i in range(count):
        q = 100.0 * (i + 0.5) / count
        if q <= known[0][0]:
            out.append(known[0][1])
            continue
        if q >= known[-1][0]:
            out.append(known[-1][1])
            continue
        for (q0, v0), (q1, v1) in pairwise(known):
            if q0 <= q <= q1:
                out.append(v0 + (v1 - v0) * (q - q0) / (q1 - q0) if q1 > q0 else v1)
                break
    return tuple(out)
