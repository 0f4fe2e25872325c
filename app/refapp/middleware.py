"""Outermost middleware: request id, Server-Timing, release headers, metrics, JSON access log, the
request's span named after its route (refapp.tracing)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import Resolver404, resolve

from refapp import flags, metrics, timing, tracing
from refapp.errors import json_error
from refapp.logging import request_id_var
from refapp.state import DRAIN

access_logger = logging.getLogger("refapp.request")
error_logger = logging.getLogger("refapp.error")

UNMATCHED_ROUTE = "<unmatched>"
CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


def request_id_for(request: HttpRequest) -> str:
    """The client's ``X-Request-ID`` if it is sane, else a fresh random id."""
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex


def route_for(request: HttpRequest) -> str:
    """The URL *pattern* that matched ``request`` (bounded metric label), with a leading /."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return UNMATCHED_ROUTE
    return "/" + match.route.lstrip("^").rstrip("$")


def log_level_for(status: int) -> int:
    """INFO below 500; WARNING for 503 (not ready / draining is expected); else ERROR."""
    if status < 500:
        return logging.INFO
    return logging.WARNING if status == 503 else logging.ERROR


class ObservabilityMiddleware:
    """Times every request and decorates/logs/meters its response.

    Adds ``Server-Timing``, ``X-App-Version``, ``X-App-Track``, ``X-Request-ID`` (and ``X-Flags``,
    the digest of the flags the request evaluated)
    to every response; while the process drains it also sends ``Connection: close``
    so keep-alive clients reconnect (and get routed elsewhere). View exceptions
    become a JSON 500 (no HTML or debug page).
    """

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        """Handle one request."""
        start = time.perf_counter()
        request_id = request_id_for(request)
        token = request_id_var.set(request_id)
        timings = timing.begin_request()
        try:
            response = await self.get_response(request)
            elapsed = time.perf_counter() - start
            route = route_for(request)
            response["Server-Timing"] = timings.header(elapsed)
            response["X-App-Version"] = settings.APP_VERSION
            response["X-App-Track"] = settings.APP_TRACK
            response["X-Request-ID"] = request_id
            flags_digest = flags.seen_digest(request)
            if flags_digest:
                response["X-Flags"] = flags_digest
            if DRAIN.is_draining:
                response["Connection"] = "close"
            metrics.observe_request(route, request.method or "", response.status_code, elapsed)
            tracing.name_server_span(request.method or "HTTP", None if route == UNMATCHED_ROUTE else route)
            self._log(request, response, route, elapsed)
            return response
        finally:
            request_id_var.reset(token)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        """Turn an unexpected view exception into a logged JSON 500.

        Exceptions Django maps to a 4xx (Http404, PermissionDenied, ...) are left
        to Django, which answers them with the JSON handlers in ``refapp.urls``.
        """
        if isinstance(exception, CLIENT_ERRORS):
            return None
        tracing.record_exception(exception)
        error_logger.error(
            "unhandled exception",
            exc_info=exception,
            extra={"event": "unhandled_exception", "path": request.path},
        )
        return json_error(500, "internal server error")

    @staticmethod
    def _log(request: HttpRequest, response: HttpResponseBase, route: str, elapsed: float) -> None:
        status = response.status_code
        fields = {
            "event": "request",
            "method": request.method,
            "path": request.path,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "version": settings.APP_VERSION,
            "track": settings.APP_TRACK,
        }
        fault = getattr(request, "refapp_fault", None)
        if fault:
            fields["fault"] = fault
        trace_id = tracing.trace_id()
        if trace_id:
            fields["trace_id"] = trace_id
        access_logger.log(log_level_for(status), "%s %s %s", request.method, request.path, status, extra=fields)
