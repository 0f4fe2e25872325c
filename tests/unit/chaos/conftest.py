"""Fixtures for the chaos extension's unit tests: a fake executor and no real sleeping."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "chaos"))

from chaosstack._stack import use_executor  # noqa: E402
from pipeline.testing import FakeExecutor  # noqa: E402

CONFIG = {"pipeline_env": "ci"}  # environments/ci allows chaos; its stack is pl-ci


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeExecutor]:
    monkeypatch.setenv("PIPELINE_ROOT", str(ROOT))
    monkeypatch.setenv("PIPELINE_CHAOS_RUN_DIR", str(tmp_path / "run"))
    ex = FakeExecutor()
    with use_executor(ex, sleep=lambda _: None):
        yield ex
