"""Traces: OpenTelemetry spans of requests, database queries and cache calls, exported over OTLP/HTTP.

Off unless an OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT``, from env.yaml's
``observability.otlp_endpoint``): then nothing is installed, not even the SDK's modules are
imported, and every helper here returns at once (no provider, no exporter, no middleware, no
database hook). On (:func:`start`, called by ``refapp.asgi``):

- a ``TracerProvider`` whose resource names the release: ``service.name`` refapp, ``service.version``
  (``APP_VERSION``), ``pipeline.track`` (``APP_TRACK``: the baseline runs as stable), ``service.instance.id``
  (the host name: the task's container), plus ``OTEL_RESOURCE_ATTRIBUTES`` (the pipeline sets
  ``deployment.environment.name``); spans are batched to the SDK's OTLP/HTTP exporter, which reads the
  SDK's own ``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers, timeout);
- one server span per request: OpenTelemetry's ASGI middleware around the whole app, continuing the
  trace of an incoming W3C ``traceparent``; ``refapp.middleware`` names it after the URL pattern
  (``GET /api/notes/<int:note_id>``, :func:`name_server_span`). The probes and the metrics scrape are not
  traced (polled every second or two);
- one client span per SQL statement (Django's ``execute_wrappers`` on every connection) and per cache
  call (:func:`cache_span`, around the app's own calls), inside a traced request only.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

SERVICE_NAME = "refapp"
#: the release's track as a resource attribute (no semantic convention names one)
TRACK_ATTRIBUTE = "pipeline.track"
#: readiness, liveness and the metrics scrape: polled all the time, never worth a trace
UNTRACED_URLS = r"^[a-z]+://[^/]*/(healthz|readyz|metrics)/?$"
#: the edge's request id (its JSON log's ``request_id``): a trace is found from an edge log line
CAPTURED_REQUEST_HEADERS = ["x-request-id"]
_DB_SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite", "mysql": "mysql", "oracle": "oracle.db"}

ASGIApp = Callable[..., Any]

_tracer: Tracer | None = None
_provider: TracerProvider | None = None
_cache_system: str | None = None


def enabled() -> bool:
    """Whether spans are being made in this process."""
    return _tracer is not None


def make_provider(version: str, track: str, exporter: SpanExporter, *, batch: bool = True) -> TracerProvider:
    """A provider whose resource names this release, sending its spans to ``exporter``."""
    from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_VERSION, Resource
    from opentelemetry.sdk.resources import SERVICE_NAME as SERVICE_NAME_KEY
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create(
        {
            SERVICE_NAME_KEY: SERVICE_NAME,
            SERVICE_VERSION: version,
            TRACK_ATTRIBUTE: track,
            SERVICE_INSTANCE_ID: socket.gethostname(),
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    return provider


def activate(provider: TracerProvider, cache_backend: str = "") -> None:
    """Make spans with ``provider``: hook every database connection, now and when made."""
    from django.db import connections
    from django.db.backends.signals import connection_created

    global _tracer, _provider, _cache_system
    _tracer = provider.get_tracer("refapp")
    _provider = provider
    _cache_system = "redis" if "redis" in cache_backend.lower() else None
    connection_created.connect(_hook_connection, dispatch_uid="refapp.tracing")
    for connection in connections.all(initialized_only=True):
        _hook(connection)


def deactivate() -> None:
    """Stop making spans (tests): the hooks come off, the provider is left to its owner."""
    from django.db import connections
    from django.db.backends.signals import connection_created

    global _tracer, _provider
    _tracer = _provider = None
    connection_created.disconnect(dispatch_uid="refapp.tracing")
    for connection in connections.all(initialized_only=True):
        if _traced_query in connection.execute_wrappers:
            connection.execute_wrappers.remove(_traced_query)


def instrument(app: ASGIApp, provider: TracerProvider) -> ASGIApp:
    """``app`` inside OpenTelemetry's ASGI middleware: a server span per request, named by its method
    until the URL pattern is known; no spans of its own per message sent or received."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.util.http import ExcludeList

    # the stable HTTP attribute names (http.request.method, url.path, http.response.status_code);
    # read once by the instrumentation, so set before it is first made
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    middleware: ASGIApp = OpenTelemetryMiddleware(
        app,
        excluded_urls=ExcludeList([UNTRACED_URLS]),
        default_span_details=_span_details,
        tracer_provider=provider,
        http_capture_headers_server_request=CAPTURED_REQUEST_HEADERS,
        exclude_spans=["receive", "send"],
    )
    return middleware


def start(app: ASGIApp, endpoint: str, version: str, track: str, cache_backend: str = "") -> ASGIApp:
    """``app`` traced, its spans exported over OTLP/HTTP, when ``endpoint`` is set; else ``app`` itself."""
    if not endpoint:
        return app
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = make_provider(version, track, OTLPSpanExporter())  # endpoint, headers: the SDK's variables
    trace.set_tracer_provider(provider)
    activate(provider, cache_backend)
    return instrument(app, provider)


def shutdown() -> None:
    """Send the spans still batched (at the end of ``refapp.serve``)."""
    if _provider is not None:
        _provider.shutdown()


def name_server_span(method: str, route: str | None) -> None:
    """Name the request's server span after its URL pattern (``route``; None: no pattern matched)."""
    if _tracer is None:
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording() and route:
        span.set_attribute("http.route", route)
        span.update_name(f"{method} {route}")


def record_exception(exception: BaseException) -> None:
    """Note on the request's span an exception the app answered with a 500."""
    if _tracer is None:
        return
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    span = trace.get_current_span()
    if span.is_recording():
        span.record_exception(exception)
        span.set_status(Status(StatusCode.ERROR, type(exception).__name__))


def trace_id() -> str:
    """The current trace's id (32 hex digits), for the access log; empty when not traced."""
    if _tracer is None:
        return ""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def cache_span(operation: str) -> AbstractContextManager[Any]:
    """A client span around one cache call of the app (``get``, ``set``, ``delete``)."""
    tracer = _tracer
    if tracer is None or not _in_traced_request():
        return nullcontext()
    from opentelemetry.trace import SpanKind

    attributes = {"db.operation.name": operation}
    if _cache_system:
        attributes["db.system.name"] = _cache_system
    return tracer.start_as_current_span(f"cache {operation}", kind=SpanKind.CLIENT, attributes=attributes)


# --- internals ------------------------------------------------------------------
def _span_details(scope: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The server span's first name: the method alone (semantic conventions, until a route is known)."""
    return str(scope.get("method") or "HTTP"), {}


def _in_traced_request() -> bool:
    from opentelemetry import trace

    return bool(trace.get_current_span().is_recording())


def _hook_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    _hook(connection)


def _hook(connection: Any) -> None:
    if _traced_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_traced_query)


def _traced_query(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: dict[str, Any]) -> Any:
    """Django's execute wrapper: a client span per statement (its SQL with placeholders, never the
    parameters), inside a traced request only (not the probes' ``SELECT 1``, not ``migrate``)."""
    tracer = _tracer
    if tracer is None or not _in_traced_request():
        return execute(sql, params, many, context)
    from opentelemetry.trace import SpanKind

    db = context["connection"]
    text = str(sql)
    operation = text.split(None, 1)[0].upper() if text.strip() else "QUERY"
    namespace = str(db.settings_dict.get("NAME") or "")
    attributes: dict[str, Any] = {
        "db.system.name": _DB_SYSTEMS.get(db.vendor, db.vendor),
        "db.operation.name": operation,
        "db.query.text": text,
        "db.namespace": namespace,
    }
    if db.settings_dict.get("HOST"):
        attributes["server.address"] = str(db.settings_dict["HOST"])
        if db.settings_dict.get("PORT"):
            attributes["server.port"] = int(db.settings_dict["PORT"])
    if many:
        attributes["db.operation.batch.size"] = len(params) if hasattr(params, "__len__") else 0
    name = f"{operation} {namespace}" if namespace else operation
    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
        return execute(sql, params, many, context)
