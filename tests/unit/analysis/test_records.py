from __future__ import annotations

import json
import re

import pytest

from pipeline.analysis.records import Record, parse_line, parse_lines
from pipeline.edge import LOG_FORMAT

GOOD = (
    '{"time":"2026-11-23T00:59:10+00:00","msec":1795395550.109,"track":"stable","method":"GET","uri":"/healthz",'
    '"status":200,"upstream_addr":"10.0.2.13:8000","upstream_status":"200","request_time":0.008,'
    '"upstream_response_time":"0.009","upstream_connect_time":"0.001","bytes_sent":499,"request_length":85,'
    '"request_id":"2b72","version":"v1"}'
)
BAD_GATEWAY = (
    '{"time":"2026-11-23T00:59:11+00:00","msec":1795395551.5,"track":"canary","method":"POST","uri":"/api/items",'
    '"status":502,"upstream_addr":"10.0.2.20:8000, 10.0.2.21:8000","upstream_status":"-","request_time":3.001,'
    '"upstream_response_time":"-","upstream_connect_time":"-","bytes_sent":150,"request_length":300,'
    '"request_id":"ff01","version":""}'
)


def test_parses_a_good_line() -> None:
    assert parse_line(GOOD) == Record(
        ts=1795395550.109, track="stable", status=200, latency_ms=8.0, uri="/healthz", version="v1", method="GET"
    )
    assert parse_line(GOOD + "\n") == parse_line(GOOD)
    assert not parse_line(GOOD).failed  # type: ignore[union-attr]


def test_parses_a_502_with_dash_upstream_status_and_retried_addresses() -> None:
    record = parse_line(BAD_GATEWAY)
    assert record is not None
    assert (record.track, record.status, record.failed, record.uri) == ("canary", 502, True, "/api/items")
    assert record.latency_ms == pytest.approx(3001.0)


def test_the_edge_format_parses() -> None:
    values = {"msec": "1795395550.250", "status": "504", "request_time": "1.500", "bytes_sent": "0", "request_length": "10"}
    values |= {"pl_route": "canary", "uri": "/x", "upstream_addr": "10.0.0.1:8000, 10.0.0.2:8000", "upstream_status": "504, 504"}
    line = re.sub(r"\$(\w+)", lambda m: values.get(m.group(1), ""), LOG_FORMAT)
    assert json.loads(line)["upstream_addr"] == "10.0.0.1:8000, 10.0.0.2:8000"
    assert parse_line(line) == Record(ts=1795395550.25, track="canary", status=504, latency_ms=1500.0, uri="/x")


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "not json",
        GOOD[: len(GOOD) // 2],  # a partial line
        "[1, 2, 3]",
        "{}",
        GOOD.replace('"status":200', '"status":"oops"'),
        GOOD.replace('"status":200', '"status":true'),
        GOOD.replace('"status":200', '"status":20.5'),
        GOOD.replace('"msec":1795395550.109', '"msec":NaN'),
        GOOD.replace('"request_time":0.008', '"request_time":-1'),
        GOOD.replace('"track":"stable"', '"track":""'),
        GOOD.replace('"track":"stable"', '"track":7'),
        "{" * 100_000,
        "\x00\xff garbage",
    ],
)
def test_garbled_lines_are_none(line: str) -> None:
    assert parse_line(line) is None


def test_numeric_strings_are_accepted_and_uri_is_optional() -> None:
    line = '{"msec":"10.5","track":"canary","status":"503","request_time":"0.25"}'
    assert parse_line(line) == Record(ts=10.5, track="canary", status=503, latency_ms=250.0, uri="")


def test_parse_lines_skips_bad_lines() -> None:
    text = "\n".join([GOOD, "garbage", "", BAD_GATEWAY, GOOD[:40]])
    assert [r.status for r in parse_lines(text)] == [200, 502]


@pytest.mark.parametrize(("status", "failed"), [(200, False), (404, False), (499, False), (500, True), (502, True), (504, True)])
def test_failed(status: int, failed: bool) -> None:
    assert Record(ts=0.0, track="canary", status=status, latency_ms=1.0).failed is failed


@pytest.mark.parametrize(
    ("method", "uri", "route"),
    [
        ("GET", "/api/notes?limit=5", "GET /api/notes"),
        ("post", "/api/notes", "POST /api/notes"),
        ("GET", "/api/notes/42", "GET /api/notes/{id}"),
        ("DELETE", "/api/notes/3f2a1b7c-1111-2222-3333-444455556666/tags", "DELETE /api/notes/{id}/tags"),
        ("GET", "", "GET /"),
        ("PUT", "/files/abcdef0123456789", "PUT /files/{id}"),
        ("GET", "/api/v2/notes", "GET /api/v2/notes"),  # a short word-and-digit segment is part of the route
    ],
)
def test_a_route_is_the_method_and_the_path_template(method: str, uri: str, route: str) -> None:
    from pipeline.analysis.records import route_of

    assert route_of(method, uri) == route


def test_a_garbled_method_is_dropped_not_trusted() -> None:
    line = GOOD.replace('"method":"GET"', '"method":"G E T;"')
    record = parse_line(line)
    assert record is not None and record.method == ""
