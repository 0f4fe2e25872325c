from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.clirun import pipeline


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
        (("gate", "perf", "local", "--script", "nope"), 32, "unknown perf script 'nope'"),
        (("gate", "perf", "local", "--rate", "0"), 2, "--rate"),
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


def test_malformed_perf_thresholds_are_one_line_with_the_key_path(tmp_path: Path) -> None:
    (tmp_path / "environments" / "bad").mkdir(parents=True)
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "environments" / "bad" / "env.yaml").write_text(
        "perf:\n  thresholds:\n    http_req_duration: ['p95 < 300']\n    checks: ['rate>=0.99']\n"
    )
    result = pipeline("gate", "perf", "bad", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "perf.thresholds" in result.stderr and "'p95 < 300' is not a k6 threshold" in result.stderr
    assert "Traceback" not in result.stderr


def test_perf_gate_dry_run_prints_the_k6_command_without_the_token() -> None:
    result = pipeline("gate", "perf", "ci", "--script", "compare", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "--no-usage-report" in result.stdout and "perf/compare.js" in result.stdout
    assert "PIN_TOKEN" not in result.stdout


def test_echoed_input_cannot_paint_or_forge_terminal_lines() -> None:
    result = pipeline("deploy", "ci", "--version", "\x1b[31mRED\nerror: forged")
    assert result.returncode == 2, result.stderr
    assert "\x1b" not in result.stderr
    assert "'\\x1b[31mRED\\nerror: forged' is not a valid version" in result.stderr
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == ["error", "hint"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("edge:\n  port: " + "[" * 500 + "]" * 500 + "\n", "nested deeper than"),
        ("app:\n  env:\n    GREETING: caf\xe9\n", "not UTF-8 text"),
        ("edge:\n  port: 8080\nedge:\n  port: 8081\n", "edge: duplicate key"),
        ("tracks:\n  stable:\n    replicas: true\n", "tracks.stable.replicas: Input should be a valid integer"),
    ],
)
def test_hostile_env_files_are_user_errors_not_bugs(tmp_path: Path, content: str, words: str) -> None:
    (tmp_path / "environments" / "bad").mkdir(parents=True)
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "environments" / "bad" / "env.yaml").write_bytes(content.encode("latin-1"))
    result = pipeline("env", "validate", "bad", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "hint:" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_validate_json_masks_secret_app_env_values(tmp_path: Path) -> None:
    import json

    (tmp_path / "environments" / "x").mkdir(parents=True)
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "environments" / "x" / "env.yaml").write_text(
        "app:\n  env:\n    SMTP_AUTH: smtp-auth-456\n    CACHE: redis://:cache-pw@cache:6379\n    GREETING: hello\n"
    )
    result = pipeline("env", "validate", "x", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["config"]["app"]["env"] == {
        "CACHE": "redis://:***@cache:6379",
        "GREETING": "hello",
        "SMTP_AUTH": "***",
    }
