"""The CloudWatch adapter: per-track statistics become windows the canary checks can judge."""

from __future__ import annotations

from typing import Any

from pipeline.analysis.checks import Verdict, analyse, overall
from pipeline.analysis.cloudwatch import CloudWatchSource, dimension, spread
from pipeline.analysis.window import percentile
from pipeline.commands.aws import AwsCall
from pipeline.environment.model import Thresholds

LB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/pl-x/abc"
TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/pl-x-{}/def"


class Answers:
    dry_run = False

    def __init__(self, values: dict[str, list[float]]) -> None:
        self.values = values
        self.calls: list[AwsCall] = []

    def call(self, request: AwsCall) -> dict[str, Any]:
        self.calls.append(request)
        return {"MetricDataResults": [{"Id": k, "Values": v} for k, v in self.values.items()]}


def test_dimensions_are_the_arn_suffixes() -> None:
    assert dimension(LB, "app/") == "app/pl-x/abc"
    assert dimension(TG.format("stable"), "targetgroup/") == "targetgroup/pl-x-stable/def"


def test_spread_keeps_the_reported_percentiles() -> None:
    values = spread({50.0: 20.0, 95.0: 80.0, 99.0: 200.0, 100.0: 400.0}, 1000)
    assert len(values) == 1000
    assert abs((percentile(sorted(values), 50) or 0) - 20.0) < 1.0
    assert abs((percentile(sorted(values), 95) or 0) - 80.0) < 3.0
    assert max(values) <= 400.0
    assert spread({}, 10) == () and spread({50.0: 1.0}, 0) == ()


def test_window_reads_both_tracks_in_one_call_and_judges_a_bad_canary() -> None:
    answers = Answers(
        {
            "stable_requests": [300.0, 300.0],
            "stable_errors": [1.0],
            "stable_latency_p50": [0.020, 0.022],
            "stable_latency_p95": [0.040],
            "canary_requests": [100.0],
            "canary_errors": [30.0],
            "canary_latency_p50": [0.020],
            "canary_latency_p95": [0.045],
        }
    )
    source = CloudWatchSource(answers, LB, {"stable": TG.format("stable"), "canary": TG.format("canary")}, period=60)
    windows = source.window(1_000_000.0, 1_000_060.0)
    assert len(answers.calls) == 1 and answers.calls[0].mutates is False
    dims = answers.calls[0].params["MetricDataQueries"][0]["MetricStat"]["Metric"]["Dimensions"]
    assert dims == [
        {"Name": "LoadBalancer", "Value": "app/pl-x/abc"},
        {"Name": "TargetGroup", "Value": "targetgroup/pl-x-stable/def"},
    ]
    assert (windows["stable"].requests, windows["stable"].errors) == (600, 1)
    assert (windows["canary"].requests, windows["canary"].errors) == (100, 30)
    assert len(windows["canary"].latencies_ms) == 70
    assert overall(analyse(windows["canary"], windows["stable"], Thresholds())) == Verdict.FAIL
    good = Answers({**answers.values, "canary_errors": []})
    windows = CloudWatchSource(good, LB, {"stable": TG.format("stable"), "canary": TG.format("canary")}).window(0.0, 60.0)
    assert overall(analyse(windows["canary"], windows["stable"], Thresholds())) == Verdict.PASS
