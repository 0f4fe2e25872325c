"""`pipeline provision`: generic over environments/<env>/Pulumi.yaml; says what is missing, changes nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipeline.environment import load_environment
from pipeline.errors import CloudCredentialsMissing, NoProgram, PulumiUnavailable
from pipeline.provision import provision
from pipeline.testing import FakeExecutor
from tests.unit.clirun import pipeline as run_pipeline

ROOT = Path(__file__).resolve().parents[2]
NO_AWS = {
    "PATH": "/usr/bin:/bin",
    "COLUMNS": "200",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
}


def pipeline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_pipeline(*args, env={**NO_AWS, **(env or {})})


def test_dry_run_prints_the_pulumi_commands_without_cli_or_credentials() -> None:
    result = pipeline("provision", "aws-ecs", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "pulumi --cwd environments/aws-ecs --non-interactive stack select --create aws-ecs" in lines
    assert "pulumi --cwd environments/aws-ecs --non-interactive config set account_id 123456789012 --stack aws-ecs" in lines
    assert lines[-1] == "pulumi --cwd environments/aws-ecs --non-interactive up --yes --diff --stack aws-ecs"
    preview = pipeline("provision", "aws-ecs", "--dry-run", "--preview")
    assert preview.stdout.splitlines()[-1].endswith("preview --diff --stack aws-ecs")


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("provision", "local"), 84, "has no Pulumi program"),
        (("provision", "nope"), 3, "unknown environment"),
        (("status", "aws-ecs"), 81, "no AWS credentials"),
        (("deploy", "aws-ecs", "--version", "v1"), 81, "no AWS credentials"),
    ],
)
def test_what_is_missing_is_one_line_with_a_distinct_code(args: tuple[str, ...], code: int, words: str) -> None:
    result = pipeline(*args)
    assert result.returncode == code, result.stderr
    assert words in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_pulumi_cli_then_missing_credentials_nothing_run() -> None:
    env = load_environment(ROOT, "aws-ecs")
    ex = FakeExecutor()
    with pytest.raises(PulumiUnavailable) as caught:
        provision(ROOT, env, ex, lambda _m: None, which=lambda _name: None)
    assert caught.value.exit_code == 83
    assert ex.calls == []


def test_missing_credentials_with_a_pulumi_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in NO_AWS.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    env = load_environment(ROOT, "aws-ecs")
    ex = FakeExecutor()
    with pytest.raises(CloudCredentialsMissing) as caught:
        provision(ROOT, env, ex, lambda _m: None, which=lambda _name: "/usr/bin/pulumi")
    assert caught.value.exit_code == 81
    assert ex.calls == []


def test_no_program() -> None:
    with pytest.raises(NoProgram):
        provision(ROOT, load_environment(ROOT, "ci"), FakeExecutor(), lambda _m: None)
