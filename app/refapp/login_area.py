"""Django's session, CSRF, auth, security and frame-options middleware, only where a login is involved.

Those four are sync middleware: under ASGI each one costs a hop to a worker thread per
request, which tripled the cost of a plain API request. The API itself needs none of
them, so they run only for the login area (the docs, the schema, the login pages);
every other response gets the same security headers set here, without a thread hop.
The login area also gets a Content-Security-Policy, and its cookies are ``Secure`` when
the request came over HTTPS (uvicorn takes the scheme from X-Forwarded-Proto only from
FORWARDED_ALLOW_IPS) or always with APP_SECURE_COOKIES=1.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]
LOGIN_AREA = ("/api/docs", "/api/openapi.json", "/accounts/", "/static/")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
#: The login page and the Swagger UI load only their own scripts and styles (the login page
#: has one inline <style>; Swagger UI's icons are data: images); nothing may frame them.
LOGIN_AREA_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def in_login_area(path: str) -> bool:
    return path.startswith(LOGIN_AREA)


class LoginAreaMiddleware:
    """Runs the Django middleware chain for the login area; a fast path for everything else."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        chain: object = get_response
        for middleware in (
            AuthenticationMiddleware,
            CsrfViewMiddleware,
            SessionMiddleware,
            XFrameOptionsMiddleware,
            SecurityMiddleware,
        ):
            chain = middleware(chain)  # type: ignore[arg-type]
        self.login_chain = chain
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if in_login_area(request.path):
            response: HttpResponseBase = await self.login_chain(request)  # type: ignore[operator]
            response.headers.setdefault("Content-Security-Policy", LOGIN_AREA_CSP)
            if request.is_secure():
                for morsel in response.cookies.values():
                    morsel["secure"] = True
            return response
        response = await self.get_response(request)
        for header, value in HEADERS.items():
            response.headers.setdefault(header, value)
        return response
