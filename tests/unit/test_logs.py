"""Log lines into records, merged in time order and filtered (``pipeline.observability.logs``): no daemon."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pipeline.commands import Result
from pipeline.errors import UserError
from pipeline.observability.logs import (
    LogFeed,
    LogQuery,
    feed_of,
    file_lines,
    guess_level,
    merge,
    parse_grep,
    parse_level,
    parse_time,
    records,
    select,
    stamp_ns,
    window_args,
)

T0 = 1_714_564_800  # 2024-05-01T12:00:00Z
NS = 1_000_000_000
APP = '{"time": "2024-05-01T12:00:00.100Z", "level": "WARNING", "logger": "refapp", "message": "slow", "ms": 812}'


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2024-05-01T12:00:00Z", T0 * NS),
        ("2024-05-01T12:00:00.123456789Z", T0 * NS + 123_456_789),
        ("2024-05-01T12:00:00.5Z", T0 * NS + 500_000_000),
        ("2024-05-01T14:00:00.000000001+02:00", T0 * NS + 1),
        ("2024-05-01 12:00:00.25+00:00", T0 * NS + 250_000_000),
        ("12:00:00", None),
        ("2024-05-01T12:00:00", None),  # no zone: not a time of its own
    ],
)
def test_rfc3339_times_keep_their_nanoseconds(text: str, ns: int | None) -> None:
    assert stamp_ns(text) == ns


# one line of each form, and the record it gives: (service, task, level, message, some fields)
LINES: list[tuple[str, str, str, tuple[str, str, str | None, str, dict[str, Any]]]] = [
    (
        "service",  # the app's JSON through docker service logs, its task named
        f"2024-05-01T12:00:00.000000002Z pl-local-app-blue.1.k3j4h5l6m7n8@node-1    | {APP}",
        "app-stable",
        ("app-stable", "pl-local-app-blue.1.k3j4h5l6m7n8@node-1", "warning", "slow", {"logger": "refapp", "ms": 812}),
    ),
    (
        "service",  # PostgreSQL: plain text, its own level word
        "2024-05-01T12:00:00.000000003Z pl-local-db.1.aaaa@n    | 2024-05-01 12:00:00.003 UTC [63] ERROR:  relation "
        '"notes" does not exist',
        "db",
        ("db", "pl-local-db.1.aaaa@n", "error", '2024-05-01 12:00:00.003 UTC [63] ERROR:  relation "notes" does not exist', {}),
    ),
    (
        "service",  # PostgreSQL's LOG is its info
        "2024-05-01T12:00:00Z pl-local-db.1.aaaa@n    | 2024-05-01 12:00:00.003 UTC [1] LOG:  database system is ready",
        "db",
        ("db", "pl-local-db.1.aaaa@n", "info", "2024-05-01 12:00:00.003 UTC [1] LOG:  database system is ready", {}),
    ),
    (
        "service",  # Redis: its verbosity mark
        "2024-05-01T12:00:00Z pl-local-cache.1.bbbb@n    | 1:M 01 May 2024 12:00:00.004 # WARNING overcommit_memory is 0",
        "cache",
        ("cache", "pl-local-cache.1.bbbb@n", "warning", "1:M 01 May 2024 12:00:00.004 # WARNING overcommit_memory is 0", {}),
    ),
    (
        "service",  # a plain line no format claims: no level guessed
        "2024-05-01T12:00:00Z pl-local-cache.1.bbbb@n    | an error happened somewhere, maybe",
        "cache",
        ("cache", "pl-local-cache.1.bbbb@n", None, "an error happened somewhere, maybe", {}),
    ),
    (
        "stamped",  # nginx's error log through docker logs: the container is the task
        "2024-05-01T12:00:00.000000004Z 2024/05/01 12:00:00 [warn] 7#7: *1 an upstream response is buffered",
        "edge",
        ("edge", "pl-local-edge", "warning", "2024/05/01 12:00:00 [warn] 7#7: *1 an upstream response is buffered", {}),
    ),
    (
        "stamped",  # Prometheus: logfmt
        '2024-05-01T12:00:00Z ts=2024-05-01T12:00:00.000Z caller=main.go:1 level=error msg="scrape failed"',
        "prometheus",
        (
            "prometheus",
            "pl-local-edge",
            "error",
            'ts=2024-05-01T12:00:00.000Z caller=main.go:1 level=error msg="scrape failed"',
            {},
        ),
    ),
    (
        "access",  # the edge's JSON access log: its msec, its status as the level
        '{"time":"2024-05-01T12:00:00+00:00","msec":1714564800.123,"track":"canary","method":"GET","uri":"/api/notes",'
        '"status":502,"request_time":0.004}',
        "edge",
        ("edge", "pl-local-edge", "error", "GET /api/notes 502", {"track": "canary", "request_time": 0.004}),
    ),
    (
        "journal",  # the vm kind's journal: the unit names the part, its instance the task
        json.dumps(
            {
                "__REALTIME_TIMESTAMP": "1714564800000007",
                "_SYSTEMD_UNIT": "refapp-canary@2.service",
                "_HOSTNAME": "vm1",
                "MESSAGE": APP,
                "PRIORITY": "6",
            }
        ),
        "",
        ("app-canary", "2@vm1", "warning", "slow", {"ms": 812}),
    ),
    (
        "journal",  # a plain line whose priority says it outright
        json.dumps(
            {"__REALTIME_TIMESTAMP": "1714564800000008", "_SYSTEMD_UNIT": "nginx.service", "MESSAGE": "oops", "PRIORITY": "3"}
        ),
        "",
        ("edge", "", "error", "oops", {}),
    ),
    (
        "cloudwatch",  # the ecs kind's CloudWatch events: the stream is the task
        json.dumps({"timestamp": 1714564800009, "logStreamName": "stable/app/abc", "message": APP}),
        "app-stable",
        ("app-stable", "stable/app/abc", "warning", "slow", {"ms": 812}),
    ),
]


@pytest.mark.parametrize(("form", "line", "service", "want"), LINES)
def test_each_form_of_line_becomes_a_record(form: Any, line: str, service: str, want: tuple[Any, ...]) -> None:
    units = (("refapp-canary@", "app-canary"), ("nginx", "edge"))
    (record,) = records(LogFeed(service, form, line, source="pl-local-edge", units=units))
    got_service, task, level, message, fields = want
    assert (record.service, record.task, record.level, record.message) == (got_service, task, level, message)
    assert fields.items() <= record.fields.items()
    assert "time" not in record.fields and "level" not in record.fields


def test_a_line_without_a_time_and_blank_lines_are_dropped() -> None:
    text = "Error response from daemon: a CLI warning\n\n2024-05-01T12:00:00Z hello\n"
    assert [r.message for r in records(LogFeed("edge", "stamped", text))] == ["hello"]


def test_a_record_shows_its_time_to_the_nanosecond() -> None:
    (record,) = records(LogFeed("db", "stamped", "2024-05-01T12:00:00.000000042Z x"))
    assert record.time == "2024-05-01T12:00:00.000000042Z"
    assert record.as_dict() == {
        "time": "2024-05-01T12:00:00.000000042Z", "service": "db", "task": "", "level": None, "message": "x", "fields": {},
    }  # fmt: skip


def test_lines_out_of_order_across_sources_and_tasks_merge_in_time_order() -> None:
    app = (  # one service's two tasks interleave out of order; ns decide
        '2024-05-01T12:00:03.000000001Z s.1.a@n    | {"message": "a3"}\n'
        '2024-05-01T12:00:01.000000000Z s.2.b@n    | {"message": "b1"}\n'
        '2024-05-01T12:00:03.000000000Z s.2.b@n    | {"message": "b3"}\n'
    )
    db = "2024-05-01T12:00:02Z d2\n2024-05-01T12:00:00Z d0\n"
    access = '{"msec":1714564802.500,"method":"GET","uri":"/","status":200}\n'
    feeds = [LogFeed("app-stable", "service", app), LogFeed("db", "stamped", db), LogFeed("edge", "access", access)]
    assert [r.message for r in merge(feeds)] == ["d0", "b1", "d2", "GET / 200", "b3", "a3"]


def test_lines_of_one_time_keep_their_order() -> None:
    text = "".join(f"2024-05-01T12:00:00Z line{i}\n" for i in range(5))
    assert [r.message for r in records(LogFeed("db", "stamped", text))] == [f"line{i}" for i in range(5)]


def feeds() -> list[LogFeed]:
    app = "".join(
        f'2024-05-01T12:00:0{i}Z t.1.x@n    | {{"level": "{lv}", "message": "m{i}", "path": "/api/notes/{i}"}}\n'
        for i, lv in enumerate(["INFO", "WARNING", "ERROR", "INFO", "CRITICAL"])
    )
    return [LogFeed("app-stable", "service", app), LogFeed("cache", "stamped", "2024-05-01T12:00:02.5Z plain\n")]


@pytest.mark.parametrize(
    ("query", "messages"),
    [
        (LogQuery(), ["m0", "m1", "m2", "plain", "m3", "m4"]),
        (LogQuery(grep=re.compile("notes/3")), ["m3"]),  # a field matches
        (LogQuery(grep=re.compile("^pla")), ["plain"]),  # the message matches
        (LogQuery(level="warning"), ["m1", "m2", "m4"]),  # a line with no level is left out
        (LogQuery(since=(T0 + 2) * NS, until=(T0 + 3) * NS), ["m2", "plain", "m3"]),
        (LogQuery(tail=2), ["m3", "m4"]),
        (LogQuery(level="error", tail=1), ["m4"]),
    ],
)
def test_a_query_keeps_its_records(query: LogQuery, messages: list[str]) -> None:
    assert [r.message for r in select(feeds(), query)] == messages


@pytest.mark.parametrize(
    ("text", "seconds_back"),
    [("10m", 600), ("2h", 7200), ("30s", 30), ("1h30m", 5400), ("1.5s", 1.5), ("1d", 86400), ("250ms", 0.25)],
)
def test_since_takes_durations_back_from_now(text: str, seconds_back: float) -> None:
    assert parse_time(text, "--since", float(T0)) == T0 * NS - int(seconds_back * NS)


def test_since_takes_rfc3339_times() -> None:
    assert parse_time("2024-05-01T12:00:00.5Z", "--since", 0.0) == T0 * NS + NS // 2


BAD_TIMES = ["10", "10x", "m10", "yesterday", "2024-05-01", "2024-05-01T12:00:00", "2024-13-01T00:00:00Z", ""]


@pytest.mark.parametrize("text", BAD_TIMES)
def test_a_bad_since_is_the_users_mistake_naming_the_option(text: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_time(text, "--until", float(T0))
    assert caught.value.message.startswith(f"--until {text!r}:") and caught.value.exit_code == 2
    assert caught.value.hint and "10m" in caught.value.hint


@pytest.mark.parametrize("pattern", ["(", "[a-", "*x", "a{2,1}"])
def test_a_bad_regex_is_the_users_mistake_naming_grep(pattern: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_grep(pattern)
    assert caught.value.message.startswith(f"--grep {pattern!r}: not a regular expression") and caught.value.exit_code == 2
    assert caught.value.hint and "backslash" in caught.value.hint


def test_levels_are_named_one_way() -> None:
    assert [parse_level(w) for w in ("WARN", "warning", "Fatal", "notice")] == ["warning", "warning", "critical", "info"]
    with pytest.raises(UserError, match="--level 'loud'"):
        parse_level("loud")
    assert guess_level("GET /error 200") is None  # a word in a message is no level


@pytest.mark.parametrize(
    ("query", "args", "lines"),
    [
        (LogQuery(tail=100), ["--tail", "100"], 100),
        (LogQuery(since=T0 * NS + 5, tail=50), ["--since", f"{T0}.000000005", "--tail", "50"], 50),
        (LogQuery(tail=100, grep=re.compile("x")), [], 20_000),  # a filter reads each source's whole window
        (LogQuery(tail=100, until=T0 * NS), [], 20_000),  # the last lines before now may all be after --until
        (LogQuery(since=T0 * NS), ["--since", f"{T0}.000000000"], 20_000),
    ],
)
def test_each_source_is_read_for_the_window_the_query_needs(query: LogQuery, args: list[str], lines: int) -> None:
    assert window_args(query) == args
    assert file_lines(query) == lines


def test_a_read_gives_both_streams_or_why_it_failed() -> None:
    both = feed_of(Result(0, "2024-05-01T12:00:01Z out\n", "2024-05-01T12:00:00Z err\n"), "edge", "stamped")
    assert [r.message for r in records(both)] == ["err", "out"]
    failed = feed_of(Result(1, "", "Error response from daemon: No such container: pl-x-edge\n"), "edge", "stamped")
    assert failed.error == "Error response from daemon: No such container: pl-x-edge" and failed.text == ""
