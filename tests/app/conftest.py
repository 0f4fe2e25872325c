"""Test setup for the reference app: sqlite in memory, local-memory cache, no daemons.

The environment is fixed here, before Django is imported, so the tests run the
same under ``pytest tests/app`` and under a repository-wide ``pytest``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

APP_DIR = Path(__file__).resolve().parents[2] / "app"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

TEST_ENV = {
    "DJANGO_SETTINGS_MODULE": "refapp.settings",
    "DJANGO_SECRET_KEY": "test-secret-key-not-for-production",
    "DJANGO_DEBUG": "0",
    "DATABASE_URL": "sqlite:///:memory:",
    "REDIS_URL": "",
    "APP_VERSION": "9.9.9-test",
    "APP_COMMIT": "abc1234",
    "APP_BUILD_TIME": "2024-01-02T03:04:05Z",
    "APP_TRACK": "canary",
    "APP_DOCS_USER": "",
    "APP_DOCS_PASSWORD": "",
    "APP_UPLOAD_MAX_BYTES": "1024",
    "APP_UPLOAD_MAX_FILES": "2",
    "FAULT_ERROR_RATE": "0",
    "FAULT_LATENCY_MS": "0",
    "FAULT_READINESS_FAIL": "0",
    "FAULT_EXIT_AT_START": "0",
    "FAULT_PATHS": "",
    "FAULT_METHODS": "",
    "FAULT_LATENCY_SHARE": "1",
    "FAULT_AFTER_SECONDS": "0",
    "APP_LOG_LEVEL": "WARNING",
}
os.environ.update(TEST_ENV)

import django  # noqa: E402 - the environment must be set first

django.setup()

from django.core.cache import cache  # noqa: E402

from refapp.state import DRAIN  # noqa: E402
from refapp.testing import ASGITestClient  # noqa: E402


@pytest.fixture
def client() -> ASGITestClient:  # replaces pytest-django's WSGI client on purpose
    """A test client whose requests go through the ASGI stack."""
    return ASGITestClient()


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    """Each test starts with an empty cache and a process that is not draining."""
    cache.clear()
    DRAIN.reset()
    yield
    DRAIN.reset()


@pytest.fixture
def child_env() -> Callable[..., dict[str, str]]:
    """Build the environment for running ``python -m refapp.*`` in a child process."""

    def build(**overrides: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("FAULT_", "APP_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))
        }
        env.update(TEST_ENV)
        del env["DJANGO_SETTINGS_MODULE"]
        env.update(PYTHONPATH=str(APP_DIR), PYTHONUNBUFFERED="1", APP_LOG_LEVEL="INFO")
        env.update(overrides)
        return env

    return build
