"""The API docs need a login; the API itself does not."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from pytest_django import Settings

from refapp.docs_user import ensure_docs_user
from refapp.testing import ASGITestClient

pytestmark = pytest.mark.django_db

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.parametrize("path", ["/api/docs", "/api/openapi.json"])
def test_anonymous_is_redirected_to_login(client: ASGITestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_logged_in_user_sees_docs_and_schema(client: ASGITestClient, settings: Settings) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    user = get_user_model()(username="reader")
    user.set_password("pw")
    user.save()
    client.force_login(user)

    docs = client.get("/api/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html  # local assets, no CDN
    assert "cdn." not in html

    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/notes", "/api/notes/{note_id}", "/api/uploads"} <= set(paths)


def test_swagger_assets_are_served_locally(client: ASGITestClient) -> None:
    response = client.get("/static/ninja/swagger-ui-bundle.js")
    assert response.status_code == 200
    assert response["Content-Type"].endswith("javascript")
    assert len(response.content) > 10_000
    assert client.get("/static/../settings.py").status_code == 404
    assert client.get("/static/ninja/nope.js").status_code == 404


def test_login_form_logs_in_and_redirects_to_docs(client: ASGITestClient, settings: Settings) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    ensure_docs_user("docs", "s3cret")
    form = client.get("/accounts/login/?next=/api/docs")
    assert form.status_code == 200
    assert b'name="password"' in form.content

    wrong = client.post("/accounts/login/", {"username": "docs", "password": "nope"})
    assert wrong.status_code == 200  # form shown again
    assert b"Wrong user name or password" in wrong.content

    ok = client.post("/accounts/login/", {"username": "docs", "password": "s3cret", "next": "/api/docs"})
    assert ok.status_code == 302
    assert ok["Location"] == "/api/docs"
    assert client.get("/api/docs").status_code == 200


def test_ensure_docs_user_is_idempotent(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    assert ensure_docs_user("docs", "one") == "created"
    assert ensure_docs_user("docs", "one") == "unchanged"
    assert ensure_docs_user("docs", "two") == "updated"
    assert get_user_model().objects.get(username="docs").check_password("two")

    settings.APP_DOCS_USER, settings.APP_DOCS_PASSWORD = "docs", "three"
    call_command("ensure_docs_user")
    assert "updated" in capsys.readouterr().out
    assert get_user_model().objects.filter(username="docs").count() == 1
