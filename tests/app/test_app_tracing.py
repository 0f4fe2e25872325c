"""Traces (refapp.tracing): the spans of real requests through the ASGI stack, caught by the SDK's
in-memory exporter; the W3C traceparent continued; nothing installed without an endpoint; and a real
``refapp.serve`` exporting OTLP/HTTP to a stand-in collector on 127.0.0.1."""

from __future__ import annotations

import asyncio
import http.server
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from refapp import tracing
from refapp.asgi import application
from refapp.config import ConfigError, load_config

ChildEnv = Callable[..., dict[str, str]]
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"


class Traced:
    """The app's ASGI application traced into an in-memory exporter."""

    def __init__(self, exporter: InMemorySpanExporter, app: Callable[..., Any]) -> None:
        self.exporter = exporter
        self.app = app

    def request(
        self, method: str, path: str, body: bytes = b"", headers: Sequence[tuple[str, str]] = ()
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request through the whole ASGI stack: status, headers, body."""
        return async_to_sync(self._request)(method, path, body, headers)

    async def _request(
        self, method: str, path: str, body: bytes, headers: Sequence[tuple[str, str]]
    ) -> tuple[int, dict[str, str], bytes]:
        raw = [(b"host", b"testserver"), *((k.lower().encode(), v.encode()) for k, v in headers)]
        if body:
            raw += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        sent: list[dict[str, Any]] = []
        body_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client stays connected; Django cancels this wait
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        start = next(m for m in sent if m["type"] == "http.response.start")
        answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, answer

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def server_span(self) -> ReadableSpan:
        servers = [s for s in self.spans() if s.kind == SpanKind.SERVER]
        assert len(servers) == 1, [s.name for s in self.spans()]
        return servers[0]

    def children_of(self, span: ReadableSpan) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.parent is not None and s.parent.span_id == span.context.span_id]


@pytest.fixture
def traced() -> Iterator[Traced]:
    exporter = InMemorySpanExporter()
    provider = tracing.make_provider(settings.APP_VERSION, settings.APP_TRACK, exporter, batch=False)
    tracing.activate(provider, settings.CACHES["default"]["BACKEND"])
    try:
        yield Traced(exporter, tracing.instrument(application, provider))
    finally:
        tracing.deactivate()
        provider.shutdown()


def _note(traced: Traced) -> int:
    status, _, body = traced.request("POST", "/api/notes", json.dumps({"title": "t", "body": "b"}).encode())
    assert status == 201, body
    note_id: int = json.loads(body)["id"]
    traced.exporter.clear()
    return note_id


@pytest.mark.django_db
def test_a_request_is_a_server_span_with_its_route_and_status_and_children_for_the_query_and_the_cache(
    traced: Traced,
) -> None:
    note_id = _note(traced)
    status, headers, _ = traced.request("GET", f"/api/notes/{note_id}")
    assert status == 200 and headers["x-cache"] == "miss"

    server = traced.server_span()
    assert server.name == "GET /api/notes/<note_id>"
    attributes = dict(server.attributes or {})
    assert attributes["http.route"] == "/api/notes/<note_id>"
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.path"] == f"/api/notes/{note_id}"
    assert server.status.status_code != StatusCode.ERROR
    assert server.parent is None  # no traceparent came in: a trace of its own

    children = traced.children_of(server)
    assert {s.context.trace_id for s in children} == {server.context.trace_id}
    queries = [s for s in children if s.attributes and s.attributes.get("db.system.name") == "sqlite"]
    assert [q.attributes["db.operation.name"] for q in queries if q.attributes] == ["SELECT"]
    query = queries[0]
    assert query.kind == SpanKind.CLIENT and query.name == f"SELECT {connection.settings_dict['NAME']}"
    text = str((query.attributes or {})["db.query.text"])
    assert '"refapp_note"' in text and '"id" = %s' in text and f"= {note_id}" not in text  # never its parameters
    caches = [s.name for s in children if s.name.startswith("cache ")]
    assert caches == ["cache get", "cache set"]  # a miss: read, then filled
    assert all(s.kind == SpanKind.CLIENT for s in children if s.name.startswith("cache "))
    # every span's resource names the release
    for span in traced.spans():
        resource = dict(span.resource.attributes)
        assert resource["service.name"] == "refapp"
        assert resource["service.version"] == "9.9.9-test" == settings.APP_VERSION
        assert resource["pipeline.track"] == "canary" == settings.APP_TRACK

    traced.exporter.clear()
    assert traced.request("GET", f"/api/notes/{note_id}")[1]["x-cache"] == "hit"
    server = traced.server_span()
    assert [s.name for s in traced.children_of(server)] == ["cache get"]  # a hit: no query


@pytest.mark.django_db
def test_an_incoming_traceparent_makes_the_request_part_of_that_trace(traced: Traced) -> None:
    note_id = _note(traced)
    parent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    status, _, _ = traced.request("GET", f"/api/notes/{note_id}", headers=[("traceparent", parent), ("X-Request-ID", "edge-42")])
    assert status == 200
    server = traced.server_span()
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None and server.parent.is_remote
    assert format(server.parent.span_id, "016x") == PARENT_ID
    assert (server.attributes or {})["http.request.header.x_request_id"] == ("edge-42",)  # the edge log's request_id
    assert {format(s.context.trace_id, "032x") for s in traced.spans()} == {TRACE_ID}
    assert len(traced.spans()) >= 3  # server, query, cache


@pytest.mark.django_db
def test_a_server_error_marks_the_span_and_a_missing_note_does_not(traced: Traced, monkeypatch: pytest.MonkeyPatch) -> None:
    assert traced.request("GET", "/api/notes/999999")[0] == 404
    server = traced.server_span()
    assert server.status.status_code != StatusCode.ERROR and (server.attributes or {})["http.response.status_code"] == 404
    traced.exporter.clear()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the view broke")

    monkeypatch.setattr("refapp.api._note_dict", broken)
    note_id = _note(traced)
    assert traced.request("GET", f"/api/notes/{note_id}")[0] == 500
    server = traced.server_span()
    assert server.status.status_code == StatusCode.ERROR
    assert any(e.name == "exception" and "the view broke" in str(e.attributes) for e in server.events)


@pytest.mark.django_db
def test_the_probes_and_the_scrape_make_no_span_at_all(traced: Traced) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert traced.request("GET", path)[0] == 200, path
    assert traced.spans() == []  # not even the readiness check's query and cache round trip
    assert traced.request("GET", "/version")[0] == 200
    assert [s.name for s in traced.spans()] == ["GET /version"]


def test_without_an_endpoint_nothing_is_installed() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    assert settings.OTLP_ENDPOINT == ""
    assert not tracing.enabled()
    assert tracing.start(application, "", "1", "stable") is application  # not wrapped
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)  # the API's no-op stand-in
    assert tracing.trace_id() == "" and tracing.cache_span("get").__class__.__name__ == "nullcontext"


def test_without_an_endpoint_the_app_does_not_even_import_the_sdk(child_env: ChildEnv) -> None:
    script = (
        "import sys, django; django.setup(); import refapp.asgi as a, refapp.tracing as t; "
        "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('opentelemetry.')}), "
        "type(a.application).__name__, t.enabled())"
    )
    env = child_env(DJANGO_SETTINGS_MODULE="refapp.settings")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "BodyLimit", "False"]


@pytest.mark.parametrize("variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
@pytest.mark.parametrize("value", ["collector:4318", "http://", "http://x:port", "ftp://x", "http://x /y"])
def test_an_endpoint_that_is_not_an_http_url_is_a_config_error(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"DJANGO_DEBUG": "1", variable: value})
    assert caught.value.variable == variable and "http(s) URL" in caught.value.errors[variable]
    assert load_config({"DJANGO_DEBUG": "1", variable: "http://otel-collector:4318"}).otlp_endpoint


class _Collector(http.server.BaseHTTPRequestHandler):
    """A stand-in OTLP/HTTP receiver: keeps every request's path, content type and body."""

    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_served_app_with_an_endpoint_exports_its_spans_over_otlp_http(child_env: ChildEnv) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    _Collector.received = []
    collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    port = _free_port()
    env = child_env(
        APP_HOST="127.0.0.1",
        APP_PORT=str(port),
        APP_DRAIN_SECONDS="0",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{collector.server_address[1]}",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=ci",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "refapp.serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the app did not start"
                time.sleep(0.05)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/version", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 200
        proc.send_signal(signal.SIGTERM)  # the drain ends the process, which sends what it batched
        output = proc.communicate(timeout=20)[0]
        assert proc.returncode == 0, output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        collector.shutdown()
    assert {(path, kind) for path, kind, _ in _Collector.received} == {("/v1/traces", "application/x-protobuf")}
    spans = []
    for _, _, body in _Collector.received:
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert resource["service.name"] == "refapp" and resource["service.version"] == "9.9.9-test"
            assert resource["pipeline.track"] == "canary" and resource["deployment.environment.name"] == "ci"
            spans += [s for scope in resource_spans.scope_spans for s in scope.spans]
    assert [(s.name, s.trace_id.hex(), s.parent_span_id.hex()) for s in spans] == [("GET /version", TRACE_ID, PARENT_ID)]
    assert json.loads(next(line for line in output.splitlines() if '"/version"' in line))["trace_id"] == TRACE_ID
