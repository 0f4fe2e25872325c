"""The docs login, throttled: failed sign-ins count per client address and per user name.

After ``LOGIN_FAILURES_ALLOWED`` failures within ``LOGIN_FAILURE_WINDOW_SECONDS`` (either
counter) a sign-in is answered 429 with ``Retry-After``, before the password is checked.
The counters live in Django's cache (Redis in production, shared by every replica);
a successful sign-in clears its user name's counter.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

logger = logging.getLogger("refapp.login")


def failure_keys(request: HttpRequest) -> tuple[str, str]:
    """Cache keys of the failure counters of this request's client address and user name."""
    address = str(request.META.get("REMOTE_ADDR") or "unknown")
    username = str(request.POST.get("username", "")).strip().lower()
    return (
        "login-failures:addr:" + hashlib.sha256(address.encode()).hexdigest(),
        "login-failures:user:" + hashlib.sha256(username.encode()).hexdigest(),
    )


def is_throttled(keys: tuple[str, ...]) -> bool:
    counts = cache.get_many(list(keys))
    return any(int(count) >= int(settings.LOGIN_FAILURES_ALLOWED) for count in counts.values())


def record_failure(keys: tuple[str, ...]) -> None:
    window = int(settings.LOGIN_FAILURE_WINDOW_SECONDS)
    for key in keys:
        cache.add(key, 0, timeout=window)  # the window starts at the first failure
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)


def too_many_failures() -> HttpResponse:
    window = int(settings.LOGIN_FAILURE_WINDOW_SECONDS)
    response = HttpResponse(
        f"Too many failed sign-ins. Try again in {window} seconds.\n", status=429, content_type="text/plain; charset=utf-8"
    )
    response["Retry-After"] = str(window)
    return response


class ThrottledLoginView(LoginView):
    """Django's login view, answering 429 once a client address or a user name failed too often."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        keys = failure_keys(request)
        if is_throttled(keys):
            logger.warning("sign-in throttled", extra={"event": "login_throttled"})
            return too_many_failures()
        response: HttpResponseBase = super().post(request, *args, **kwargs)
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        record_failure(failure_keys(self.request))
        logger.info("sign-in failed", extra={"event": "login_failed"})
        response: HttpResponse = super().form_invalid(form)
        return response

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        cache.delete(failure_keys(self.request)[1])
        response: HttpResponse = super().form_valid(form)
        return response
