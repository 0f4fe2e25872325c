"""Feature flags in the app: OpenFeature + flagd provider reading a file, toggles, kill switch, /flags."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from refapp import flags
from refapp.models import Note
from refapp.testing import ASGITestClient

pytestmark = pytest.mark.django_db

DEFAULTS_FILE = Path(__file__).resolve().parents[2] / "featureflags" / "flags.json"
Write = Callable[..., None]


def _definitions(revision: str, **defaults: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEFAULTS_FILE.read_text())
    data["metadata"]["revision"] = revision
    for key, variant in defaults.items():
        data["flags"][key]["defaultVariant"] = variant
        data["flags"][key].pop("targeting", None)
    return data


@pytest.fixture
def flag_file(tmp_path: Path) -> Iterator[Write]:
    """A flags file the provider watches (50 ms poll); ``write(revision, flag=variant)`` replaces it atomically."""
    path = tmp_path / "flags.json"

    def write(revision: str, wait: bool = True, **defaults: str) -> None:
        tmp = tmp_path / "flags.json.tmp"
        tmp.write_text(json.dumps(_definitions(revision, **defaults)))
        os.replace(tmp, path)
        if wait:
            deadline = time.monotonic() + 5
            while flags.revision() != revision and time.monotonic() < deadline:
                time.sleep(0.02)
            assert flags.revision() == revision

    write("r1", wait=False)
    flags.configure(str(path), poll_ms=50)
    assert flags.revision() == "r1"
    yield write
    flags.configure("")


def test_without_a_file_every_flag_has_its_coded_default(client: ASGITestClient) -> None:
    flags.configure("")
    body = client.get("/flags").json()
    assert body["values"] == dict(flags.DEFAULTS)
    assert body["revision"] is None


def test_flags_endpoint_shows_values_and_digest_header(client: ASGITestClient, flag_file: Write) -> None:
    response = client.get("/flags", headers={"X-User-Key": "alice@example.com"})
    body = response.json()
    assert body["revision"] == "r1"
    assert body["user"] == "alice@example.com"
    assert body["values"]["greeting"] == "Hello, friend!"  # targeting rule: ends_with @example.com
    assert body["values"]["ui-theme"] == {"accent": "#0055aa", "background": "#ffffff"}
    assert response["X-Flags"] == body["digest"] == flags.digest(body["values"])
    other = client.get("/flags", headers={"X-User-Key": "bob@example.org"}).json()
    assert other["values"]["greeting"] == "Hello"


def test_notes_excerpt_toggle_changes_the_list_without_restart(client: ASGITestClient, flag_file: Write) -> None:
    Note.objects.create(title="t", body="b" * 100)
    off = client.get("/api/notes")
    assert off.status_code == 200 and "excerpt" not in off.json()[0]
    flag_file("r2", **{"notes-excerpt": "on"})
    on = client.get("/api/notes")
    assert on.json()[0]["excerpt"] == "b" * 80
    assert on["X-Flags"] != off["X-Flags"]


def test_page_size_flag_is_the_default_limit(client: ASGITestClient, flag_file: Write) -> None:
    Note.objects.bulk_create([Note(title=f"n{i}") for i in range(25)])
    assert len(client.get("/api/notes").json()) == 25
    flag_file("r2", **{"notes-page-size": "small"})
    assert len(client.get("/api/notes").json()) == 20
    assert len(client.get("/api/notes?limit=22").json()) == 22


def test_kill_switch_turns_uploads_off_cleanly(client: ASGITestClient, flag_file: Write) -> None:
    upload = {"files": [SimpleUploadedFile("a.bin", b"abc", content_type="application/octet-stream")]}
    assert client.post("/api/uploads", upload).status_code == 201
    flag_file("r2", **{"uploads-enabled": "off"})
    upload = {"files": [SimpleUploadedFile("a.bin", b"abc", content_type="application/octet-stream")]}
    killed = client.post("/api/uploads", upload)
    assert killed.status_code == 503
    assert killed["Retry-After"] == "30"
    assert killed.json()["error"] == "uploads are switched off"
    assert killed.json()["limit"] == "uploads-enabled"


def test_a_broken_file_keeps_the_last_good_flags(client: ASGITestClient, flag_file: Write, tmp_path: Path) -> None:
    flag_file("r2", **{"notes-excerpt": "on"})
    (tmp_path / "flags.json").write_text("{not json")
    deadline = time.monotonic() + 5
    while flags._state["error"] is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert flags._state["error"] is not None
    body = client.get("/flags").json()
    assert body["values"]["notes-excerpt"] is True and body["revision"] == "r2"


def test_rollout_is_sticky_per_user_key(client: ASGITestClient, flag_file: Write) -> None:
    seen = {client.get("/flags", headers={"X-User-Key": "user-0"}).json()["values"]["new-notes-ui"] for _ in range(5)}
    assert seen == {True}
    client.inner.cookies["uid"] = "user-1"
    assert client.get("/flags").json()["values"]["new-notes-ui"] is False
