"""Environment parsing and validation (pure, no Django)."""

from __future__ import annotations

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
