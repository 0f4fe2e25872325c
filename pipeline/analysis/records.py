"""One access-log line of the edge, as a typed record (see ``pipeline.edge.LOG_FORMAT``)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

#: A path segment that names one thing rather than a route: a number, a UUID, a long hex or
#: base64-ish token. ``/api/notes/42`` and ``/api/notes/43`` are one route, ``/api/notes/{id}``.
_ID_SEGMENT = re.compile(
    r"\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{12,}|[A-Za-z0-9_-]{24,}"
)


def route_of(method: str, uri: str) -> str:
    """The route a request belongs to: its method and its path with identifying segments as
    ``{id}`` (the query string is not part of it), e.g. ``GET /api/notes/{id}``."""
    path = uri.split("?", 1)[0] or "/"
    segments = ["{id}" if _ID_SEGMENT.fullmatch(s) else s for s in path.split("/")]
    return f"{method.upper() or 'GET'} {'/'.join(segments)}"


@dataclass(frozen=True)
class Record:
    """One request the edge proxied.

    ``ts`` is the epoch second the request was logged (nginx ``$msec``, i.e. when it completed),
    ``latency_ms`` is nginx ``$request_time`` in milliseconds.
    """

    ts: float
    track: str
    status: int
    latency_ms: float
    uri: str = ""
    version: str = ""  # the X-App-Version the upstream answered with ("" when none answered)
    method: str = ""

    @property
    def route(self) -> str:
        """Method and path template (see :func:`route_of`)."""
        return route_of(self.method, self.uri)

    @property
    def started(self) -> float:
        """When the request arrived at the edge (it is logged when it completes)."""
        return self.ts - self.latency_ms / 1000.0

    @property
    def failed(self) -> bool:
        """A server-side failure: any 5xx, which includes the edge's 502/504 for an unreachable upstream."""
        return self.status >= 500


def _number(value: object) -> float | None:
    """A finite float from a JSON number or numeric string, else None (bools are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def _status(value: object) -> int | None:
    """An HTTP status (100-999) from a JSON number or numeric string, else None."""
    number = _number(value)
    if number is None or not number.is_integer():
        return None
    status = int(number)
    return status if 100 <= status <= 999 else None


def parse_line(line: str) -> Record | None:
    """Parse one JSON log line; None for a blank, garbled, partial or incomplete line. Never raises."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    ts = _number(obj.get("msec"))
    status = _status(obj.get("status"))
    seconds = _number(obj.get("request_time"))
    track = obj.get("track")
    if ts is None or status is None or seconds is None or seconds < 0 or not isinstance(track, str) or not track:
        return None
    uri = obj.get("uri")
    version = obj.get("version")
    method = obj.get("method")
    return Record(
        ts=ts,
        track=track,
        status=status,
        latency_ms=seconds * 1000.0,
        uri=uri if isinstance(uri, str) else "",
        version=version if isinstance(version, str) else "",
        method=method if isinstance(method, str) and method.isalpha() and len(method) <= 16 else "",
    )


def parse_lines(text: str) -> list[Record]:
    """Parse every line of ``text``, skipping the ones :func:`parse_line` rejects."""
    records: list[Record] = []
    for line in text.splitlines():
        record = parse_line(line)
        if record is not None:
            records.append(record)
    return records
