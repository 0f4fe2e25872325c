from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pipeline(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PIPELINE_ROOT": str(cwd), "COLUMNS": "200"},
        timeout=60,
    )


def test_validate_ok() -> None:
    result = pipeline("env", "validate", "local")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_validate_json() -> None:
    import json

    result = pipeline("env", "validate", "local", "--json")
    assert json.loads(result.stdout)["config"]["edge"]["port"] == 8080


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("env", "validate", "nope"), 3, "unknown environment 'nope'"),
        (("status", "nope", "--json"), 3, "unknown environment"),
        (("deploy", "local", "--version", "bad version"), 2, "is not a valid version"),
        (("weights", "local", "--canary", "150"), 2, "out of range"),
        (("logs", "local", "--service", "web"), 2, "unknown service"),
        (("status", "local", "--bogus"), 2, "No such option"),
    ],
)
def test_user_errors_are_one_line_with_a_distinct_code(args: tuple[str, ...], code: int, words: str) -> None:
    result = pipeline(*args)
    assert result.returncode == code, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_env_file_exits_2_with_key_path(tmp_path: Path) -> None:
    (tmp_path / "environments" / "broken").mkdir(parents=True)
    (tmp_path / "environments" / "broken" / "env.yaml").write_text("edge:\n  port: 0\n")
    (tmp_path / "pipeline").mkdir()
    result = pipeline("env", "validate", "broken", cwd=tmp_path)
    assert result.returncode == 2
    assert "environments/broken/env.yaml: edge.port:" in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr
