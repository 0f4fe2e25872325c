"""The ``perf`` section of an environment: k6 load and the thresholds of the perf gate."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from pipeline.environment.base import Strict

# k6's threshold grammar for the aggregations our gate reads back:
#   <aggregation> <operator> <number>, e.g. "p(95)<300", "rate<0.01", "count>=100"
THRESHOLD = re.compile(
    r"^\s*(avg|min|max|med|count|rate|value|p\((\d{1,2}(\.\d+)?|100)\))\s*(<=|>=|==|!=|<|>)\s*(-?\d+(\.\d+)?)\s*$"
)
METRIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\{[A-Za-z_][A-Za-z0-9_]*:[^{}:]+\})?$")

DEFAULT_THRESHOLDS: dict[str, list[str]] = {
    "http_req_duration": ["p(95)<500", "p(99)<1000"],
    "http_req_failed": ["rate<0.01"],
    # an exception in the script's default function records a failed check (perf/lib/gate.js)
    "checks": ["rate>=0.99"],
}


class Relative(Strict):
    """The regression gate: the canary against stable, measured in one run under the same load."""

    max_p50_ratio: Annotated[float, Field(ge=1.0)] | None = Field(
        default=None,
        description="the median is steady under noise and catches an even slowdown that noisy tails hide; only "
        "for paths of similar cost (the median of a mix of fast and slow paths jumps between them); None: off",
    )
    max_p95_ratio: Annotated[float, Field(ge=1.0)] = 1.2
    max_p99_ratio: Annotated[float, Field(ge=1.0)] = 1.5
    max_error_rate_delta: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=0.005, description="canary error rate may exceed stable's by at most this share"
    )
    min_delta_ms: Annotated[float, Field(ge=0.0)] = Field(
        default=5.0, description="a latency difference smaller than this never fails the ratio"
    )
    min_requests: Annotated[int, Field(ge=1)] = 100
    latency_runs: Annotated[int, Field(ge=1, le=5)] = Field(
        default=1,
        description="runs in all when only latency ratios failed: each failure is confirmed by a fresh run "
        "(errors and absolute thresholds act at once)",
    )


class Perf(Strict):
    """k6 parameters and thresholds; scripts in perf/ read them from the environment."""

    rate: Annotated[int, Field(ge=1, le=5000)] = Field(default=30, description="requests/s (per track for compare)")
    duration_seconds: Annotated[int, Field(ge=1, le=3600)] = 20
    paths: list[str] = Field(default_factory=lambda: ["/api/notes?limit=5", "/version"])
    thresholds: dict[str, list[str]] = Field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_THRESHOLDS.items()})
    relative: Relative = Relative()

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one path")
        for path in value:
            if not path.startswith("/") or "," in path or any(c.isspace() for c in path):
                raise ValueError(f"'{path}' is not a path such as /api/notes?limit=5 (no commas or spaces)")
        return value

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for metric, expressions in value.items():
            if not METRIC.match(metric):
                raise ValueError(f"'{metric}' is not a k6 metric name (e.g. http_req_duration or checks{{tag:value}})")
            if not expressions:
                raise ValueError(f"{metric}: needs at least one expression such as 'p(95)<300'")
            for expression in expressions:
                if not THRESHOLD.match(expression):
                    raise ValueError(
                        f"{metric}: '{expression}' is not a k6 threshold; write <aggregation><op><number> "
                        "such as 'p(95)<300', 'rate<0.01' or 'avg<=200'"
                    )
        if "checks" not in value:
            raise ValueError("needs a 'checks' threshold (e.g. 'rate>=0.99'): it is what catches script exceptions")
        return value
