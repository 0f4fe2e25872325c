"""`pipeline chaos run`: bad input is one line, a distinct exit code, and no fault."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def project(tmp_path: Path, chaos_allowed: bool = True, experiment: str | None = None) -> Path:
    (tmp_path / "environments" / "stage").mkdir(parents=True)
    (tmp_path / "environments" / "stage" / "env.yaml").write_text(
        f"target:\n  stack: pl-unit-chaos\nedge:\n  port: 18999\nchaos_allowed: {str(chaos_allowed).lower()}\n"
    )
    (tmp_path / "pipeline").mkdir()
    shutil.copytree(ROOT / "chaos" / "chaosstack", tmp_path / "chaos" / "chaosstack")
    (tmp_path / "chaos" / "experiments").mkdir()
    shutil.copy(ROOT / "chaos" / "experiments" / "kill-app-task.yaml", tmp_path / "chaos" / "experiments")
    shutil.copy(ROOT / "chaos" / "experiments" / "vm-kill-stable-instance.yaml", tmp_path / "chaos" / "experiments")
    if experiment is not None:
        (tmp_path / "chaos" / "experiments" / "broken.yaml").write_text(experiment)
    return tmp_path


def pipeline(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PIPELINE_ROOT": str(cwd), "COLUMNS": "200"},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("allowed", "experiment", "args", "code", "words"),
    [
        (False, None, ("kill-app-task",), 42, "chaos_allowed is false"),
        (True, None, ("nope",), 41, "unknown experiment 'nope'"),
        (True, None, ("vm-kill-stable-instance",), 41, "is for vm targets, not local"),
        (True, "title: x\nmethod: []\n", ("broken",), 40, "chaos/experiments/broken.yaml:"),
        (True, "title: x\nmethod: []\n", (), 40, "chaos/experiments/broken.yaml:"),
    ],
)
def test_bad_input_is_refused_before_any_fault(
    tmp_path: Path, allowed: bool, experiment: str | None, args: tuple[str, ...], code: int, words: str
) -> None:
    root = project(tmp_path, allowed, experiment)
    result = pipeline(root, "chaos", "run", "stage", *args)
    assert result.returncode == code, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("error:") == 1
    assert not (root / ".pipeline" / "chaos").exists()  # no run started, so no fault


def test_dry_run_lists_the_plan_and_the_exact_commands(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "perf").mkdir()
    result = pipeline(root, "chaos", "run", "stage", "kill-app-task", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "fault: kill-one-stable-task" in result.stderr
    assert "--no-usage-report" in result.stdout and "-e RATE=20" in result.stdout
    assert "chaos --no-version-check --log-file" in result.stdout
    assert "--hypothesis-strategy continuously" in result.stdout and "--rollback-strategy always" in result.stdout
    assert not (root / ".pipeline" / "chaos").exists()
