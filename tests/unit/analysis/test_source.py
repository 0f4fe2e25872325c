from __future__ import annotations

import json

import pytest

from pipeline.analysis.records import Record
from pipeline.analysis.source import EdgeLogSource, LogTruncated, MetricsSource, StaticSource
from pipeline.analysis.window import TrackWindow


def line(ts: float, track: str = "canary", status: int = 200, seconds: float = 0.01) -> bytes:
    obj = {"msec": ts, "track": track, "uri": "/", "status": status, "upstream_status": "-", "request_time": seconds}
    return (json.dumps(obj) + "\n").encode()


class FakeLog:
    """An access log file: ``read`` behaves like `tail -c +N` plus the caller's truncation check."""

    def __init__(self) -> None:
        self.data = b""
        self.reads: list[int] = []

    def append(self, chunk: bytes) -> None:
        self.data += chunk

    def read(self, offset: int) -> bytes:
        self.reads.append(offset)
        if offset > len(self.data):
            raise LogTruncated(f"log is {len(self.data)} bytes, offset {offset}")
        return self.data[offset:]


def test_partial_lines_are_buffered_across_reads() -> None:
    log = FakeLog()
    source = EdgeLogSource(log.read)
    first, second = line(100.0), line(101.0, status=502, seconds=3.0)
    log.append(first + second[:25])
    assert source.pull() == 1
    assert source.offset == len(log.data)
    log.append(second[25:-1])  # still no newline
    assert source.pull() == 0
    log.append(b"\n")
    assert source.pull() == 1
    assert [(r.ts, r.status) for r in source.records] == [(100.0, 200), (101.0, 502)]
    assert log.reads == [0, len(first) + 25, len(first + second) - 1]


def test_garbage_lines_are_skipped() -> None:
    log = FakeLog()
    log.append(b"\n\xff\xfe garbage\n" + line(100.0) + b'{"msec": 1\n')
    source = EdgeLogSource(log.read)
    assert source.pull() == 1


def test_truncation_restarts_at_zero_and_keeps_old_records() -> None:
    log = FakeLog()
    source = EdgeLogSource(log.read)
    log.append(line(100.0) + line(101.0) + line(102.0)[:10])
    assert source.pull() == 2
    log.data = line(103.0, track="stable")  # rotated: a new, shorter file
    assert source.pull() == 1
    assert log.reads[-2:] == [len(line(100.0) + line(101.0)) + 10, 0]
    assert source.offset == len(log.data)
    assert [r.ts for r in source.records] == [100.0, 101.0, 103.0]  # the stale partial line was dropped


def test_horizon_pruning_relative_to_newest() -> None:
    log = FakeLog()
    source = EdgeLogSource(log.read, keep_seconds=60.0)
    log.append(b"".join(line(ts) for ts in (0.0, 30.0, 59.0)))
    source.pull()
    assert len(source.records) == 3
    log.append(line(100.0) + line(95.0))  # slightly out of order, as nginx workers may write
    source.pull()
    assert [r.ts for r in source.records] == [59.0, 95.0, 100.0]  # older than 100 - 60 = 40 are gone


def test_window_pulls_then_summarizes_both_tracks() -> None:
    log = FakeLog()
    source = EdgeLogSource(log.read)
    empty = source.window(0.0, 1e12)
    assert empty == {"stable": TrackWindow("stable"), "canary": TrackWindow("canary"), "baseline": TrackWindow("baseline")}
    log.append(line(10.0) + line(11.0, status=504, seconds=60.0) + line(12.0, "stable", seconds=0.02) + line(20.0))
    windows = source.window(10.0, 20.0)
    assert windows["canary"] == TrackWindow("canary", requests=2, errors=1, latencies_ms=(10.0,))
    assert windows["stable"] == TrackWindow("stable", requests=1, errors=0, latencies_ms=(20.0,))
    assert source.since(12.0)["canary"].requests == 1  # only ts 20.0


def test_start_offset_skips_history() -> None:
    log = FakeLog()
    log.append(line(1.0) + line(2.0))
    source = EdgeLogSource(log.read, offset=len(log.data))
    log.append(line(3.0))
    assert source.since(0.0)["canary"].requests == 1


def test_keep_seconds_must_be_positive() -> None:
    with pytest.raises(ValueError):
        EdgeLogSource(FakeLog().read, keep_seconds=0)


def test_static_source() -> None:
    source = StaticSource([Record(ts=1.0, track="canary", status=200, latency_ms=5.0)])
    source.add(
        [Record(ts=2.0, track="stable", status=500, latency_ms=1.0), Record(ts=9.0, track="canary", status=200, latency_ms=7.0)]
    )
    windows = source.window(0.0, 5.0)
    assert windows == {
        "stable": TrackWindow("stable", requests=1, errors=1),
        "canary": TrackWindow("canary", requests=1, errors=0, latencies_ms=(5.0,)),
        "baseline": TrackWindow("baseline"),
    }


def test_sources_satisfy_the_protocol() -> None:
    sources: list[MetricsSource] = [StaticSource(), EdgeLogSource(FakeLog().read)]
    for source in sources:
        assert set(source.window(0.0, 1.0)) == {"stable", "canary", "baseline"}


# --- several edge replicas read as one (the swarm kind) ----------------------------------------------


def _edge_line(ts: float, track: str) -> str:
    return json.dumps(
        {"msec": ts, "track": track, "method": "GET", "uri": "/", "status": 200, "request_time": 0.01,
         "upstream_response_time": "0.01", "version": "v1"}
    )  # fmt: skip


def test_the_logs_of_several_edges_merge_in_time_order_each_from_its_own_offset() -> None:
    from pipeline.analysis.source import EdgeLogsSource

    logs = {
        "w1": (_edge_line(100.0, "stable") + "\n" + _edge_line(102.0, "canary") + "\n").encode(),
        "w2": (_edge_line(101.0, "stable") + "\n" + _edge_line(103.0, "canary")).encode(),  # a partial last line
        "w3": b"old\n",
    }
    source = EdgeLogsSource({n: (lambda off, n=n: logs[n][off:]) for n in logs}, offsets={"w3": 4})
    assert source.pull() == 3
    assert [r.ts for r in source.records] == [100.0, 101.0, 102.0]
    assert source.heard == {"w1": 102.0, "w2": 101.0, "w3": None}  # w3 logged nothing since its offset
    logs["w2"] += b"\n"
    assert source.pull() == 1 and [r.ts for r in source.records][-1] == 103.0
    window = source.window(100.0, 104.0)
    assert window["canary"].requests == 2 and window["stable"].requests == 2


def test_an_edge_whose_log_cannot_be_read_is_named_not_taken_for_silence() -> None:
    from pipeline.analysis.source import EdgeLogSource, EdgeLogsSource, LogUnreadable

    down = {"w2": True}

    def w2(offset: int) -> bytes:
        if down["w2"]:
            raise LogUnreadable("w2: ssh: connect to host 127.0.0.1 port 22113: Connection refused")
        return (_edge_line(105.0, "canary") + "\n").encode()[offset:]

    source = EdgeLogsSource({"w1": lambda off: (_edge_line(104.0, "stable") + "\n").encode()[off:], "w2": w2})
    assert source.pull() == 1 and source.unread() == ["w2"]
    down["w2"] = False
    assert source.pull() == 1 and source.unread() == []
    single = EdgeLogSource(lambda _off: (_ for _ in ()).throw(LogUnreadable("edge")))
    assert single.pull() == 0 and single.unread() == ["edge"]
