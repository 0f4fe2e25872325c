"""/healthz, /readyz, /version and the headers every response carries."""

from __future__ import annotations

import asyncio
import re

import pytest
from pytest_django import Settings

from refapp import health
from refapp.state import DRAIN
from refapp.testing import ASGITestClient


def test_healthz_is_ok_without_database(client: ASGITestClient) -> None:
    # No `db` fixture: any database access would raise, so this proves it never touches it.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_version_reports_release(client: ASGITestClient) -> None:
    response = client.get("/version")
    assert response.status_code == 200
    assert response.json() == {
        "version": "9.9.9-test",
        "commit": "abc1234",
        "track": "canary",
        "build_time": "2024-01-02T03:04:05Z",
    }


@pytest.mark.django_db
def test_readyz_ok_when_database_and_cache_work(client: ASGITestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}
    timing = response["Server-Timing"]
    assert re.search(r"db;dur=\d+\.\d", timing)
    assert re.search(r"cache;dur=\d+\.\d", timing)


def test_readyz_503_when_fault_knob_set(client: ASGITestClient, settings: Settings) -> None:
    settings.FAULT_READINESS_FAIL = True
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["fault"]


def test_readyz_503_while_draining_but_healthz_still_ok(client: ASGITestClient) -> None:
    assert DRAIN.start() is True
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["draining"]
    assert response["Connection"] == "close"
    assert client.get("/healthz").status_code == 200


def test_readyz_names_the_failed_dependency(client: ASGITestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken() -> None:
        raise ConnectionError("connection refused")

    async def ok() -> None:
        return None

    monkeypatch.setattr(health, "check_database", broken)
    monkeypatch.setattr(health, "check_cache", ok)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["database"] == "ConnectionError: connection refused"
    assert body["checks"]["cache"] == "ok"


def test_readyz_times_out_slow_dependency(client: ASGITestClient, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    settings.READINESS_TIMEOUT_SECONDS = 0.05

    async def slow() -> None:
        await asyncio.sleep(5)

    async def ok() -> None:
        return None

    monkeypatch.setattr(health, "check_database", ok)
    monkeypatch.setattr(health, "check_cache", slow)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["cache"]
    assert response.json()["checks"]["cache"].startswith("timeout")


@pytest.mark.parametrize("path", ["/healthz", "/version", "/metrics", "/no/such/page"])
def test_every_response_carries_release_and_timing_headers(client: ASGITestClient, path: str) -> None:
    response = client.get(path)
    assert re.fullmatch(r"app;dur=\d+\.\d(, \w+;dur=\d+\.\d)*", response["Server-Timing"])
    assert response["X-App-Version"] == "9.9.9-test"
    assert response["X-App-Track"] == "canary"
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_request_id_is_propagated(client: ASGITestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "deploy-42.a"})
    assert response["X-Request-ID"] == "deploy-42.a"


def test_unknown_path_is_json_404(client: ASGITestClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.json() == {"error": "not found", "path": "/no/such/page"}
