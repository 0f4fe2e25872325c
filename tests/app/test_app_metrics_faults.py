"""/metrics exposition and the FAULT_* request knobs."""

from __future__ import annotations

import re

import pytest
from prometheus_client import REGISTRY
from pytest_django import Settings

from refapp.faults import is_exempt, should_fail
from refapp.testing import ASGITestClient


def _requests_total(**labels: str) -> float:
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


LABELS = {"method": "GET", "status": "200", "version": "9.9.9-test", "track": "canary"}


def test_metrics_counts_requests_by_route_pattern(client: ASGITestClient) -> None:
    before = _requests_total(route="/version", **LABELS)
    assert client.get("/version").status_code == 200
    assert _requests_total(route="/version", **LABELS) == before + 1

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert re.search(
        r'^http_requests_total\{method="GET",route="/version",status="200",'
        r'track="canary",version="9.9.9-test"\} \d+\.0$',
        text,
        re.M,
    )
    assert "# TYPE http_request_duration_seconds histogram" in text
    assert re.search(
        r'^http_request_duration_seconds_count\{method="GET",route="/version",'
        r'track="canary",version="9.9.9-test"\} \d+\.0$',
        text,
        re.M,
    )
    assert 'app_info{commit="abc1234",track="canary",version="9.9.9-test"} 1.0' in text


@pytest.mark.django_db
def test_metrics_route_label_is_the_pattern_not_the_path(client: ASGITestClient) -> None:
    labels = dict(LABELS, status="404")
    before = _requests_total(route="/api/notes/<note_id>", **labels)
    client.get("/api/notes/12345")
    client.get("/api/notes/67890")
    assert _requests_total(route="/api/notes/<note_id>", **labels) == before + 2
    assert _requests_total(route="/api/notes/12345", **labels) == 0.0


@pytest.mark.django_db
def test_error_rate_one_fails_every_api_request_but_not_probes(client: ASGITestClient, settings: Settings) -> None:
    settings.FAULT_ERROR_RATE = 1.0
    for _ in range(5):
        response = client.get("/api/notes")
        assert response.status_code == 500
        assert response.json() == {"error": "injected fault", "fault": "FAULT_ERROR_RATE"}
        assert response["X-App-Version"] == "9.9.9-test"
    for path in ("/healthz", "/readyz", "/version", "/metrics"):
        assert client.get(path).status_code == 200, path
    assert _requests_total(route="/api/notes", **dict(LABELS, status="500")) >= 5


@pytest.mark.django_db
def test_error_rate_zero_never_fails(client: ASGITestClient, settings: Settings) -> None:
    settings.FAULT_ERROR_RATE = 0.0
    statuses = {client.get("/api/notes").status_code for _ in range(30)}
    assert statuses == {200}


def test_should_fail_extremes() -> None:
    assert all(should_fail(1.0, rng=lambda: 0.999999) for _ in range(3))
    assert not should_fail(0.0, rng=lambda: 0.0)
    assert should_fail(0.5, rng=lambda: 0.49) and not should_fail(0.5, rng=lambda: 0.5)


def test_exempt_paths() -> None:
    assert all(is_exempt(p) for p in ("/healthz", "/readyz", "/version", "/metrics", "/healthz/"))
    assert not is_exempt("/api/notes")


@pytest.mark.django_db
def test_latency_fault_delays_api_but_not_probes(client: ASGITestClient, settings: Settings) -> None:
    settings.FAULT_LATENCY_MS = 120
    slow = client.get("/api/notes")
    assert slow.status_code == 200
    durations = dict(re.findall(r"(\w+);dur=([\d.]+)", slow["Server-Timing"]))
    fault_ms, app_ms = float(durations["fault"]), float(durations["app"])
    assert fault_ms >= 110 and app_ms >= fault_ms
    fast = client.get("/healthz")
    assert "fault;dur" not in fast["Server-Timing"]
