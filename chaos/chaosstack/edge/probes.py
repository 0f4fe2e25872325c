"""Probes through the edge: does it answer, and what did users see (its access log) over a window."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosstack._stack import Stack
from pipeline.analysis.window import percentile

__all__ = ["answers", "edge_window", "error_rate_within"]

TAIL_BYTES = 512 << 10  # ~1 500 log lines: a window of the last seconds at up to ~150 requests/s
LOAD_STARTED_VAR = "PIPELINE_CHAOS_LOAD_STARTED"  # set by `pipeline chaos run`: when its k6 began
CLIENT_GAVE_UP = 499  # nginx: the client closed the connection before the answer
REQUEST_TIMEOUT = 10.0  # like k6 (perf/load.js): an answer within 10 s is an answer, however slow


def answers(
    path: str = "/version",
    status: int = 200,
    within_seconds: float = 0.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """True when ``path`` answers ``status`` through the edge (the target's address), trying for up to ``within_seconds``."""
    stack = Stack.from_configuration(configuration)

    def once() -> bool | None:
        try:
            with urllib.request.urlopen(stack.url + path, timeout=REQUEST_TIMEOUT) as response:
                return True if int(response.status) == status else None
        except urllib.error.HTTPError as exc:
            return True if exc.code == status else None
        except (urllib.error.URLError, OSError, ValueError):
            return None

    try:
        return stack.wait_for(once, within_seconds, f"{path} answering {status}")
    except ActivityFailed:
        return False


def edge_window(
    window_seconds: float = 10.0, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Requests, failed requests (5xx, including the edge's own 502/504, and 499), error rate and p95 over the last seconds."""
    stack = Stack.from_configuration(configuration)
    source = stack.edge_source(TAIL_BYTES)
    source.pull()
    # never before this experiment's own load began: the previous experiment's k6, stopping, leaves 499s behind
    since = max(stack.now() - window_seconds, float(os.environ.get(LOAD_STARTED_VAR, "0") or 0))
    records = [r for r in source.records if r.ts >= since]
    requests = len(records)
    # 5xx (including the edge's own 502/504) and 499: the client gave up waiting, which users see as a failure too
    failed = sum(1 for r in records if r.failed or r.status == CLIENT_GAVE_UP)
    latencies = sorted(r.latency_ms for r in records if not r.failed and r.status != CLIENT_GAVE_UP)
    p95 = percentile(latencies, 95)
    return {
        "requests": requests,
        "failed": failed,
        "error_rate": failed / requests if requests else 0.0,
        "p95_ms": None if p95 is None else round(p95, 1),
    }


def error_rate_within(
    max_error_rate: float = 0.01,
    window_seconds: float = 10.0,
    max_p95_ms: float = 0.0,
    min_requests: int = 5,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> bool:
    """True when the edge saw at most ``max_error_rate`` failed requests over the last ``window_seconds``.

    Also holds p95 to ``max_p95_ms`` when that is above 0. Fewer than ``min_requests``
    requests is not a pass: silence is not a steady state (the run puts k6 load on the edge).
    """
    seen = edge_window(window_seconds, configuration=configuration)
    if seen["requests"] < min_requests:
        return False
    if seen["error_rate"] > max_error_rate:
        return False
    return not (max_p95_ms > 0 and seen["p95_ms"] is not None and seen["p95_ms"] > max_p95_ms)
