"""Fixtures for the chaos extension's unit tests: a fake executor and no real sleeping."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "chaos"))

from chaosstack._stack import use_executor  # noqa: E402
from pipeline.commands import Result  # noqa: E402
from pipeline.edge import LEGACY_SLOTS, Weights, render_split  # noqa: E402
from pipeline.environment import load_environment  # noqa: E402
from pipeline.testing import FakeExecutor  # noqa: E402

CONFIG = {"pipeline_env": "ci"}  # environments/ci allows chaos; its stack is pl-ci
SPLIT_READ = ("docker", "exec", "pl-ci-edge", "cat", "/etc/nginx/pipeline/split.conf")


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeExecutor]:
    monkeypatch.setenv("PIPELINE_ROOT", str(ROOT))
    monkeypatch.setenv("PIPELINE_CHAOS_RUN_DIR", str(tmp_path / "run"))
    ex = FakeExecutor()
    # the edge routes stable to app-stable, canary to app-canary (a test may swap the slots)
    ex.on(*SPLIT_READ, result=Result(0, render_split(load_environment(ROOT, "ci"), Weights(0), LEGACY_SLOTS)))
    with use_executor(ex, sleep=lambda _: None):
        yield ex
