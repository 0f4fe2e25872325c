"""Issue 17, finding 5: secrets are masked by value wherever they are shown, whatever their name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import redact
from pipeline.cli import output
from pipeline.commands import Command, Result
from pipeline.commands.executor import DryRunExecutor
from pipeline.environment import load_environment
from pipeline.errors import CommandFailed
from pipeline.testing import FakeExecutor


def dry_run(command: Command) -> str:
    printed: list[str] = []
    DryRunExecutor(FakeExecutor(), printed.append).run(command)
    return printed[0]


@pytest.mark.parametrize(
    ("arg", "shown"),
    [
        ("DB_PASSWD=hunter22", "DB_PASSWD=***"),
        ("SMTP_AUTH=user:pass word", "SMTP_AUTH=***"),
        ("SENTRY_DSN=https://0123456789abcdef@o1.ingest.sentry.io/42", "SENTRY_DSN=***"),
        ("CACHE_URL=redis://:pw@cache:6379/0", "CACHE_URL=redis://:***@cache:6379/0"),
        ("--sentry=https://0123456789abcdef@o1.ingest.sentry.io/42", "--sentry=https://***@o1.ingest.sentry.io/42"),
        ("amqp://app:s3cret@mq:5672/", "amqp://app:***@mq:5672/"),
        ("APP_PORT=8000", "APP_PORT=8000"),
        ("-oStrictHostKeyChecking=no", "-oStrictHostKeyChecking=no"),
    ],
)
def test_secret_names_and_url_credentials_are_masked_without_registration(arg: str, shown: str) -> None:
    assert redact.arg(arg) == shown


def test_a_registered_value_is_masked_whatever_its_name_and_wherever_it_is() -> None:
    redact.register("Zq8-unguessable")
    line = dry_run(Command(("tool", "--opt", "Zq8-unguessable", "CONN=host;pw=Zq8-unguessable")))
    assert "Zq8" not in line
    assert line == "tool --opt '***' 'CONN=host;pw=***'"


def test_values_marked_on_a_command_are_masked_in_every_later_line() -> None:
    first = Command(("store", "--value", "m4rk3d-value"), secrets=("m4rk3d-value",))
    assert "m4rk3d" not in dry_run(first)
    assert redact.text("echo m4rk3d-value") == "echo ***"


def test_secret_stdin_and_secret_named_env_values_are_registered() -> None:
    Command(("docker", "login", "--password-stdin"), stdin="stdin-pass-99", secret_stdin=True)
    Command(("psql",), env={"PGPASSWORD": "env-pass-77", "PGHOST": "db-host"})
    assert redact.text("stdin-pass-99 env-pass-77 db-host") == "*** *** db-host"


def test_short_values_are_not_registered() -> None:
    redact.register("1", "ab", "", None)
    assert redact.text("a 1 ab b") == "a 1 ab b"


def test_a_failed_command_never_echoes_a_secret() -> None:
    fake = FakeExecutor().on("mysql", result=Result(1, "", "access denied for user app with password 'f4il-secret'"))
    command = Command(("mysql", "--password=f4il-secret", "-e", "select 1"), secrets=("f4il-secret",), description="ping db")
    with pytest.raises(CommandFailed) as caught:
        fake.run(command)
    assert "f4il-secret" not in str(caught.value)
    assert caught.value.hint is not None and "--password=***" in caught.value.hint


def test_app_env_values_with_secret_names_are_registered_at_load(tmp_path: Path) -> None:
    path = tmp_path / "environments" / "x" / "env.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(
        "app:\n  env:\n    DB_PASSWD: pg-pass-123\n    SMTP_AUTH: smtp-auth-456\n    GREETING: hello-world\n"
        "    SENTRY_DSN: https://0123456789abcdef@o1.ingest.sentry.io/42\n"
    )
    load_environment(tmp_path, "x")
    shown = redact.text("failed: pg-pass-123, smtp-auth-456, hello-world, key 0123456789abcdef")
    assert shown == "failed: ***, ***, hello-world, key ***"


def test_errors_progress_and_json_output_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    redact.register("out-secret-1")
    output.error("cannot log in with out-secret-1", hint="token out-secret-1 refused")
    output.say("using out-secret-1")
    output.emit_json({"url": "postgres://u:pw@db/x", "token": "out-secret-1", "n": 3})
    captured = capsys.readouterr()
    assert "out-secret-1" not in captured.err + captured.out
    assert ":pw@" not in captured.out
    assert json.loads(captured.out) == {"n": 3, "token": "***", "url": "postgres://u:***@db/x"}


def test_switches_and_secret_file_paths_are_not_secrets() -> None:
    Command(("app",), env={"APP_AUTH_ENABLED": "true", "PEBBLE_AUTHZREUSE": "1000", "SECRET_KEY_FILE": "/run/secrets/key"})
    assert redact.text("true 1000 /run/secrets/key") == "true 1000 /run/secrets/key"
    assert redact.arg("DJANGO_SECRET_KEY_FILE=/run/secrets/django") == "DJANGO_SECRET_KEY_FILE=/run/secrets/django"
    assert redact.text("--env DB_PASSWORD_FILE=/run/secrets/db --env DB_PASSWORD=x1") == (
        "--env DB_PASSWORD_FILE=/run/secrets/db --env DB_PASSWORD=***"
    )
