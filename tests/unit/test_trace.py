"""PIPELINE_TRACE: one line per command run, and the summary of where the seconds went."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from pipeline.bench.trace import read, summarise, what
from pipeline.commands import Command
from pipeline.commands.executor import SubprocessExecutor
from pipeline.errors import CommandFailed


def test_every_command_run_leaves_a_line_without_its_input_or_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "trace.jsonl"
    monkeypatch.setenv("PIPELINE_TRACE", str(path))
    ex = SubprocessExecutor()
    ex.run(Command((sys.executable, "-c", "import sys; sys.stdin.read()"), stdin="hunter2", description="read a secret"))
    with pytest.raises(CommandFailed):
        ex.run(Command((sys.executable, "-c", "raise SystemExit(3)", "--token=hunter2"), description="fail on purpose"))
    worker = threading.Thread(target=ex.run, args=(Command((sys.executable, "-c", "pass"), description="off the loop"),))
    worker.start()
    worker.join()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["description"], e["rc"]) for e in lines] == [("read a secret", 0), ("fail on purpose", 3), ("off the loop", 0)]
    assert "hunter2" not in path.read_text()  # neither stdin nor the arguments after the program
    assert lines[0]["thread"] == "MainThread" and lines[2]["thread"] != "MainThread"
    assert all(e["seconds"] > 0 for e in lines)


def test_no_trace_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPELINE_TRACE", raising=False)
    monkeypatch.chdir(tmp_path)
    SubprocessExecutor().run(Command((sys.executable, "-c", "pass"), description="quiet"))
    assert list(tmp_path.iterdir()) == []


def test_the_summary_groups_by_kind_and_splits_main_from_worker_time(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    rows = [
        {"t": 100.0, "seconds": 0.2, "thread": "MainThread", "description": "read the edge log"},
        {"t": 100.5, "seconds": 0.3, "thread": "MainThread", "description": "read the edge log"},
        {"t": 101.0, "seconds": 0.4, "thread": "readiness_0", "description": "ask the stable, canary tasks for /readyz"},
        {"t": 102.0, "seconds": 1.0, "thread": "MainThread", "description": "set weights stable 75% / canary 25%"},
        {"t": 99.0, "seconds": 9.0, "thread": "MainThread", "description": "before the window"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    groups, totals = summarise(read(path, since=100.0))
    assert [(g.what, g.count, g.seconds, g.main_seconds) for g in groups] == [
        ("set weights stable #% / canary #%", 1, 1.0, 1.0),
        ("read the edge log", 2, 0.5, 0.5),
        ("ask the stable, canary tasks for /readyz", 1, 0.4, 0.0),
    ]
    assert totals == {"span": 3.0, "commands": 1.9, "main": 1.5}
    assert what({"description": "start canary 885d74250765-second"}) == "start canary #"
