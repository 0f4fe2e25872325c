"""The helpers the workflows call: the one required check, dependabot's auto-merge."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from pipeline.commands import Result
from pipeline.gha.automerge import PATCH, plan
from pipeline.gha.verdict import failed_jobs

ROOT = Path(__file__).resolve().parents[2]


def run_module(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # the system python3, as the workflows run it before any venv exists: standard library only
    return subprocess.run(
        ["python3", "-m", module], cwd=ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env}, timeout=30
    )


def test_verdict_fails_unless_every_needed_job_succeeded() -> None:
    assert failed_jobs({"lint": {"result": "success"}, "e2e": {"result": "success"}}) == []
    assert failed_jobs({"lint": {"result": "success"}, "e2e": {"result": "cancelled"}, "unit": {"result": "skipped"}}) == [
        "e2e: cancelled",
        "unit: skipped",
    ]
    ok = run_module("pipeline.gha.verdict", {"NEEDS": json.dumps({"lint": {"result": "success", "outputs": {}}})})
    assert ok.returncode == 0, ok.stderr
    bad = run_module("pipeline.gha.verdict", {"NEEDS": json.dumps({"lint": {"result": "failure"}})})
    assert bad.returncode == 1 and "lint: failure" in bad.stderr
    assert run_module("pipeline.gha.verdict", {}).returncode == 2


def test_automerge_only_for_patch_updates() -> None:
    url = "https://github.com/o/r/pull/7"
    assert plan("version-update:semver-minor", url) == []
    assert plan("version-update:semver-major", url) == []
    commands = plan(PATCH, url)
    assert [c.argv for c in commands] == [("gh", "pr", "merge", "--auto", "--squash", url)]


def test_automerge_runs_gh_through_the_executor(monkeypatch: object) -> None:
    from pipeline.gha import automerge
    from pipeline.testing import FakeExecutor

    ex = FakeExecutor().on("gh", result=Result(0))
    import os

    os.environ["UPDATE_TYPE"], os.environ["PR_URL"] = PATCH, "https://github.com/o/r/pull/8"
    try:
        assert automerge.main(ex) == 0
        os.environ["UPDATE_TYPE"] = "version-update:semver-minor"
        assert automerge.main(FakeExecutor()) == 0
    finally:
        del os.environ["UPDATE_TYPE"], os.environ["PR_URL"]
    assert ex.lines() == ["gh pr merge --auto --squash https://github.com/o/r/pull/8"]
    failing = FakeExecutor().on("gh", result=Result(1, "", "GraphQL: auto-merge is not allowed"))
    os.environ["UPDATE_TYPE"], os.environ["PR_URL"] = PATCH, "https://github.com/o/r/pull/9"
    try:
        assert automerge.main(failing) == 10
    finally:
        del os.environ["UPDATE_TYPE"], os.environ["PR_URL"]
