"""Fault injection driven by the FAULT_* settings (all off by default).

* ``FAULT_LATENCY_MS``: ``asyncio.sleep`` before handling the request.
* ``FAULT_ERROR_RATE``: that share of requests is answered with a JSON 500.

Neither applies to the health, version and metrics endpoints, so a faulty
release is still observable (and judged by its real behaviour, not by probes).
``FAULT_READINESS_FAIL`` is handled by /readyz, ``FAULT_EXIT_AT_START`` by
``refapp.serve``.
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

logger = logging.getLogger("refapp.faults")

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/version", "/metrics"})


def is_exempt(path: str) -> bool:
    """True for the probe/observability endpoints that faults never touch."""
    return path.rstrip("/") in EXEMPT_PATHS


def should_fail(rate: float, rng: Callable[[], float] = random.random) -> bool:
    """Decide whether to inject an error; ``rate`` 1.0 always, 0.0 never."""
    return rate > 0.0 and rng() < rate


class FaultInjectionMiddleware:
    """Async middleware applying the latency and error-rate knobs."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        """Maybe delay, maybe fail, else pass the request on."""
        if is_exempt(request.path):
            return await self.get_response(request)
        latency_ms = int(settings.FAULT_LATENCY_MS)
        if latency_ms > 0:
            with timing.timed("fault"):
                await asyncio.sleep(latency_ms / 1000)
            metrics.FAULTS_INJECTED.labels("latency").inc()
        if should_fail(float(settings.FAULT_ERROR_RATE)):
            metrics.FAULTS_INJECTED.labels("error").inc()
            request.refapp_fault = "FAULT_ERROR_RATE"  # type: ignore[attr-defined]
            response = json_error(500, "injected fault", fault="FAULT_ERROR_RATE")
            response["X-Fault-Injected"] = "error-rate"
            return response
        return await self.get_response(request)
