"""Where windows come from: the :class:`MetricsSource` interface and its edge-access-log implementation."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Protocol

from pipeline.analysis.records import Record, parse_line
from pipeline.analysis.window import TrackWindow, summarize

if TYPE_CHECKING:
    from pipeline.analysis.checks import CheckResult

TRACKS = ("stable", "canary", "baseline")


class MetricsSource(Protocol):
    """Anything that can summarise a time window per track."""

    def window(self, start: float, end: float) -> dict[str, TrackWindow]:
        """Windows of ``start <= ts < end`` keyed "stable", "canary" and "baseline" (always present, empty without traffic)."""
        ...

    def windows(self, spans: Sequence[tuple[float, float]]) -> list[dict[str, TrackWindow]]:
        """:meth:`window` for each ``(start, end)`` of ``spans``, from one read of the source."""
        ...

    def served(self, start: float, end: float) -> dict[str, dict[str, int]] | None:
        """Requests that arrived in ``start <= t < end``, counted per track and per version that answered
        (``""``: no upstream answered); None when this source cannot tell versions apart."""
        ...

    def unread(self) -> list[str]:
        """The logs the last read could not reach (an edge replica whose node does not answer): what
        they served is unseen, so a window is never judged without them (empty: all were read).
        ``"prometheus"`` names a Prometheus that did not answer (``pipeline.analysis.prometheus``)."""
        ...

    def findings(self) -> list[CheckResult]:
        """Checks of the source itself from its last read, judged beside the canary's (``both``'s
        ``sources_agree``: ``pipeline.analysis.combined``); empty for a single source."""
        ...


def _served(records: Iterable[Record], start: float, end: float) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for record in records:
        if start <= record.started < end:
            per_track = counts.setdefault(record.track, {})
            per_track[record.version] = per_track.get(record.version, 0) + 1
    return counts


class LogTruncated(Exception):
    """Raised by a ``read`` function when the log is now shorter than the offset asked for (rotated or truncated)."""


class LogUnreadable(Exception):
    """Raised by a ``read`` function when the log cannot be reached now (not: it has nothing new)."""


def _windows(records: Iterable[Record], start: float, end: float) -> dict[str, TrackWindow]:
    pool = list(records)
    return {track: summarize(pool, track, start, end) for track in TRACKS}


def _ts(record: Record) -> float:
    return record.ts


class EdgeLogSource:
    """Follows the edge's JSON access log incrementally.

    ``read(offset)`` returns the log's bytes from ``offset`` to its current end, and raises
    :class:`LogTruncated` when the file is shorter than ``offset``; reading then restarts at 0
    (records already parsed are kept). An incomplete last line is buffered until its newline
    arrives. Only records within ``keep_seconds`` of the newest one are kept.
    """

    MAX_PARTIAL = 1 << 20  # a "line" longer than this without a newline is garbage: dropped

    def __init__(self, read: Callable[[int], bytes], keep_seconds: float = 900.0, offset: int = 0) -> None:
        if keep_seconds <= 0:
            raise ValueError("keep_seconds must be positive")
        self._read = read
        self.keep_seconds = keep_seconds
        self.offset = offset
        self._partial = b""
        self._records: list[Record] = []  # sorted by ts
        self._unread = False  # the last read could not reach the log

    @property
    def records(self) -> tuple[Record, ...]:
        """The records currently kept, oldest first."""
        return tuple(self._records)

    def pull(self) -> int:
        """Read and parse whatever the log gained since the last pull; returns the number of new records."""
        try:
            try:
                data = self._read(self.offset)
            except LogTruncated:
                self.offset = 0
                self._partial = b""
                data = self._read(0)
        except LogUnreadable:
            self._unread = True
            return 0
        self._unread = False
        self.offset += len(data)
        if not data:
            return 0
        chunk = self._partial + data
        *lines, self._partial = chunk.split(b"\n")
        if len(self._partial) > self.MAX_PARTIAL:
            self._partial = b""
        new = [r for r in (parse_line(line.decode("utf-8", errors="replace")) for line in lines) if r is not None]
        self._add(new)
        return len(new)

    def _add(self, new: list[Record]) -> None:
        if not new:
            return
        needs_sort = bool(self._records) and new[0].ts < self._records[-1].ts
        needs_sort = needs_sort or any(b.ts < a.ts for a, b in pairwise(new))
        self._records.extend(new)
        if needs_sort:
            self._records.sort(key=_ts)  # stable and near-linear: the log is almost in order
        cutoff = self._records[-1].ts - self.keep_seconds
        drop = bisect_left(self._records, cutoff, key=_ts)
        if drop:
            del self._records[:drop]

    def window(self, start: float, end: float) -> dict[str, TrackWindow]:
        """Pull new log lines, then summarise ``start <= ts < end`` per track."""
        self.pull()
        return self._summary(start, end)

    def windows(self, spans: Sequence[tuple[float, float]]) -> list[dict[str, TrackWindow]]:
        """One pull, then each span summarised (the step's window and the walk's, say)."""
        self.pull()
        return [self._summary(start, end) for start, end in spans]

    def _summary(self, start: float, end: float) -> dict[str, TrackWindow]:
        lo = bisect_left(self._records, start, key=_ts)
        hi = bisect_left(self._records, end, key=_ts) if math.isfinite(end) else len(self._records)
        return _windows(self._records[lo:hi], start, end)

    def unread(self) -> list[str]:
        return ["edge"] if self._unread else []

    def findings(self) -> list[CheckResult]:
        return []

    def since(self, start: float) -> dict[str, TrackWindow]:
        """The window from ``start`` to now (everything logged so far)."""
        return self.window(start, math.inf)

    def served(self, start: float, end: float) -> dict[str, dict[str, int]]:
        """Pull new log lines, then count the requests that arrived in ``start <= t < end`` by track and version."""
        self.pull()
        # a request is logged when it completes: look a little past ``end`` for slow ones that arrived before it
        lo = bisect_left(self._records, start, key=_ts)
        return _served(self._records[lo:], start, end)


class EdgeLogsSource(EdgeLogSource):
    """The access logs of several edge replicas (a swarm's edge nodes), read as one: each log is
    followed from its own offset (its own partial line, its own truncation), and the records of all
    of them are kept in one list in time order. ``heard`` says when each edge last logged a request:
    an edge that serves traffic and falls silent is a finding of its own, never a pass."""

    def __init__(
        self, reads: dict[str, Callable[[int], bytes]], keep_seconds: float = 900.0, offsets: dict[str, int] | None = None
    ) -> None:
        super().__init__(lambda _offset: b"", keep_seconds)
        self._streams = {name: EdgeLogSource(read, keep_seconds, (offsets or {}).get(name, 0)) for name, read in reads.items()}
        self.heard: dict[str, float | None] = dict.fromkeys(reads)
        self._missing: set[str] = set()

    def unread(self) -> list[str]:
        """The edge replicas whose log the last read could not reach."""
        return sorted(self._missing)

    def pull(self) -> int:
        new: list[Record] = []
        for name, stream in self._streams.items():
            stream.pull()
            added, stream._records = stream._records, []  # kept once, here
            if stream.unread():
                self._missing.add(name)
            else:
                self._missing.discard(name)
            if added:
                self.heard[name] = max(r.ts for r in added)
            new.extend(added)
        new.sort(key=_ts)
        self._add(new)
        return len(new)


class StaticSource:
    """A fixed list of records (for tests, and for users' own tests of a controller)."""

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self.records: list[Record] = list(records)

    def add(self, records: Iterable[Record]) -> None:
        self.records.extend(records)

    def window(self, start: float, end: float) -> dict[str, TrackWindow]:
        """Summarise ``start <= ts < end`` per track."""
        return _windows(self.records, start, end)

    def windows(self, spans: Sequence[tuple[float, float]]) -> list[dict[str, TrackWindow]]:
        return [self.window(start, end) for start, end in spans]

    def served(self, start: float, end: float) -> dict[str, dict[str, int]]:
        return _served(self.records, start, end)

    def unread(self) -> list[str]:
        return []

    def findings(self) -> list[CheckResult]:
        return []
