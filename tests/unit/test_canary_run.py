from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.canary import run as run_module
from pipeline.canary.run import Release, parse_faults
from pipeline.environment import load_environment
from pipeline.errors import UserError
from pipeline.project import Project

ROOT = Path(__file__).resolve().parents[2]


def release(tmp_path: Path, rps: int) -> Release:
    env = load_environment(ROOT, "local")
    env = env.model_copy(update={"canary": env.canary.model_copy(update={"synthetic_rps": rps})})
    return Release(env, Project(ROOT, tmp_path), target=None, say=lambda _m: None)  # type: ignore[arg-type]


def test_no_synthetic_traffic_by_default(tmp_path: Path) -> None:
    assert release(tmp_path, 0)._synthetic_load() is None


def test_synthetic_traffic_is_bounded_and_on_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Recorder:
        def __init__(self, script: Path, url: str, rate: int, seconds: int, summary: Path, paths: str | None = None) -> None:
            seen.update(script=script, url=url, rate=rate, seconds=seconds)

    monkeypatch.setattr(run_module, "BackgroundLoad", Recorder)
    assert release(tmp_path, 40)._synthetic_load() is not None
    assert seen["url"] == "http://127.0.0.1:8080"
    assert seen["rate"] == 40
    # 3 steps x 10 s x (1 + 2 extensions) + 60 s bake + 300 s margin
    assert seen["seconds"] == 450
    assert seen["script"].name == "load.js"


def test_faults_are_validated() -> None:
    faults = parse_faults(["error_rate=0.3", "latency_ms=200"])
    assert faults is not None and faults.error_rate == 0.3 and faults.latency_ms == 200
    assert parse_faults([]) is None
    for bad in (["error_rate"], ["nope=1"], ["error_rate=2"], ["latency_ms=fast"]):
        with pytest.raises(UserError):
            parse_faults(bad)
