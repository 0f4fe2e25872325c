"""The judge bench's own logic: which verdict came closest to failing."""

from __future__ import annotations

from pipeline.analysis.combined import CombinedSource, Read
from pipeline.analysis.source import StaticSource
from pipeline.analysis.window import TrackWindow
from pipeline.bench.agreement import SecondJudge, agreement
from pipeline.bench.judge import closest_call
from pipeline.bench.releases import BAD_RELEASES
from pipeline.environment.model import Canary


def test_the_closest_call_is_the_latency_check_nearest_its_limit() -> None:
    timeline = [
        (0.0, "verdict", {"step": 1, "checks": [{"name": "p95_ms", "value": 100.0, "limit": 500.0, "verdict": "pass"}]}),
        (
            1.0,
            "verdict",
            {
                "step": 2,
                "checks": [
                    {"name": "p95_vs_baseline", "value": 90.0, "limit": 100.0, "verdict": "pass"},
                    {"name": "mann_whitney", "value": 0.9, "limit": 0.2, "verdict": "pass"},  # an effect, not a latency
                    {"name": "error_rate", "value": 0.009, "limit": 0.01, "verdict": "pass"},
                ],
            },
        ),
        (2.0, "verdict", {"step": "bake", "checks": [{"name": "p95_ms", "value": 499.0, "limit": 500.0, "verdict": "pass"}]}),
    ]
    assert closest_call(timeline) == "p95_vs_baseline at 90% of its limit (pass) in step 2"
    assert closest_call([]) == "-"
    # a route check reports its smallest p-value against its level: p=0.0125 at level 0.0025 is 20 %
    route = {"name": "route_latency", "value": 0.0125, "limit": 0.0025, "verdict": "pass"}
    timeline.append((3.0, "verdict", {"step": 3, "checks": [route]}))
    assert closest_call(timeline) == "p95_vs_baseline at 90% of its limit (pass) in step 2"
    route["value"] = 0.0026
    assert closest_call(timeline) == "route_latency at 96% of its level, p=0.0026 (pass) in step 3"
    route |= {"value": 1e-30, "verdict": "fail"}
    assert closest_call(timeline) == "route_latency at over 1000% of its level, p=1e-30 (fail) in step 3"


def test_every_bad_release_of_the_bench_must_be_rolled_back() -> None:
    assert len(BAD_RELEASES) >= 6
    assert all(bad.expect.value == "rolled_back" for bad in BAD_RELEASES.values())
    assert any(bad.patch is not None for bad in BAD_RELEASES.values())  # real code changes, not only knobs


def test_onset_to_zero_runs_from_the_first_failure_to_the_last_answer_of_the_release() -> None:
    from pipeline.analysis.records import Record
    from pipeline.bench.judge import onset_to_zero

    records = (
        Record(100.0, "canary", 200, 10, version="bad"),
        Record(101.0, "canary", 500, 20, version="bad"),  # arrived at 100.98
        Record(102.0, "stable", 500, 10, version="good"),  # stable's failures are not the release's onset
        Record(103.5, "canary", 200, 10, version="bad"),
        Record(104.0, "stable", 200, 10, version="good"),
    )
    assert onset_to_zero(records, "bad", 99, 105) == 2.52
    assert onset_to_zero(records, "good", 99, 101.5) is None  # no failure of good in that window


def test_to_previous_is_the_last_request_that_reached_the_new_version_after_the_command() -> None:
    from pipeline.analysis.records import Record
    from pipeline.bench.judge import to_previous

    records = (
        Record(10.0, "stable", 200, 10, version="new"),
        Record(11.2, "stable", 200, 100, version="new"),  # arrived at 11.1: after the command
        Record(12.5, "stable", 200, 1200, version="new"),  # arrived at 11.3, answered (in flight) at 12.5
        Record(11.5, "stable", 200, 10, version="old"),
    )
    assert to_previous(records, "new", 11.0) == (0.3, 1.5)  # switched at 11.3; drained at 12.5
    assert to_previous(records, "new", 12.0) == (0.0, 0.0)


def _windows(canary: int, errors: int = 0, reference: int = 400) -> dict[str, TrackWindow]:
    timed = tuple(20.0 + (i % 7) for i in range(canary - errors))
    return {
        "canary": TrackWindow("canary", canary, errors, timed),
        "baseline": TrackWindow("baseline", reference, 0, tuple(20.0 + (i % 7) for i in range(reference))),
        "stable": TrackWindow("stable", reference, 0, tuple(20.0 + (i % 7) for i in range(reference))),
    }


def test_the_second_judge_takes_each_sources_verdict_at_every_decision_and_counts_agreement() -> None:
    judge = SecondJudge(Canary(), "baseline")
    good, bad = _windows(400), _windows(400, errors=40)
    spans = ((0.0, 10.0), (0.0, 10.0))
    judge(Read(spans, [good, good], [good, good]))  # step 1: both pass
    judge(Read(((10.0, 20.0), (0.0, 20.0)), [good, good], [bad, bad]))  # step 2: Prometheus sees errors
    judge(Read(((30.0, 40.0),), [good], [good]))  # the bake
    timeline = [
        (10.1, "verdict", {"step": 1}),
        (15.0, "snapshot", {}),
        (20.1, "verdict", {"step": 2}),
        (40.1, "bake", {"verdict": "pass"}),
    ]
    verdicts = judge.verdicts(timeline)
    assert verdicts == {"edge": ["1:pass", "2:pass", "bake:pass"], "prometheus": ["1:pass", "2:fail", "bake:pass"]}
    same = {"edge": ["1:pass"], "prometheus": ["1:pass"]}
    assert agreement([verdicts, same, {"edge": [], "prometheus": []}]) == (1, 2)


def test_the_second_judge_watches_only_a_both_source() -> None:
    judge = SecondJudge(Canary(), "stable")
    both = CombinedSource(StaticSource(), StaticSource())
    judge.watch(both)
    judge.watch(StaticSource())  # edge alone: nothing to compare
    both.window(0.0, 10.0)
    assert both.observe is judge and len(judge.reads) == 1
