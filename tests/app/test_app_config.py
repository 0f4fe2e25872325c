"""Environment parsing and validation (pure, no Django)."""

from __future__ import annotations

from pathlib import Path

import pytest

from refapp.config import ConfigError, load_config, parse_database_url

BASE = {"DJANGO_SECRET_KEY": "k", "DATABASE_URL": "sqlite:///db.sqlite3"}


def test_defaults() -> None:
    config = load_config(BASE)
    assert config.track == "stable"
    assert config.upload_max_bytes == 1_048_576 and config.upload_max_files == 5
    assert config.fault_error_rate == 0.0 and config.fault_latency_ms == 0
    assert not config.fault_readiness_fail and not config.fault_exit_at_start
    assert config.drain_seconds == 3.0 and config.port == 8000
    assert config.allowed_hosts == ("*",)


@pytest.mark.parametrize("value", ["abc", "1.5", "-0.1", "nan"])
def test_bad_error_rate_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({**BASE, "FAULT_ERROR_RATE": value})
    assert info.value.variable == "FAULT_ERROR_RATE"
    assert "FAULT_ERROR_RATE" in str(info.value)
    assert "between 0.0 and 1.0" in info.value.errors["FAULT_ERROR_RATE"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FAULT_LATENCY_MS", "-5"),
        ("FAULT_LATENCY_MS", "fast"),
        ("FAULT_READINESS_FAIL", "maybe"),
        ("FAULT_EXIT_AT_START", "2"),
        ("APP_TRACK", "beta"),
        ("APP_PORT", "70000"),
        ("APP_DRAIN_SECONDS", "soon"),
        ("APP_BUILD_TIME", "yesterday"),
        ("APP_UPLOAD_MAX_FILES", "0"),
        ("DATABASE_URL", "mysql://x/y"),
        ("REDIS_URL", "http://cache"),
    ],
)
def test_each_bad_value_is_reported(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({**BASE, name: value})
    assert list(info.value.errors) == [name]


def test_all_errors_are_collected() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"FAULT_ERROR_RATE": "2", "APP_PORT": "x"})
    assert set(info.value.errors) == {
        "FAULT_ERROR_RATE",
        "APP_PORT",
        "DJANGO_SECRET_KEY",
        "DATABASE_URL",
    }


def test_valid_knobs_parse() -> None:
    config = load_config(
        {
            **BASE,
            "FAULT_ERROR_RATE": "0.25",
            "FAULT_LATENCY_MS": "150",
            "FAULT_READINESS_FAIL": "1",
            "APP_TRACK": "canary",
            "APP_BUILD_TIME": "2024-05-01T12:00:00Z",
            "ALLOWED_HOSTS": "a.example, b.example",
        }
    )
    assert config.fault_error_rate == 0.25 and config.fault_latency_ms == 150
    assert config.fault_readiness_fail and config.track == "canary"
    assert config.allowed_hosts == ("a.example", "b.example")


def test_debug_relaxes_secret_and_database() -> None:
    config = load_config({"DJANGO_DEBUG": "1"})
    assert config.debug and config.secret_key
    assert config.database["ENGINE"] == "django.db.backends.sqlite3"


def test_docs_user_needs_password() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({**BASE, "APP_DOCS_USER": "docs"})
    assert info.value.variable == "APP_DOCS_PASSWORD"


def test_postgres_url() -> None:
    db = parse_database_url("postgres://us%40er:p%3Ass@db.internal:6543/notes?sslmode=require")
    assert db == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "notes",
        "USER": "us@er",
        "PASSWORD": "p:ss",
        "HOST": "db.internal",
        "PORT": "6543",
        "OPTIONS": {"connect_timeout": 2, "sslmode": "require"},
    }
    assert parse_database_url("postgresql://u:p@h/d")["PORT"] == "5432"


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("sqlite:///db.sqlite3", "db.sqlite3"),
        ("sqlite:////var/lib/app/db.sqlite3", "/var/lib/app/db.sqlite3"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_url(url: str, name: str) -> None:
    assert parse_database_url(url) == {"ENGINE": "django.db.backends.sqlite3", "NAME": name}


# --- secrets from files (VAR_FILE), e.g. Docker secrets in /run/secrets ----------------------
def _secret(tmp_path: Path, name: str, value: str) -> str:
    path = tmp_path / name
    path.write_text(value, encoding="utf-8")
    return str(path)


def test_secrets_are_read_from_files(tmp_path: Path) -> None:
    config = load_config(
        {
            "DJANGO_SECRET_KEY_FILE": _secret(tmp_path, "key", "from-a-file\n"),
            "DATABASE_URL": "postgres://refapp@db:5432/refapp",
            "DATABASE_PASSWORD_FILE": _secret(tmp_path, "dbpw", "p@ss:word/1"),
            "APP_DOCS_USER": "docs",
            "APP_DOCS_PASSWORD_FILE": _secret(tmp_path, "docs", "docs-pw\n"),
        }
    )
    assert config.secret_key == "from-a-file"
    assert config.database["PASSWORD"] == "p@ss:word/1"
    assert config.database["USER"] == "refapp" and config.database["HOST"] == "db"
    assert config.docs_password == "docs-pw"


def test_database_url_may_come_from_a_file(tmp_path: Path) -> None:
    url = _secret(tmp_path, "url", "postgres://u:secret@db:5432/app\n")
    config = load_config({"DJANGO_SECRET_KEY": "k", "DATABASE_URL_FILE": url})
    assert config.database["PASSWORD"] == "secret" and config.database["NAME"] == "app"


def test_a_missing_secret_file_names_the_variable_and_not_a_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({**BASE, "DJANGO_SECRET_KEY": "", "DJANGO_SECRET_KEY_FILE": str(tmp_path / "nope")})
    assert info.value.variable == "DJANGO_SECRET_KEY_FILE"
    assert "cannot read" in info.value.errors["DJANGO_SECRET_KEY_FILE"]


def test_value_and_file_together_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({**BASE, "DJANGO_SECRET_KEY_FILE": _secret(tmp_path, "key", "x")})
    assert info.value.errors == {"DJANGO_SECRET_KEY_FILE": "set DJANGO_SECRET_KEY or DJANGO_SECRET_KEY_FILE, not both"}


def test_database_password_needs_a_postgres_url_without_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({**BASE, "DATABASE_PASSWORD": "pw"})
    assert info.value.variable == "DATABASE_PASSWORD"
    with pytest.raises(ConfigError) as info:
        load_config({"DJANGO_SECRET_KEY": "k", "DATABASE_URL": "postgres://u:a@db/app", "DATABASE_PASSWORD": "b"})
    assert "one place" in info.value.errors["DATABASE_PASSWORD"]


def test_secure_cookies_switch() -> None:
    assert load_config(BASE).secure_cookies is False
    assert load_config({**BASE, "APP_SECURE_COOKIES": "1"}).secure_cookies is True
