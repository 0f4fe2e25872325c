"""The data probe: every acknowledged write must read back; silence is never a pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosstack.data import probes
from pipeline.testing import FakeExecutor
from tests.unit.chaos.conftest import CONFIG


def written(tmp_path: Path, notes: list[dict[str, Any]], attempted: int = 10) -> None:
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    out = run / "writes-t.jsonl"
    out.write_text("".join(json.dumps(n) + "\n" for n in notes))
    (run / "writes-t.jsonl.done").write_text(json.dumps({"attempted": attempted, "acknowledged": len(notes)}))
    (run / "writes-t.json").write_text(json.dumps({"pid": 1, "out": str(out), "seconds": 1}))


def answers(monkeypatch: pytest.MonkeyPatch, replies: dict[int, list[tuple[int, dict[str, Any] | None]]]) -> None:
    def read(url: str) -> tuple[int, dict[str, Any] | None]:
        queue = replies[int(url.rsplit("/", 1)[1])]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    monkeypatch.setattr(probes, "_read", read)


def test_a_slow_answer_is_asked_again_and_not_a_loss(fake: FakeExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written(tmp_path, [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}])
    answers(monkeypatch, {1: [(0, None), (503, None), (200, {"title": "a"})], 2: [(200, {"title": "b"})]})
    assert probes.acknowledged_writes_lost("t", timeout=10, configuration=CONFIG) == 0


def test_missing_or_changed_notes_are_lost(fake: FakeExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written(tmp_path, [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}, {"id": 3, "title": "c"}])
    answers(monkeypatch, {1: [(404, None)], 2: [(200, {"title": "other"})], 3: [(200, {"title": "c"})]})
    assert probes.acknowledged_writes_lost("t", timeout=10, configuration=CONFIG) == 2


def test_a_note_that_never_answers_counts_as_lost(fake: FakeExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written(tmp_path, [{"id": 1, "title": "a"}])
    answers(monkeypatch, {1: [(0, None)]})
    assert probes.acknowledged_writes_lost("t", timeout=3, configuration=CONFIG) == 1


def test_nothing_acknowledged_is_not_a_pass(fake: FakeExecutor, tmp_path: Path) -> None:
    written(tmp_path, [])
    with pytest.raises(ActivityFailed, match="no write acknowledged"):
        probes.acknowledged_writes_lost("t", timeout=3, configuration=CONFIG)
