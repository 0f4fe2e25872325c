"""The perf gate against a stand-in edge with the real k6: verdicts, and k6's silent passes caught."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pipeline.errors import GateError, GateFailed, NothingToDo
from pipeline.gates.k6result import Verdict
from pipeline.project import Project
from tests.integration.gates.conftest import StubEdge, StubTarget, make_gate

pytestmark = pytest.mark.integration


def write_script(project: Project, name: str, body: str) -> None:
    (project.root / "perf" / f"{name}.js").write_text(body)


def test_a_good_release_passes_with_a_report(edge: StubEdge, project: Project) -> None:
    gate = make_gate(project, edge.port)
    result = gate.run(gate.plan("load"))
    assert result.verdict == Verdict.PASS, result.lines
    assert result.tracks["stable"]["requests"] >= 60
    assert result.report is not None and "p95 latency per second" in Path(result.report).read_text()
    result.raise_for()


def test_a_crossed_threshold_is_named_with_its_measurement(edge: StubEdge, project: Project) -> None:
    edge.behaviour.latency_ms["stable"] = 60
    gate = make_gate(project, edge.port, {"thresholds": {"http_req_duration": ["p(95)<40"], "checks": ["rate>=0.99"]}})
    result = gate.run(gate.plan("load"))
    assert result.verdict == Verdict.FAIL
    # the stand-in sleeps 60 ms; a busy runner adds to it, never takes away
    found = [
        re.fullmatch(r"threshold crossed: http_req_duration p\(95\)<40 \(measured p\(95\)=([0-9.]+)\)", x) for x in result.lines
    ]
    measured = [float(m.group(1)) for m in found if m]
    assert len(measured) == 1 and measured[0] >= 60.0, result.lines
    with pytest.raises(GateFailed) as caught:
        result.raise_for()
    assert caught.value.exit_code == 30


def test_errors_cross_the_failed_rate_and_the_checks_thresholds(edge: StubEdge, project: Project) -> None:
    edge.behaviour.error_share["stable"] = 0.2
    gate = make_gate(project, edge.port)
    result = gate.run(gate.plan("load"))
    assert result.verdict == Verdict.FAIL
    crossed = " ".join(result.lines)
    assert "http_req_failed rate<0.01" in crossed and "checks rate>=0.99" in crossed


def test_trap_a_threshold_on_a_metric_never_emitted_fails_the_gate(edge: StubEdge, project: Project) -> None:
    # track_duration{track:canary} exists as a submetric but no request is served by a canary
    thresholds = {"track_duration{track:canary}": ["p(95)<100"], "checks": ["rate>=0.99"]}
    gate = make_gate(project, edge.port, {"thresholds": thresholds})
    result = gate.run(gate.plan("load"))
    assert result.verdict == Verdict.ERROR
    assert any("never emitted" in line and "track_duration{track:canary}" in line for line in result.lines)
    with pytest.raises(GateError) as caught:
        result.raise_for()
    assert caught.value.exit_code == 31


def test_trap_an_exception_in_the_default_function_fails_the_gate(edge: StubEdge, project: Project) -> None:
    write_script(
        project,
        "throws",
        """import { guarded, hit, paths, summaryTrendStats, thresholds } from './lib/gate.js';
export const options = { vus: 1, iterations: 10, thresholds, summaryTrendStats };
export default guarded(() => { hit(paths[0]); if (__ITER % 3 === 0) { throw new Error('boom in iteration'); } });
""",
    )
    gate = make_gate(project, edge.port)
    result = gate.run(gate.plan("throws"))
    assert result.verdict == Verdict.FAIL
    assert any("checks rate>=0.99" in line for line in result.lines)
    assert any("exception(s) in the script: Error: boom in iteration" in line for line in result.lines)


def test_trap_an_unguarded_exception_is_still_caught_from_k6s_log(edge: StubEdge, project: Project) -> None:
    write_script(
        project,
        "bare",
        """import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 1, iterations: 6, thresholds: JSON.parse(__ENV.THRESHOLDS) };
export default function () {
  check(http.get(__ENV.BASE_URL + '/'), { ok: (r) => r.status === 200 });
  if (__ITER === 2) { throw new Error('bare boom'); }
}
""",
    )
    gate = make_gate(project, edge.port)
    result = gate.run(gate.plan("bare"))
    assert result.verdict == Verdict.FAIL
    assert any("1 exception(s) in the script: Error: bare boom" in line for line in result.lines)


def test_trap_a_script_error_is_an_error_of_the_gate_not_a_pass(edge: StubEdge, project: Project) -> None:
    write_script(project, "broken", "import { base } from './lib/gate.js';\nthrow new Error('init failed at ' + base);\n")
    gate = make_gate(project, edge.port)
    result = gate.run(gate.plan("broken"))
    assert result.verdict == Verdict.ERROR
    assert result.lines[0].startswith("script error (k6 exit 107)")
    assert "init failed" in result.lines[0]


def test_trap_a_k6_crash_is_an_error_of_the_gate(edge: StubEdge, project: Project) -> None:
    gate = make_gate(project, edge.port, {"duration_seconds": 30})
    plan = gate.plan("load")

    def kill_k6_soon() -> None:
        deadline = time.monotonic() + 60  # k6 can take a while to start on a loaded runner
        while time.monotonic() < deadline:
            found = subprocess.run(["pgrep", "-f", str(plan.run_dir)], capture_output=True, text=True).stdout.split()
            if found:
                time.sleep(1)
                for pid in found:
                    subprocess.run(["kill", f"-{signal.SIGKILL.value}", pid], check=False)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_k6_soon)
    killer.start()
    result = gate.run(plan)
    killer.join()
    assert result.verdict == Verdict.ERROR
    assert "k6 crashed" in result.lines[0]


def test_compare_passes_equal_tracks(edge: StubEdge, project: Project) -> None:
    edge.behaviour.latency_ms.update(stable=20, canary=20)
    # a busy runner's tail bursts hit one track now and then: a latency-only failure is re-run once
    gate = make_gate(project, edge.port, {"relative": {"min_requests": 40, "min_delta_ms": 10, "latency_runs": 2}})
    result = gate.judge(gate.plan("compare"))
    assert result.verdict == Verdict.PASS, result.lines
    assert {c["check"] for c in result.relative} == {"p95_vs_stable", "p99_vs_stable", "error_rate_vs_stable"}


def test_compare_catches_a_regression_under_a_loose_absolute_threshold(edge: StubEdge, project: Project) -> None:
    edge.behaviour.latency_ms.update(stable=40, canary=60)  # +50 %, far under p(95)<500
    gate = make_gate(project, edge.port, {"relative": {"min_requests": 40, "max_p95_ratio": 1.2, "max_p99_ratio": 1.3}})
    result = gate.run(gate.plan("compare"))
    assert result.verdict == Verdict.FAIL
    assert not any(line.startswith("threshold crossed") for line in result.lines)
    assert any(line.startswith("regression vs stable: canary p95") for line in result.lines)


def test_compare_without_the_right_token_cannot_judge(edge: StubEdge, project: Project) -> None:
    gate = make_gate(project, edge.port, {"relative": {"min_requests": 40}}, target=StubTarget(token="wrong"))
    result = gate.run(gate.plan("compare"))
    assert result.verdict == Verdict.ERROR
    assert any("served by the canary track" in line for line in result.lines)


def test_compare_needs_a_running_canary(edge: StubEdge, project: Project) -> None:
    gate = make_gate(project, edge.port, target=StubTarget(canary_running=0))
    with pytest.raises(NothingToDo):
        gate.run(gate.plan("compare"))
