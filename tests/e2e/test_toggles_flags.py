"""Feature flags on the real engine: a toggle reaches every app task; an invalid definition changes nothing.

Runs after the release tests on the same session stack; it needs a stable release running
and deploys one only when there is none. Every app task is probed directly (a container on
the overlay), not only through the edge.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ENV, http, pipeline, status

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ready(stack: Any, release: str) -> Iterator[None]:
    """A stable release runs, with the baseline flags."""
    if not status()["tracks"]["stable"]["version"]:
        pipeline("deploy", ENV, "--version", release, "--track", "stable")
    pipeline("flags", "reset", ENV)
    yield
    pipeline("flags", "reset", ENV, check=False)


@pytest.fixture
def running(ready: None) -> int:
    """How many app tasks run now, on both tracks (a warm previous release on canary counts)."""
    return sum(t["running"] for t in status()["tracks"].values())


def _probe() -> dict[str, dict[str, Any]]:
    tasks = json.loads(pipeline("flags", "probe", ENV, "--json").stdout)["tasks"]
    return {t["task"]: t for t in tasks}


def test_a_toggle_reaches_every_task_and_the_edge(running: int) -> None:
    assert http("/api/notes", "POST", {"title": "flagged", "body": "x" * 100}).status == 201
    assert all("excerpt" not in n for n in http("/api/notes?limit=200").json())
    report = json.loads(pipeline("flags", "set", ENV, "notes-excerpt", "on", "--wait", "15", "--json").stdout)
    assert report["delivered"] and len(report["replicas"]) == running
    tasks = _probe()
    assert len(tasks) == running
    assert {t["revision"] for t in tasks.values()} == {report["revision"]}
    assert all(t["values"]["notes-excerpt"] is True for t in tasks.values())
    notes = http("/api/notes?limit=200").json()
    assert notes and all(n["excerpt"] == n["body"][:80] for n in notes)


def test_kill_switch_answers_503_with_retry_after(running: int) -> None:
    pipeline("flags", "kill", ENV, "uploads-enabled", "--wait", "15")
    killed = http("/api/uploads", "POST", {})
    assert killed.status == 503 and killed.headers["retry-after"] == "30"
    assert killed.json()["error"] == "uploads are switched off"
    history = json.loads(pipeline("history", ENV, "--json").stdout)
    assert any(e["kind"] == "flag" and e["data"]["action"] == "kill" for e in history["events"])


def test_an_invalid_definition_is_refused_and_running_flags_stay(running: int, tmp_path: Path) -> None:
    before = {task: t["revision"] for task, t in _probe().items()}
    assert len(set(before.values())) == 1
    bad = tmp_path / "flags.json"
    bad.write_text('{"flags": {')
    assert pipeline("flags", "apply", ENV, str(bad), check=False).returncode == 51
    rollout = pipeline("flags", "rollout", ENV, "new-notes-ui", "on=60", "off=30", check=False)
    assert rollout.returncode == 54 and "add up to 90" in rollout.stderr
    assert pipeline("flags", "set", ENV, "no-such-flag", "on", check=False).returncode == 52
    assert {task: t["revision"] for task, t in _probe().items()} == before
