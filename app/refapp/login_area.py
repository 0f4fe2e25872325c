"""Django's session, CSRF, auth and security middleware, only where a login is involved.

Those four are sync middleware: under ASGI each one costs a hop to a worker thread per
request, which tripled the cost of a plain API request. The API itself needs none of
them, so they run only for the login area (the docs, the schema, the login pages);
every other response gets the same security headers set here, without a thread hop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]
LOGIN_AREA = ("/api/docs", "/api/openapi.json", "/accounts/", "/static/")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def in_login_area(path: str) -> bool:
    return path.startswith(LOGIN_AREA)


class LoginAreaMiddleware:
    """Runs the Django middleware chain for the login area; a fast path for everything else."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        chain: object = get_response
        for middleware in (AuthenticationMiddleware, CsrfViewMiddleware, SessionMiddleware, SecurityMiddleware):
            chain = middleware(chain)  # type: ignore[arg-type]
        self.login_chain = chain
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if in_login_area(request.path):
            response: HttpResponseBase = await self.login_chain(request)  # type: ignore[operator]
            return response
        response = await self.get_response(request)
        for header, value in HEADERS.items():
            response.headers.setdefault(header, value)
        return response
