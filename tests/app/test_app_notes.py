"""Notes CRUD through the ASGI stack, including caching and errors."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import OperationalError

from refapp.api import note_cache_key
from refapp.models import Note
from refapp.testing import ASGITestClient

pytestmark = pytest.mark.django_db


def _create(client: ASGITestClient, title: str = "first", body: str = "hello") -> Any:
    return client.post("/api/notes", {"title": title, "body": body}, content_type="application/json")


def test_crud_round_trip(client: ASGITestClient) -> None:
    created = _create(client)
    assert created.status_code == 201
    note = created.json()
    assert note["title"] == "first" and note["body"] == "hello"
    assert set(note) == {"id", "title", "body", "created_at", "updated_at"}
    note_id = note["id"]

    first_read = client.get(f"/api/notes/{note_id}")
    assert first_read.status_code == 200
    assert first_read.json() == note
    assert first_read["X-Cache"] == "miss"
    second_read = client.get(f"/api/notes/{note_id}")
    assert second_read["X-Cache"] == "hit"
    assert second_read.json() == note
    assert "cache;dur=" in second_read["Server-Timing"]

    listed = client.get("/api/notes")
    assert listed.status_code == 200
    assert [n["id"] for n in listed.json()] == [note_id]

    updated = client.put(f"/api/notes/{note_id}", {"title": "second", "body": "bye"}, content_type="application/json")
    assert updated.status_code == 200
    assert updated.json()["title"] == "second"
    assert cache.get(note_cache_key(note_id)) is None  # invalidated
    reread = client.get(f"/api/notes/{note_id}")
    assert reread["X-Cache"] == "miss"
    assert reread.json()["title"] == "second" and reread.json()["body"] == "bye"

    deleted = client.delete(f"/api/notes/{note_id}")
    assert deleted.status_code == 204
    assert client.get(f"/api/notes/{note_id}").status_code == 404
    assert client.delete(f"/api/notes/{note_id}").status_code == 404


def test_missing_note_is_404_everywhere(client: ASGITestClient) -> None:
    assert client.get("/api/notes/999999").status_code == 404
    put = client.put("/api/notes/999999", {"title": "x"}, content_type="application/json")
    assert put.status_code == 404
    assert client.delete("/api/notes/999999").status_code == 404


@pytest.mark.parametrize(
    "payload",
    [{"title": "x" * 201}, {"title": ""}, {"body": "no title"}, {"title": 5}],
)
def test_invalid_note_is_422(client: ASGITestClient, payload: dict[str, object]) -> None:
    response = client.post("/api/notes", payload, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"]


def test_title_of_exactly_200_chars_is_accepted(client: ASGITestClient) -> None:
    assert _create(client, title="t" * 200).status_code == 201


def test_list_paging(client: ASGITestClient) -> None:
    ids = [_create(client, title=f"n{i}").json()["id"] for i in range(3)]
    page = client.get("/api/notes", query_params={"limit": 2, "offset": 1})
    assert [n["id"] for n in page.json()] == ids[1:3]
    assert client.get("/api/notes", query_params={"limit": 0}).status_code == 422


def test_non_integer_id_is_422(client: ASGITestClient) -> None:
    assert client.get("/api/notes/abc").status_code == 422


def test_database_error_is_503(client: ASGITestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(Note.objects, "aget", broken)
    response = client.get("/api/notes/1")
    assert response.status_code == 503
    assert response.json() == {"error": "database unavailable"}


@pytest.mark.parametrize("body", ['"hello"', "42", "[]", '["title", "body"]', "null", "true"])
def test_a_body_that_is_not_a_json_object_is_422(client: ASGITestClient, body: str) -> None:
    created = client.post("/api/notes", body, content_type="application/json")
    assert created.status_code == 422
    note = Note.objects.create(title="kept", body="")
    replaced = client.put(f"/api/notes/{note.pk}", body, content_type="application/json")
    assert replaced.status_code == 422
    assert list(Note.objects.values_list("title", flat=True)) == ["kept"]
