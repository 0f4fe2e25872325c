"""POST /api/uploads: digests and limits (conftest: 1024 bytes per file, 2 files)."""

from __future__ import annotations

import hashlib

import pytest
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
