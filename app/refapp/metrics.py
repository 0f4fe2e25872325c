"""Prometheus metrics and the /metrics view.

``route`` is the Django URL pattern (``/api/notes/<int:note_id>``), never the raw
path, and ``method`` is folded to a fixed set, so label cardinality stays bounded.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from refapp.state import DRAIN

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests handled, by route pattern, method and status.",
    ["route", "method", "status", "version", "track"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to produce a response, by route pattern and method.",
    ["route", "method", "version", "track"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
FAULTS_INJECTED = Counter(
    "app_faults_injected_total",
    "Faults injected by the FAULT_* knobs.",
    ["kind"],
)
APP_INFO = Gauge(
    "app_info",
    "Always 1; labels identify the running release.",
    ["version", "commit", "track"],
)
DRAINING = Gauge("app_draining", "1 while the process drains before shutdown.")
DRAINING.set_function(lambda: 1.0 if DRAIN.is_draining else 0.0)


def normalize_method(method: str | None) -> str:
    """Fold unusual HTTP methods into ``OTHER`` to bound label values."""
    method = (method or "").upper()
    return method if method in KNOWN_METHODS else "OTHER"


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Record one finished request."""
    version, track = settings.APP_VERSION, settings.APP_TRACK
    method = normalize_method(method)
    HTTP_REQUESTS.labels(route, method, str(status), version, track).inc()
    HTTP_DURATION.labels(route, method, version, track).observe(seconds)


def set_app_info() -> None:
    """Publish the ``app_info`` series for this release."""
    APP_INFO.labels(settings.APP_VERSION, settings.APP_COMMIT, settings.APP_TRACK).set(1)


async def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics: the Prometheus text exposition of the default registry."""
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
