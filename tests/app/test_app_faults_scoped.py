"""The FAULT_* knobs that narrow a fault: to some paths, to some methods, to a share, to later."""

from __future__ import annotations

import re

import pytest
from pytest_django import Settings

from refapp.config import ConfigError, load_config
from refapp.faults import armed, path_matches
from refapp.state import UPTIME
from refapp.testing import ASGITestClient

BASE = {"DJANGO_SECRET_KEY": "k", "DATABASE_URL": "sqlite:///db.sqlite3"}
NOTE = {"title": "t", "body": "b"}


def _fault_ms(response: object) -> float:
    durations = dict(re.findall(r"(\w+);dur=([\d.]+)", response["Server-Timing"]))  # type: ignore[index]
    return float(durations.get("fault", 0.0))


def test_new_knobs_parse_and_default() -> None:
    config = load_config(BASE)
    assert config.fault_paths == () and config.fault_methods == ()
    assert config.fault_latency_share == 1.0 and config.fault_after_seconds == 0.0
    config = load_config(
        {
            **BASE,
            "FAULT_PATHS": " /api/notes, /api/uploads ,",
            "FAULT_METHODS": "post,PUT",
            "FAULT_LATENCY_SHARE": "0.1",
            "FAULT_AFTER_SECONDS": "45.5",
        }
    )
    assert config.fault_paths == ("/api/notes", "/api/uploads")
    assert config.fault_methods == ("POST", "PUT")
    assert config.fault_latency_share == 0.1 and config.fault_after_seconds == 45.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FAULT_PATHS", "api/notes"),
        ("FAULT_PATHS", "/api/notes?limit=5"),
        ("FAULT_METHODS", "WRITE"),
        ("FAULT_LATENCY_SHARE", "1.5"),
        ("FAULT_LATENCY_SHARE", "-0.1"),
        ("FAULT_AFTER_SECONDS", "-1"),
        ("FAULT_AFTER_SECONDS", "later"),
    ],
)
def test_bad_scoping_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({**BASE, name: value})
    assert list(info.value.errors) == [name]


def test_path_prefixes_match_whole_segments() -> None:
    assert path_matches("/anything", ())
    assert path_matches("/api/notes", ("/api/notes",))
    assert path_matches("/api/notes/7", ("/api/notes",))
    assert path_matches("/api/notes/7", ("/api/notes/",))
    assert not path_matches("/api/notesearch", ("/api/notes",))
    assert not path_matches("/api/uploads", ("/api/notes",))
    assert path_matches("/api/uploads", ("/api/notes", "/api/uploads"))


@pytest.mark.django_db
def test_errors_on_one_path_only(client: ASGITestClient, settings: Settings) -> None:
    settings.FAULT_ERROR_RATE = 1.0
    settings.FAULT_PATHS = ("/api/notes",)
    assert client.get("/api/notes").status_code == 500
    assert client.get("/api/notes/1").status_code == 500
    # another API path is untouched (the uploads endpoint answers 400 to a non-multipart body, not 500)
    assert client.post("/api/uploads", NOTE, content_type="application/json").status_code == 400
    assert client.get("/flags").status_code == 200


@pytest.mark.django_db
def test_errors_on_writes_only(client: ASGITestClient, settings: Settings) -> None:
    settings.FAULT_ERROR_RATE = 1.0
    settings.FAULT_METHODS = ("POST",)
    for _ in range(5):
        assert client.get("/api/notes").status_code == 200
    failed = client.post("/api/notes", NOTE, content_type="application/json")
    assert failed.status_code == 500
    assert failed.json() == {"error": "injected fault", "fault": "FAULT_ERROR_RATE"}


@pytest.mark.django_db
def test_paths_and_methods_combine(client: ASGITestClient, settings: Settings) -> None:
    settings.FAULT_ERROR_RATE = 1.0
    settings.FAULT_PATHS = ("/api/uploads",)
    settings.FAULT_METHODS = ("POST",)
    assert client.post("/api/notes", NOTE, content_type="application/json").status_code == 201
    assert client.post("/api/uploads", NOTE, content_type="application/json").status_code == 500


@pytest.mark.django_db
def test_latency_on_a_share_of_requests_only(client: ASGITestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.FAULT_LATENCY_MS = 60
    settings.FAULT_LATENCY_SHARE = 0.25
    draws = iter([0.1, 0.9, 0.5, 0.24])  # the latency draw of each request, in order
    monkeypatch.setattr("refapp.faults.draw", lambda: next(draws))
    delayed = [_fault_ms(client.get("/api/notes")) >= 50 for _ in range(4)]
    assert delayed == [True, False, False, True]


@pytest.mark.django_db
def test_latency_share_zero_never_delays(client: ASGITestClient, settings: Settings) -> None:
    settings.FAULT_LATENCY_MS = 200
    settings.FAULT_LATENCY_SHARE = 0.0
    assert all(_fault_ms(client.get("/api/notes")) == 0.0 for _ in range(3))


def test_armed_counts_from_the_process_start(settings: Settings) -> None:
    settings.FAULT_AFTER_SECONDS = 0
    assert armed(uptime=0.0)
    settings.FAULT_AFTER_SECONDS = 30
    assert not armed(uptime=29.9)
    assert armed(uptime=30.0)


@pytest.mark.django_db
def test_a_release_that_turns_bad_after_a_while(client: ASGITestClient, settings: Settings) -> None:
    settings.FAULT_ERROR_RATE = 1.0
    settings.FAULT_AFTER_SECONDS = 60
    started = UPTIME.started
    try:
        UPTIME.restart(seconds_ago=5)
        assert client.get("/api/notes").status_code == 200
        UPTIME.restart(seconds_ago=61)
        assert client.get("/api/notes").status_code == 500
    finally:
        UPTIME.started = started


@pytest.mark.django_db
def test_readiness_turns_bad_after_a_while_too(client: ASGITestClient, settings: Settings) -> None:
    settings.FAULT_READINESS_FAIL = True
    settings.FAULT_AFTER_SECONDS = 60
    started = UPTIME.started
    try:
        UPTIME.restart(seconds_ago=5)
        assert client.get("/readyz").status_code == 200
        UPTIME.restart(seconds_ago=61)
        late = client.get("/readyz")
        assert late.status_code == 503 and late.json()["failed"] == ["fault"]
    finally:
        UPTIME.started = started
