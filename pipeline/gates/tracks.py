"""Per-track latency and failures from k6's raw points, and the canary-vs-stable comparison.

The perf scripts record ``track_duration`` (ms) and ``track_failed`` tagged with the track
that served each request (the edge's ``X-Edge-Track``). Percentiles are computed here
from every point, over the whole run and per second (for the report's chart).
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.environment.perf import Relative


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of sorted-or-not values; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Point:
    t: float  # epoch seconds
    metric: str
    value: float
    track: str


def read_points(path: Path) -> Iterator[Point]:
    """The ``track_*`` points of a ``k6 --out json=`` file (plain or .gz); bad lines are skipped.

    A k6 that crashed (killed) leaves its gzip stream cut off: the points read up to the cut are
    kept, the rest of the file is not there to read (the gate reports the crash itself)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        while True:
            try:
                line = handle.readline()
            except (EOFError, gzip.BadGzipFile, zlib.error):
                return
            if not line:
                return
            if '"track_' not in line or '"Point"' not in line:
                continue
            try:
                entry = json.loads(line)
                data = entry["data"]
                t = datetime.fromisoformat(data["time"].replace("Z", "+00:00")).timestamp()
                yield Point(t, entry["metric"], float(data["value"]), str(data.get("tags", {}).get("track", "none")))
            except (ValueError, KeyError, TypeError):
                continue


@dataclass(frozen=True)
class TrackStats:
    track: str
    requests: int
    failed: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def error_rate(self) -> float:
        return self.failed / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_rate": round(self.error_rate, 5)}


def track_stats(points: Iterable[Point]) -> dict[str, TrackStats]:
    durations: dict[str, list[float]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    for p in points:
        if p.metric == "track_duration":
            durations[p.track].append(p.value)
        elif p.metric == "track_failed" and p.value:
            failed[p.track] += 1
    return {
        track: TrackStats(
            track,
            len(values),
            failed[track],
            round(percentile(values, 50), 2),
            round(percentile(values, 95), 2),
            round(percentile(values, 99), 2),
        )
        for track, values in sorted(durations.items())
    }


def per_second(points: Iterable[Point]) -> dict[str, list[tuple[float, float, float, float]]]:
    """Per track: (second since start, p50, p95, p99) of ``track_duration``."""
    buckets: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    start: float | None = None
    kept = [p for p in points if p.metric == "track_duration"]
    for p in kept:
        start = p.t if start is None else min(start, p.t)
    for p in kept:
        buckets[p.track][int(p.t - (start or 0.0))].append(p.value)
    return {
        track: [(float(s), percentile(v, 50), percentile(v, 95), percentile(v, 99)) for s, v in sorted(seconds.items())]
        for track, seconds in sorted(buckets.items())
    }


LATENCY = ("p50", "p95", "p99")


def latency_check(check: str) -> bool:
    """A comparison of latency percentiles (``p95_vs_stable``, ``p99_vs_baseline``): noisy, so a
    failure on these alone may be confirmed by a fresh run."""
    return check.split("_vs_")[0] in LATENCY


@dataclass(frozen=True)
class Comparison:
    check: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(stats: dict[str, TrackStats], policy: Relative, reference: str = "stable") -> tuple[list[Comparison], list[str]]:
    """Canary against its reference (stable, or the release's fresh baseline): (comparisons, errors).
    An error means the run cannot be judged."""
    errors = []
    for track in (reference, "canary"):
        have = stats[track].requests if track in stats else 0
        if have < policy.min_requests:
            errors.append(
                f"only {have} requests were served by the {track} track (need {policy.min_requests}): "
                "is a canary deployed, and does the edge honour the track pin (run `pipeline up` after an upgrade)?"
            )
    if errors:
        return [], errors
    ref, canary = stats[reference], stats["canary"]
    results = []
    ratios = (("p50", policy.max_p50_ratio), ("p95", policy.max_p95_ratio), ("p99", policy.max_p99_ratio))
    for name, ratio in ((n, r) for n, r in ratios if r is not None):
        s, c = getattr(ref, f"{name}_ms"), getattr(canary, f"{name}_ms")
        limit = max(s * ratio, s + policy.min_delta_ms)
        ok = c <= limit
        results.append(
            Comparison(
                f"{name}_vs_{reference}",
                ok,
                f"canary {name} {c:.1f} ms {'<=' if ok else '>'} {limit:.1f} ms "
                f"({reference} {s:.1f} ms x {ratio:g}, at least +{policy.min_delta_ms:g} ms)",
            )
        )
    delta = canary.error_rate - ref.error_rate
    ok = delta <= policy.max_error_rate_delta
    results.append(
        Comparison(
            f"error_rate_vs_{reference}",
            ok,
            f"canary errors {canary.error_rate:.2%} vs {reference} {ref.error_rate:.2%} "
            f"({'within' if ok else 'over'} +{policy.max_error_rate_delta:.2%})",
        )
    )
    return results, []
