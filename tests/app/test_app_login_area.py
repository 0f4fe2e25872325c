"""Django's session/CSRF/auth middleware runs for the login area only; the API gets a fast path."""

from __future__ import annotations

import pytest

from refapp.login_area import HEADERS, in_login_area
from refapp.testing import ASGITestClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "inside"),
    [
        ("/api/docs", True),
        ("/api/openapi.json", True),
        ("/accounts/login/", True),
        ("/static/x.css", True),
        ("/api/notes", False),
        ("/healthz", False),
        ("/version", False),
    ],
)
def test_login_area(path: str, inside: bool) -> None:
    assert in_login_area(path) is inside


@pytest.mark.parametrize("path", ["/healthz", "/version", "/api/notes"])
def test_fast_path_keeps_the_security_headers_and_sets_no_cookie(client: ASGITestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    for header, value in HEADERS.items():
        assert response[header] == value
    assert "Set-Cookie" not in response


def test_login_page_still_gets_csrf_and_security_headers(client: ASGITestClient) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "csrftoken" in response.cookies
