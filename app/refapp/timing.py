"""Per-request timing of backing-service calls, rendered as a ``Server-Timing`` header."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[RequestTimings | None] = ContextVar("refapp_timings", default=None)


class RequestTimings:
    """Accumulated seconds per metric name (``db``, ``cache``, ...) for one request.

    The object is mutable on purpose: code running in ``sync_to_async`` threads
    sees a copy of the context, but the same object, so its additions count.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to the total for ``name``."""
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def header(self, app_seconds: float) -> str:
        """Render ``app;dur=<ms>, db;dur=<ms>, ...`` (durations in milliseconds)."""
        parts = [f"app;dur={app_seconds * 1000:.1f}"]
        parts += [f"{name};dur={secs * 1000:.1f}" for name, secs in self.seconds.items()]
        return ", ".join(parts)


def begin_request() -> RequestTimings:
    """Start collecting timings for the request running in the current context."""
    timings = RequestTimings()
    _current.set(timings)
    return timings


def current() -> RequestTimings | None:
    """The timings of the current request, if any."""
    return _current.get()


@contextmanager
def timed(name: str) -> Iterator[None]:
    """Time the enclosed block (which may ``await``) under ``name``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings = _current.get()
        if timings is not None:
            timings.add(name, time.perf_counter() - start)
