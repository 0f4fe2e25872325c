"""The perf gate's own logic: k6 results judged, tracks compared, thresholds validated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.edge import pin_token, render_nginx_conf
from pipeline.environment.model import Environment
from pipeline.environment.perf import Perf, Relative
from pipeline.gates.k6result import Verdict, evaluate, exception_lines
from pipeline.gates.perf import GateResult, PerfGate, PerfPlan
from pipeline.gates.tracks import Point, TrackStats, compare, percentile, track_stats
from pipeline.project import Project
from pipeline.testing import FakeExecutor

TH = {"http_req_duration": ["p(95)<300"], "checks": ["rate>=0.99"]}


def summary(duration_count: int = 10, crossed: bool = False, checks: tuple[int, int] = (10, 0)) -> dict[str, Any]:
    return {
        "metrics": {
            "http_req_duration": {
                "p(95)": 412.0 if crossed else 12.0,
                "count": duration_count,
                "thresholds": {"p(95)<300": crossed},
            },
            "checks": {
                "passes": checks[0],
                "fails": checks[1],
                "value": checks[0] / max(1, sum(checks)),
                "thresholds": {"rate>=0.99": False},
            },
        }
    }


def test_a_clean_run_passes() -> None:
    assert evaluate(0, summary(), "", TH).verdict == Verdict.PASS


def test_crossed_thresholds_are_named() -> None:
    outcome = evaluate(99, summary(crossed=True), "", TH)
    assert outcome.verdict == Verdict.FAIL
    assert outcome.problems == ["threshold crossed: http_req_duration p(95)<300 (measured p(95)=412.0)"]


def test_exit_99_without_a_crossed_threshold_still_fails() -> None:
    assert evaluate(99, summary(), "", TH).verdict == Verdict.FAIL


def test_a_metric_without_samples_is_an_error_even_when_k6_says_ok() -> None:
    outcome = evaluate(0, summary(duration_count=0), "", TH)
    assert outcome.verdict == Verdict.ERROR
    assert "never emitted" in outcome.problems[0]


def test_a_threshold_metric_missing_from_the_summary_is_an_error() -> None:
    outcome = evaluate(0, summary(), "", {**TH, "custom": ["count>1"]})
    assert outcome.verdict == Verdict.ERROR


@pytest.mark.parametrize(
    ("code", "words"),
    [(107, "script error"), (104, "invalid k6 configuration"), (-9, "k6 crashed"), (137, "k6 crashed"), (1, "k6 failed")],
)
def test_other_exit_codes_are_errors_of_the_gate(code: int, words: str) -> None:
    outcome = evaluate(code, None, '{"level":"error","msg":"GoError: bad\\nmore"}', TH)
    assert outcome.verdict == Verdict.ERROR
    assert outcome.problems[0].startswith(f"{words} (k6 exit {code})")
    if code != -9:
        assert outcome.problems[0].endswith("GoError: bad")


def test_no_summary_is_an_error() -> None:
    assert evaluate(0, None, "", TH).verdict == Verdict.ERROR


def test_logged_exceptions_fail_a_run_k6_passed() -> None:
    log = '{"level":"error","msg":"Error: boom\\n\\tat default","source":"stacktrace"}\n{"level":"info","msg":"x"}\nnot json'
    assert exception_lines(log) == ["Error: boom"]
    outcome = evaluate(0, summary(), log, TH)
    assert outcome.verdict == Verdict.FAIL
    assert outcome.exceptions == 1


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50.0, 95.0, 100.0)
    assert percentile([], 95) == 0.0


def test_track_stats_count_failures_per_served_track() -> None:
    points = [Point(0.0, "track_duration", float(v), "canary") for v in range(10)]
    points += [Point(0.0, "track_failed", 1.0, "canary"), Point(0.0, "track_failed", 0.0, "canary")]
    stats = track_stats(points)
    assert stats["canary"].requests == 10 and stats["canary"].failed == 1


def stats(stable: float, canary: float, canary_failed: int = 0) -> dict[str, TrackStats]:
    return {
        "stable": TrackStats("stable", 200, 0, stable, stable, stable * 1.2),
        "canary": TrackStats("canary", 200, canary_failed, canary, canary, canary * 1.2),
    }


def test_compare_fails_a_slower_canary_and_names_the_check() -> None:
    results, errors = compare(stats(100.0, 125.0), Relative(max_p95_ratio=1.2, max_p99_ratio=1.2))
    assert not errors
    failed = {r.check for r in results if not r.passed}
    assert failed == {"p95_vs_stable", "p99_vs_stable"}  # the median is judged only when asked for
    with_median, _ = compare(stats(100.0, 125.0), Relative(max_p50_ratio=1.15))
    assert "p50_vs_stable" in {r.check for r in with_median if not r.passed}


def test_the_median_catches_an_even_slowdown_that_noisy_tails_hide() -> None:
    """+25 ms on every request of a 100 ms endpoint, with 90 ms of noise in both tails: p95 and p99 stay
    within their ratios, the median does not."""
    noisy = {
        "stable": TrackStats("stable", 300, 0, 104.0, 190.0, 260.0),
        "canary": TrackStats("canary", 300, 0, 129.0, 215.0, 285.0),
    }
    results, _ = compare(noisy, Relative(max_p50_ratio=1.15, max_p95_ratio=1.15, max_p99_ratio=1.15, min_delta_ms=15))
    assert [r.check for r in results if not r.passed] == ["p50_vs_stable"]


def test_compare_ignores_differences_under_the_minimum_delta() -> None:
    results, _ = compare(stats(4.0, 8.0), Relative(min_delta_ms=5))
    assert all(r.passed for r in results)


def test_compare_fails_on_canary_errors() -> None:
    results, _ = compare(stats(10.0, 10.0, canary_failed=4), Relative(max_error_rate_delta=0.01))
    assert [r.check for r in results if not r.passed] == ["error_rate_vs_stable"]


def test_compare_judges_against_the_baseline_when_it_is_the_reference() -> None:
    # stable is warm and fast; the baseline, as young as the canary, is as slow as it: no regression
    tracks = {**stats(40.0, 120.0), "baseline": TrackStats("baseline", 200, 0, 115.0, 115.0, 138.0)}
    results, errors = compare(tracks, Relative(max_p95_ratio=1.2, max_p99_ratio=1.2))
    assert not errors and not all(r.passed for r in results)
    against_baseline, errors = compare(tracks, Relative(max_p95_ratio=1.2, max_p99_ratio=1.2), "baseline")
    assert not errors and all(r.passed for r in against_baseline)
    assert {r.check for r in against_baseline} == {"p95_vs_baseline", "p99_vs_baseline", "error_rate_vs_baseline"}
    assert "baseline 115.0 ms" in against_baseline[0].detail
    _, missing = compare(stats(10.0, 10.0), Relative(), "baseline")
    assert missing and "baseline track" in missing[0]


def test_only_latency_comparisons_are_confirmed_by_a_fresh_run() -> None:
    from pipeline.gates.tracks import latency_check

    assert [latency_check(c) for c in ("p50_vs_stable", "p99_vs_baseline", "error_rate_vs_baseline")] == [True, True, False]


def test_compare_without_enough_requests_cannot_judge() -> None:
    _, errors = compare({"stable": TrackStats("stable", 500, 0, 1, 1, 1)}, Relative())
    assert errors and "canary" in errors[0]


@pytest.mark.parametrize(
    "thresholds",
    [
        {"http_req_duration": ["p95<300"], "checks": ["rate>0.9"]},
        {"http_req_duration": ["p(95) < abc"], "checks": ["rate>0.9"]},
        {"bad metric": ["avg<1"], "checks": ["rate>0.9"]},
        {"http_req_duration": [], "checks": ["rate>0.9"]},
        {"http_req_duration": ["p(95)<300"]},
    ],
)
def test_malformed_thresholds_are_refused(thresholds: dict[str, list[str]]) -> None:
    with pytest.raises(ValidationError):
        Perf(thresholds=thresholds)


def test_well_formed_thresholds_load() -> None:
    perf = Perf(thresholds={"http_req_duration{track:canary}": ["p(99) <= 800", "avg<100"], "checks": ["rate>=0.99"]})
    assert "http_req_duration{track:canary}" in perf.thresholds


def test_perf_gate_step_must_be_a_canary_step() -> None:
    with pytest.raises(ValidationError):
        Environment.model_validate({"canary": {"steps": [10, 50], "perf_gate_at": 25}})
    assert Environment.model_validate({"canary": {"steps": [10, 50], "perf_gate_at": 50}}).canary.perf_gate_at == 50


def test_the_edge_honours_a_track_pin_only_with_the_token() -> None:
    env = Environment(name="x")
    token = pin_token("secret-key")
    conf = render_nginx_conf(env, token)
    assert f'"{token}" 1;' in conf and '"1:canary" canary;' in conf
    assert 'proxy_set_header X-Pipeline-Token "";' in conf
    assert token == pin_token("secret-key") != pin_token("other")
    unpinned = render_nginx_conf(env, None)
    assert "1:canary" not in unpinned and "default $pl_track;" in unpinned


@pytest.mark.parametrize(
    ("rate", "stable", "canary", "expected"),
    [(20, 2, 1, (27, 13)), (20, 1, 1, (20, 20)), (20, 2, 2, (20, 20)), (1, 5, 1, (1, 1)), (10, 1, 3, (5, 15))],
)
def test_compare_gives_every_task_the_same_load(rate: int, stable: int, canary: int, expected: tuple[int, int]) -> None:
    from pipeline.gates.perf import split_rate

    assert split_rate(rate, stable, canary) == expected


def test_background_load_refuses_a_script_that_does_not_exist(tmp_path: Path) -> None:
    from pipeline.commands.k6 import BackgroundLoad

    with pytest.raises(FileNotFoundError):
        BackgroundLoad(tmp_path / "gone.js", "http://127.0.0.1:9", 1, 1, tmp_path / "s.json")


def test_the_failed_requests_a_script_noted_are_read_from_its_log() -> None:
    from pipeline.commands.k6 import failures_in

    log = "\n".join(
        [
            '{"error":"Post ...: EOF","level":"warning","msg":"Request Failed","time":"2026-12-02T09:15:09Z"}',
            '{"level":"warning","msg":"pl-failed {\\"t\\":1.5,\\"method\\":\\"POST\\",\\"status\\":0,'
            '\\"error_code\\":1000,\\"track\\":\\"none\\"}","source":"console","time":"x"}',
            'level=warning msg="pl-failed not json"',
            '{"level":"warning","msg":"pl-failed {broken","source":"console"}',
        ]
    )
    assert failures_in(log) == [{"t": 1.5, "method": "POST", "status": 0, "error_code": 1000, "track": "none"}]


class Edge:
    """A target that only says where its edge takes requests (what plan reads)."""

    def traffic_url(self) -> str:
        return "http://127.0.0.1:9"


class ScriptedGate(PerfGate):
    """A gate whose k6 runs are scripted: each run returns the next verdict."""

    def __init__(self, outcomes: list[tuple[Verdict, bool]], latency_runs: int) -> None:
        env = Environment.model_validate({"name": "x", "perf": {"relative": {"latency_runs": latency_runs}}})
        root = Path(__file__).resolve().parents[2]
        super().__init__(env, Project(root, root / ".pipeline-test-unused"), Edge(), FakeExecutor())
        self.outcomes = outcomes
        self.dirs: list[str] = []

    def run(self, plan: PerfPlan, record: Any = None, runs: int = 1) -> GateResult:
        verdict, latency_only = self.outcomes.pop(0)
        self.dirs.append(plan.run_dir.name)
        return GateResult("perf", "x", plan.script, verdict, ["regression vs stable: p95"], latency_only=latency_only, runs=runs)


@pytest.mark.parametrize(
    ("outcomes", "runs_allowed", "verdict", "runs"),
    [
        ([(Verdict.FAIL, True), (Verdict.PASS, False)], 2, Verdict.PASS, 2),  # a burst, forgiven by a clean run
        ([(Verdict.FAIL, True), (Verdict.FAIL, True)], 2, Verdict.FAIL, 2),  # a regression, confirmed
        ([(Verdict.FAIL, True)], 1, Verdict.FAIL, 1),  # one run allowed: the first failure stands
        ([(Verdict.FAIL, False)], 3, Verdict.FAIL, 1),  # errors or absolute thresholds: never re-run
        ([(Verdict.ERROR, False)], 3, Verdict.ERROR, 1),
        ([(Verdict.FAIL, True), (Verdict.FAIL, True), (Verdict.FAIL, True)], 3, Verdict.FAIL, 3),
    ],
)
def test_a_latency_only_failure_is_confirmed_by_fresh_runs(
    outcomes: list[tuple[Verdict, bool]], runs_allowed: int, verdict: Verdict, runs: int
) -> None:
    gate = ScriptedGate(list(outcomes), runs_allowed)
    result = gate.judge(gate.plan("compare"))
    assert (result.verdict, result.runs) == (verdict, runs)
    assert len(set(gate.dirs)) == runs  # every run keeps its own k6 output


class StatusOnly(Edge):
    """A target that only reports a status (what check_ready reads)."""

    def __init__(self, tracks: dict[str, tuple[int, int]]) -> None:
        from pipeline.targets.base import Status, TrackStatus

        self.current = Status(
            "x", "local", "http://127.0.0.1:9", True, None, {t: TrackStatus(t, "v", d, r) for t, (d, r) in tracks.items()}
        )

    def status(self) -> Any:
        return self.current

    def track_pin_token(self) -> str:
        return "t0ken"


def test_compare_shares_the_load_by_the_tasks_that_serve_not_those_still_stopping() -> None:
    # right after a canary replaced a warm 2-task release in its slot, the 2 old tasks still
    # run while they stop (3/1): the edge sends them nothing, so the canary counts 1 task
    env = Environment.model_validate({"name": "x", "perf": {"rate": 15}})
    root = Path(__file__).resolve().parents[2]
    target = StatusOnly({"stable": (2, 2), "canary": (1, 3)})
    gate = PerfGate(env, Project(root, root / ".pipeline-test-unused"), target, FakeExecutor(), reachable=lambda _u: True)
    extra = gate.check_ready(gate.plan("compare"))
    assert (extra["REFERENCE"], extra["REFERENCE_RATE"], extra["CANARY_RATE"]) == ("stable", "20", "10")


@pytest.mark.parametrize(
    ("tracks", "reference", "rates"),
    [
        # inside a walk with compare_with: baseline: the canary against its baseline, 1 task each
        ({"stable": (2, 2), "canary": (1, 1), "baseline": (1, 1)}, "baseline", ("15", "15")),
        # a baseline still starting serves nothing yet: stable it is
        ({"stable": (2, 2), "canary": (1, 1), "baseline": (0, 1)}, "stable", ("20", "10")),
    ],
)
def test_compare_takes_the_baseline_as_reference_when_one_serves(
    tracks: dict[str, tuple[int, int]], reference: str, rates: tuple[str, str]
) -> None:
    env = Environment.model_validate({"name": "x", "perf": {"rate": 15}})
    root = Path(__file__).resolve().parents[2]
    gate = PerfGate(
        env, Project(root, root / ".pipeline-test-unused"), StatusOnly(tracks), FakeExecutor(), reachable=lambda _u: True
    )
    extra = gate.check_ready(gate.plan("compare"))
    assert (extra["REFERENCE"], (extra["REFERENCE_RATE"], extra["CANARY_RATE"])) == (reference, rates)


def test_a_latency_threshold_the_reference_broke_too_is_the_host_not_the_release() -> None:
    from pipeline.gates.k6result import Crossed

    env = Environment.model_validate({"name": "x"})
    root = Path(__file__).resolve().parents[2]
    gate = PerfGate(env, Project(root, root / ".pipeline-test-unused"), Edge(), FakeExecutor())
    slow = [Point(0.0, "track_duration", float(v), "baseline") for v in range(150, 450, 3)]  # p95 432 ms
    quick = [Point(0.0, "track_duration", float(v), "stable") for v in range(10, 110)]  # p95 ~105 ms
    p95 = Crossed("http_req_duration", "p(95)<200", 471.1)
    errors = Crossed("http_req_failed", "rate<0.01", 0.02)

    def judged(crossed: list[Crossed], points: list[Point], reference: str, others: list[str]) -> GateResult:
        result = GateResult("perf", "x", "compare", Verdict.FAIL, [c.line() for c in crossed] + others, reference=reference)
        gate._excuse_slow_host(result, crossed, points, reference)
        return result

    host = judged([p95], slow, "baseline", [])
    assert host.verdict == Verdict.PASS and host.lines == []
    assert host.host and "the baseline crossed it too (432.0 ms)" in host.host[0] and "p(95)<200" in host.host[0]
    # the reference served within the threshold: the crossing is the canary's
    assert judged([p95], quick, "stable", []).verdict == Verdict.FAIL
    # errors are never the host's: only the latency crossing is excused, and the gate still fails
    mixed = judged([errors, p95], slow, "baseline", [])
    assert mixed.verdict == Verdict.FAIL and mixed.lines == [errors.line()] and len(mixed.host) == 1
    # nor an exception in the script beside it
    assert judged([p95], slow, "baseline", ["1 exception(s) in the script: boom"]).verdict == Verdict.FAIL


@pytest.mark.parametrize(
    ("expression", "values", "crossed"),
    [
        ("p(95)<200", [100.0] * 90 + [300.0] * 10, 300.0),
        ("p(95)<200", [100.0] * 99 + [300.0], None),
        ("med<50", [60.0, 70.0, 80.0], 70.0),
        ("avg<=70", [60.0, 70.0, 80.0], None),
        ("max<75", [60.0, 70.0, 80.0], 80.0),
        ("p(95)>10", [1.0] * 10, None),  # a lower bound is never the host's doing
    ],
)
def test_the_reference_crossing_a_latency_threshold_is_computed_from_its_own_requests(
    expression: str, values: list[float], crossed: float | None
) -> None:
    from pipeline.gates.k6result import Crossed
    from pipeline.gates.perf import crossed_by

    assert crossed_by(Crossed("http_req_duration", expression, None), values) == crossed
    assert crossed_by(Crossed("http_req_failed", "rate<0.01", None), values) is None


def test_the_points_of_a_k6_killed_mid_run_are_read_up_to_where_its_gzip_stream_was_cut(tmp_path: Path) -> None:
    """Found in CI: a k6 SIGKILLed mid-run leaves its --out json=….gz without an end; reading it
    raised EOFError out of the gate instead of the gate reporting the crash."""
    import gzip

    from pipeline.gates.tracks import read_points

    line = (
        '{"type":"Point","metric":"track_duration","data":{"time":"2026-12-03T15:00:00Z","value":%d,"tags":{"track":"canary"}}}\n'
    )
    whole = gzip.compress("".join(line % i for i in range(2000)).encode())
    cut = tmp_path / "points.json.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    points = list(read_points(cut))
    assert 0 < len(points) < 2000 and points[0].value == 0.0 and points[0].track == "canary"
    assert [p.value for p in points] == [float(i) for i in range(len(points))]
