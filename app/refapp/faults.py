"""Fault injection driven by the FAULT_* settings (all off by default).

* ``FAULT_LATENCY_MS``: ``asyncio.sleep`` before handling the request, on the
  ``FAULT_LATENCY_SHARE`` of the requests (all by default).
* ``FAULT_ERROR_RATE``: that share of requests is answered with a JSON 500.

Neither applies to the health, version and metrics endpoints, so a faulty
release is still observable (and judged by its real behaviour, not by probes).
``FAULT_PATHS`` and ``FAULT_METHODS`` narrow both to some endpoints or to writes;
``FAULT_AFTER_SECONDS`` holds every fault back until the process has run that
long (:func:`armed`). ``FAULT_READINESS_FAIL`` is handled by /readyz,
``FAULT_EXIT_AT_START`` by ``refapp.serve`` (at start, so never held back).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from refapp import metrics, timing
from refapp.errors import json_error
from refapp.state import UPTIME

logger = logging.getLogger("refapp.faults")

#: The random draw of every fault decision (a module attribute, so tests can replace it).
draw: Callable[[], float] = random.random

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/version", "/metrics"})


def is_exempt(path: str) -> bool:
    """True for the probe/observability endpoints that faults never touch."""
    return path.rstrip("/") in EXEMPT_PATHS


def should_fail(rate: float, rng: Callable[[], float] = random.random) -> bool:
    """Decide whether to inject a fault into a request; ``rate`` 1.0 always, 0.0 never."""
    return rate > 0.0 and rng() < rate


def armed(uptime: float | None = None) -> bool:
    """True once the process has run ``FAULT_AFTER_SECONDS`` (at once when it is 0)."""
    after = float(settings.FAULT_AFTER_SECONDS)
    return after <= 0.0 or (UPTIME.seconds() if uptime is None else uptime) >= after


def path_matches(path: str, prefixes: tuple[str, ...] | list[str]) -> bool:
    """True when ``path`` is one of ``prefixes`` or below one (by whole segments); no prefixes: any path."""
    if not prefixes:
        return True
    for prefix in prefixes:
        stem = prefix.rstrip("/")
        if path in (prefix, stem) or path.startswith(stem + "/"):
            return True
    return False


def applies(request: HttpRequest) -> bool:
    """Whether the error and latency faults may touch this request at all."""
    if is_exempt(request.path) or not path_matches(request.path, settings.FAULT_PATHS):
        return False
    methods = settings.FAULT_METHODS
    return (not methods or (request.method or "").upper() in methods) and armed()


class FaultInjectionMiddleware:
    """Async middleware applying the latency and error-rate knobs."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        """Maybe delay, maybe fail, else pass the request on."""
        if not applies(request):
            return await self.get_response(request)
        latency_ms = int(settings.FAULT_LATENCY_MS)
        if latency_ms > 0 and should_fail(float(settings.FAULT_LATENCY_SHARE), draw):
            with timing.timed("fault"):
                await asyncio.sleep(latency_ms / 1000)
            metrics.FAULTS_INJECTED.labels("latency").inc()
        if should_fail(float(settings.FAULT_ERROR_RATE), draw):
            metrics.FAULTS_INJECTED.labels("error").inc()
            request.refapp_fault = "FAULT_ERROR_RATE"  # type: ignore[attr-defined]
            response = json_error(500, "injected fault", fault="FAULT_ERROR_RATE")
            response["X-Fault-Injected"] = "error-rate"
            return response
        return await self.get_response(request)
