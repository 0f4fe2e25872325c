"""Django's session/CSRF/auth middleware runs for the login area only; the API gets a fast path."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_django import Settings

from refapp.docs_user import ensure_docs_user
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


# --- hardening of the login area (issue 17, finding 7) ---------------------------------------
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _sign_in(client: ASGITestClient, password: str = "s3cret", address: str = "127.0.0.1", secure: bool = False) -> Any:
    form = {"username": "docs", "password": password, "next": "/api/docs"}
    from_address = ASGITestClient(address)
    from_address.inner.cookies = client.inner.cookies
    return from_address.post("/accounts/login/", form, secure=secure)


def test_a_logged_out_session_cookie_opens_nothing(client: ASGITestClient, settings: Settings) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    ensure_docs_user("docs", "s3cret")
    assert _sign_in(client).status_code == 302
    old_cookie = client.inner.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get("/api/docs").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302

    replay = ASGITestClient()
    replay.inner.cookies[settings.SESSION_COOKIE_NAME] = old_cookie
    for path in ("/api/docs", "/api/openapi.json"):
        response = replay.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_wrong_passwords_for_one_user_are_throttled(client: ASGITestClient, settings: Settings) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    ensure_docs_user("docs", "s3cret")
    for attempt in range(settings.LOGIN_FAILURES_ALLOWED):
        # each from another address: the user name's counter alone must stop them
        assert _sign_in(client, "wrong", address=f"10.0.0.{attempt + 1}").status_code == 200
    throttled = _sign_in(client, "wrong", address="10.0.1.1")
    assert throttled.status_code == 429
    assert throttled["Retry-After"] == str(settings.LOGIN_FAILURE_WINDOW_SECONDS)
    # even the right password waits: the throttle is checked before the password
    assert _sign_in(client, address="10.0.1.2").status_code == 429


def test_wrong_passwords_from_one_address_are_throttled(client: ASGITestClient, settings: Settings) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    attacker, neighbour = ASGITestClient("10.9.9.9"), ASGITestClient("10.9.9.8")
    for attempt in range(settings.LOGIN_FAILURES_ALLOWED):
        response = attacker.post("/accounts/login/", {"username": f"user{attempt}", "password": "x"})
        assert response.status_code == 200
    assert attacker.post("/accounts/login/", {"username": "another", "password": "x"}).status_code == 429
    assert neighbour.post("/accounts/login/", {"username": "another", "password": "x"}).status_code == 200


def test_a_successful_sign_in_clears_the_user_names_failures(client: ASGITestClient, settings: Settings) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    ensure_docs_user("docs", "s3cret")
    for attempt in range(settings.LOGIN_FAILURES_ALLOWED - 1):
        _sign_in(client, "wrong", address=f"10.0.2.{attempt}")
    assert _sign_in(client, address="10.0.3.1").status_code == 302
    assert _sign_in(client, "wrong", address="10.0.3.2").status_code == 200


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/docs"])
def test_the_login_area_cannot_be_framed_and_has_a_csp(client: ASGITestClient, path: str) -> None:
    response = client.get(path)
    assert response["X-Frame-Options"] == "DENY"
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "script-src 'self'" in csp


def test_cookies_are_secure_when_the_request_came_over_https(client: ASGITestClient) -> None:
    plain = client.get("/accounts/login/")
    assert not plain.cookies["csrftoken"]["secure"]
    over_tls = ASGITestClient().get("/accounts/login/", secure=True)
    assert over_tls.cookies["csrftoken"]["secure"] is True


def test_the_session_cookie_of_a_sign_in_over_https_is_secure_and_http_only(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    ensure_docs_user("docs", "s3cret")
    over_tls = ASGITestClient()
    over_tls.get("/accounts/login/", secure=True)
    response = _sign_in(over_tls, secure=True)
    assert response.status_code == 302
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


def test_secure_cookies_can_be_forced(client: ASGITestClient, settings: Settings) -> None:
    settings.CSRF_COOKIE_SECURE = True
    assert client.get("/accounts/login/").cookies["csrftoken"]["secure"] is True
