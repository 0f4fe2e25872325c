"""POST /api/uploads: digests and limits (conftest: 1024 bytes per file, 2 files)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import MutableMapping
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django import Settings

from refapp.models import Upload
from refapp.testing import ASGITestClient

pytestmark = pytest.mark.django_db


def _file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def test_upload_returns_size_and_sha256(client: ASGITestClient) -> None:
    a, b = b"a" * 1024, b"hello world"
    response = client.post("/api/uploads", {"files": [_file("a.bin", a), _file("b.txt", b)]})
    assert response.status_code == 201
    files = response.json()["files"]
    assert [(f["filename"], f["size"], f["sha256"]) for f in files] == [
        ("a.bin", 1024, hashlib.sha256(a).hexdigest()),
        ("b.txt", len(b), hashlib.sha256(b).hexdigest()),
    ]
    stored = Upload.objects.order_by("id")
    assert [(u.filename, u.sha256) for u in stored] == [
        ("a.bin", hashlib.sha256(a).hexdigest()),
        ("b.txt", hashlib.sha256(b).hexdigest()),
    ]


def test_file_over_max_bytes_is_413(client: ASGITestClient) -> None:
    response = client.post("/api/uploads", {"files": [_file("big.bin", b"x" * 1025)]})
    assert response.status_code == 413
    body = response.json()
    assert body["limit"] == "APP_UPLOAD_MAX_BYTES"
    assert "big.bin" in body["error"]
    assert Upload.objects.count() == 0


def test_too_many_files_is_413(client: ASGITestClient) -> None:
    files = [_file(f"f{i}.txt", b"x") for i in range(3)]
    response = client.post("/api/uploads", {"files": files})
    assert response.status_code == 413
    assert response.json()["limit"] == "APP_UPLOAD_MAX_FILES"
    assert Upload.objects.count() == 0


def test_body_far_too_large_is_rejected_before_parsing(client: ASGITestClient, settings: Settings) -> None:
    settings.APP_UPLOAD_MAX_BYTES = 10
    settings.APP_UPLOAD_MAX_FILES = 1
    response = client.post("/api/uploads", {"files": [_file("huge.bin", b"x" * 200_000)]})
    assert response.status_code == 413
    assert response.json()["error"] == "request body too large"


def test_non_multipart_is_400(client: ASGITestClient) -> None:
    response = client.post("/api/uploads", {"a": 1}, content_type="application/json")
    assert response.status_code == 400
    assert "multipart" in response.json()["error"]


def test_multipart_without_files_is_400(client: ASGITestClient) -> None:
    response = client.post("/api/uploads", {"field": "value"})
    assert response.status_code == 400
    assert response.json()["error"] == "no files in the request"


# --- bodies are bounded before Django reads them (refapp.body_limit, through refapp.asgi) --------
def _asgi(
    chunks: list[bytes], headers: dict[str, str], *, stall: bool = False, timeout: float = 5.0, path: str = "/api/uploads"
) -> tuple[int, dict[str, Any], int]:
    """POST ``chunks`` to the real ASGI application: ``(status, JSON body, chunks it asked for)``."""
    from refapp.asgi import application

    sent: list[MutableMapping[str, Any]] = []
    asked = 0

    async def receive() -> MutableMapping[str, Any]:
        nonlocal asked
        asked += 1
        if asked <= len(chunks):
            return {"type": "http.request", "body": chunks[asked - 1], "more_body": stall or asked < len(chunks)}
        await asyncio.sleep(3600)  # a client that sends nothing more
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()] + [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }

    async def call() -> None:
        await asyncio.wait_for(application(scope, receive, send), timeout)

    async_to_sync(call)()
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), asked


def _multipart(files: dict[str, bytes], boundary: str = "XyZ") -> tuple[bytes, str]:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
        for name, content in files.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_a_huge_declared_length_is_413_before_reading_anything() -> None:
    status, body, asked = _asgi(
        [b"1234567"], {"content-type": "multipart/form-data; boundary=x", "content-length": str(10**12)}, stall=True
    )
    assert (status, body["error"], body["limit"]) == (413, "request body too large", "APP_UPLOAD_MAX_BYTES")
    assert asked == 0


def test_a_huge_declared_length_to_any_path_is_413() -> None:
    status, _, asked = _asgi([b"{}"], {"content-type": "application/json", "content-length": str(10**12)}, path="/api/notes")
    assert (status, asked) == (413, 0)


def test_a_body_is_413_as_soon_as_it_crosses_the_limit(settings: Settings) -> None:
    settings.APP_UPLOAD_MAX_FILES = 1
    chunk = b"x" * 32 * 1024
    # chunked (no Content-Length) and the client would go on for ever: the 413 comes once the limit is passed
    status, body, asked = _asgi([chunk] * 100, {"content-type": "multipart/form-data; boundary=x"}, stall=True)
    assert status == 413 and body["limit"] == "APP_UPLOAD_MAX_BYTES"
    assert asked <= 4  # 1 file of 1024 bytes + overhead < 3 chunks of 32 KiB


def test_a_stalled_body_is_408(settings: Settings) -> None:
    settings.BODY_IDLE_SECONDS = 0.2
    status, body, _ = _asgi(
        [b"1234567"], {"content-type": "multipart/form-data; boundary=x", "content-length": "1000"}, stall=True
    )
    assert status == 408 and "stalled" in body["error"]


def test_a_chunked_upload_within_the_limit_is_accepted() -> None:
    data, content_type = _multipart({"a.bin": b"a" * 1000, "b.txt": b"hello"})
    chunks = [data[i : i + 100] for i in range(0, len(data), 100)]
    status, body, _ = _asgi(chunks, {"content-type": content_type})  # no Content-Length: chunked
    assert status == 201, body
    assert [(f["filename"], f["size"], f["sha256"]) for f in body["files"]] == [
        ("a.bin", 1000, hashlib.sha256(b"a" * 1000).hexdigest()),
        ("b.txt", 5, hashlib.sha256(b"hello").hexdigest()),
    ]


def test_a_chunked_file_over_max_bytes_is_still_413() -> None:
    data, content_type = _multipart({"big.bin": b"x" * 1025})
    status, body, _ = _asgi([data], {"content-type": content_type})
    assert status == 413 and "big.bin" in body["error"]
