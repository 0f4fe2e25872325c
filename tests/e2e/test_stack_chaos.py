"""The chaos harness on the real engine (environment `ci`), under k6 load on 127.0.0.1.

A representative subset (the full set runs with `make chaos`): two experiments that hold
and are recorded, the same experiment failing on a deliberately weakened edge (retries
off), and a fault that silently did nothing failing its experiment. Each test leaves the
shared stack healthy. Runs after the release tests (file order).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline import edge
from pipeline.environment import load_environment
from tests.e2e.conftest import ENV, ROOT, http, pipeline, status

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def serving(stack: Any, release: str) -> str:
    """Something runs on stable (the release tests leave one; alone, this module deploys the commit)."""
    if status()["tracks"]["stable"]["version"] is None:
        pipeline("deploy", ENV, "--version", release, timeout=900)
        settle()
    return str(status()["tracks"]["stable"]["version"])


def settle(needed: int = 20, attempts: int = 120) -> None:
    """A fresh stack first answers 20 requests in a row (bounded: at most 120 tries) before it is broken."""
    streak = 0
    for _ in range(attempts):
        try:
            ok = http("/api/notes?limit=1", timeout=5).status == 200
        except OSError:
            ok = False
        streak = streak + 1 if ok else 0
        if streak >= needed:
            return
        time.sleep(0.25)
    raise AssertionError(f"the stack did not serve {needed} requests in a row")


def chaos(*args: str, path_prefix: str | None = None) -> tuple[int, dict[str, Any], str]:
    env = {**os.environ, "COLUMNS": "200", "PIPELINE_ROOT": str(ROOT)}
    if path_prefix:
        env["PATH"] = path_prefix + os.pathsep + env["PATH"]
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "chaos", "run", ENV, *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    report: dict[str, Any] = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.returncode, report, result.stderr


def healthy() -> None:
    current = status()
    stable = current["tracks"]["stable"]
    assert current["edge"]["running"], current
    assert stable["running"] == stable["desired"] > 0, current


def test_experiments_hold_under_load_and_are_recorded(serving: str) -> None:
    code, report, stderr = chaos("kill-app-task", "kill-cache")
    assert code == 0, stderr
    rows = {r["name"]: r for r in report["experiments"]}
    for row in rows.values():
        assert row["passed"] and row["fault_confirmed"] and not row["deviated"], row
        assert row["requests"] > 100, row  # k6 really loaded the edge
        assert row["failed_requests"] == 0, row
        assert row["time_to_recover"] is not None and row["time_to_recover"] < 120, row
    assert rows["kill-app-task"]["lost_writes"] == 0
    assert report["score"] == 100.0
    history = json.loads(pipeline("history", ENV, "--json").stdout)
    runs = [e for e in history["events"] if e["kind"] == "chaos"]
    assert runs and runs[0]["data"]["run"] == report["run"] and runs[0]["data"]["score"] == 100.0
    healthy()


def test_a_weakened_stack_is_caught(serving: str) -> None:
    """Edge retries off: a task cut off the network fails users' requests, and the run says so (exit 43)."""
    env = load_environment(ROOT, ENV)
    weak = edge.render_nginx_conf(env.model_copy(update={"edge": env.edge.model_copy(update={"retries": 1})}))
    assert "proxy_next_upstream_tries 1;" in weak
    edge_name = f"{env.stack}-edge"
    subprocess.run(["docker", "exec", "-i", edge_name, "edge-apply", "nginx.conf"], input=weak, text=True, check=True)
    try:
        code, report, stderr = chaos("partition-app-task")
    finally:
        pipeline("up", ENV, timeout=600)  # applies the real configuration again
    # 43: the hypothesis deviated; 44: so many requests failed that the error budget stopped it first
    assert code in (43, 44), stderr
    row = report["experiments"][0]
    assert row["fault_confirmed"] and row["deviated"] and not row["passed"], row
    assert row["edge_failed"] > 0, row
    assert report["score"] < 100.0
    assert "did not hold" in stderr or "error budget" in stderr
    healthy()


def test_a_fault_that_did_nothing_fails_its_experiment(serving: str, tmp_path: Path) -> None:
    """`kill` that silently does nothing (a shim first on PATH): the edge is not killed, the run must fail."""
    shim = tmp_path / "kill"
    shim.write_text("#!/bin/sh\nexit 0\n")
    shim.chmod(0o755)
    edge_name = f"{load_environment(ROOT, ENV).stack}-edge"

    def restarts() -> str:
        return subprocess.run(
            ["docker", "inspect", "--format", "{{.RestartCount}} {{.State.StartedAt}}", edge_name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    before = restarts()
    code, report, stderr = chaos("kill-edge", path_prefix=str(tmp_path))
    assert code == 43, stderr
    row = report["experiments"][0]
    assert not row["fault_confirmed"] and not row["passed"], row
    assert "died: not so" in row["reason"], row
    assert restarts() == before  # nothing happened to the edge, and the run did not pretend otherwise
    healthy()
