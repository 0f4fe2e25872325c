"""A metrics source for the canary controller from CloudWatch: the ALB's per-target-group metrics.

Per track (one target group each) and window: ``RequestCount`` (Sum), ``HTTPCode_Target_5XX_Count``
(Sum) and ``TargetResponseTime`` statistics (percentiles and/or Average, Maximum; seconds). The
controller's checks want latencies per request, CloudWatch gives statistics: the adapter spreads
the successful requests over the reported quantiles (linear between them), which preserves the
percentiles the checks compare and gives the rank test a faithful shape. ALB metrics come per
minute, so real ECS canaries hold each step for at least ``metrics_period_seconds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pipeline.analysis.checks import CheckResult
from pipeline.analysis.window import TrackWindow, spread
from pipeline.commands.aws import AwsExecutor, call

QUANTILE = {"Minimum": 0.0, "p50": 50.0, "Average": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "Maximum": 100.0}


def dimension(arn: str, marker: str) -> str:
    """The CloudWatch dimension value of an ALB or target group ARN (``app/name/id``, ``targetgroup/name/id``)."""
    return arn[arn.index(marker) :] if marker in arn else arn


class CloudWatchSource:
    """``MetricsSource`` of the ALB's target groups; ``target_groups`` maps a track to its target group ARN."""

    def __init__(
        self,
        ex: AwsExecutor,
        load_balancer_arn: str,
        target_groups: dict[str, str],
        period: int = 60,
        latency_stats: list[str] | None = None,
    ) -> None:
        self.ex = ex
        self.load_balancer = dimension(load_balancer_arn, "app/")
        self.target_groups = {track: dimension(arn, "targetgroup/") for track, arn in target_groups.items()}
        self.period = period
        self.latency_stats = [s for s in (latency_stats or ["p50", "p90", "p95", "p99", "Maximum"]) if s in QUANTILE]

    def _query(self, qid: str, track: str, metric: str, stat: str) -> dict[str, Any]:
        dims = [
            {"Name": "LoadBalancer", "Value": self.load_balancer},
            {"Name": "TargetGroup", "Value": self.target_groups[track]},
        ]
        return {
            "Id": qid,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": metric, "Dimensions": dims},
                "Period": self.period,
                "Stat": stat,
            },
            "ReturnData": True,
        }

    def queries(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for track in ("stable", "canary"):
            out.append(self._query(f"{track}_requests", track, "RequestCount", "Sum"))
            out.append(self._query(f"{track}_errors", track, "HTTPCode_Target_5XX_Count", "Sum"))
            for stat in self.latency_stats:
                out.append(self._query(f"{track}_latency_{stat.lower()}", track, "TargetResponseTime", stat))
        return out

    def served(self, start: float, end: float) -> dict[str, dict[str, int]] | None:
        """The ALB's metrics do not say which version answered: a promotion is verified by ECS's deployments."""
        return None

    def unread(self) -> list[str]:
        return []  # a failed CloudWatch call raises: it is never taken for silence

    def findings(self) -> list[CheckResult]:
        return []

    def windows(self, spans: Sequence[tuple[float, float]]) -> list[dict[str, TrackWindow]]:
        """One ``GetMetricData`` call per span (CloudWatch sums its own periods; nothing to share)."""
        return [self.window(start, end) for start, end in spans]

    def window(self, start: float, end: float) -> dict[str, TrackWindow]:
        """Windows of ``start <= ts < end`` for both tracks, from one ``GetMetricData`` call."""
        answer = self.ex.call(
            call(
                "cloudwatch",
                "get_metric_data",
                mutates=False,
                description="canary metrics",
                MetricDataQueries=self.queries(),
                StartTime=datetime.fromtimestamp(start, UTC),
                EndTime=datetime.fromtimestamp(max(end, start + 1), UTC),
            )
        )
        series = {r["Id"]: [float(v) for v in r.get("Values", []) if v is not None] for r in answer.get("MetricDataResults", [])}
        out: dict[str, TrackWindow] = {}
        for track in ("stable", "canary"):
            requests = round(sum(series.get(f"{track}_requests", [])))
            errors = min(requests, round(sum(series.get(f"{track}_errors", []))))
            points: dict[float, float] = {}
            for stat in self.latency_stats:
                values = series.get(f"{track}_latency_{stat.lower()}", [])
                if values:
                    value = max(values) if stat == "Maximum" else sum(values) / len(values)
                    points.setdefault(QUANTILE[stat], value * 1000.0)
            out[track] = TrackWindow(track, requests, errors, spread(points, requests - errors))
        return out
