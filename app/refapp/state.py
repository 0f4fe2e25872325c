"""Process-wide lifecycle state shared by the server and the request handlers."""

from __future__ import annotations

import threading
import time


class DrainState:
    """Whether this process is draining (shutting down after a SIGTERM).

    While draining, /readyz answers 503 so the edge stops routing new requests
    here, but every other endpoint keeps serving.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None

    @property
    def is_draining(self) -> bool:
        """True once :meth:`start` has been called (until :meth:`reset`)."""
        return self._since is not None

    @property
    def since(self) -> float | None:
        """``time.monotonic()`` when draining began, or None."""
        return self._since

    def start(self) -> bool:
        """Begin draining; return False if it had already begun."""
        with self._lock:
            if self._since is not None:
                return False
            self._since = time.monotonic()
            return True

    def reset(self) -> None:
        """Forget the draining state (used by tests)."""
        with self._lock:
            self._since = None


#: The single drain state of this process.
DRAIN = DrainState()


class Uptime:
    """How long this process has run: the clock of ``FAULT_AFTER_SECONDS``.

    It starts when the module is first imported, which ``refapp.serve`` does
    before Django is set up, so it counts from the process's start.
    """

    def __init__(self) -> None:
        self.started = time.monotonic()

    def seconds(self) -> float:
        """Seconds since the process started."""
        return time.monotonic() - self.started

    def restart(self, seconds_ago: float = 0.0) -> None:
        """Start counting again, as if the process had started ``seconds_ago`` (used by tests)."""
        self.started = time.monotonic() - seconds_ago


#: The uptime of this process.
UPTIME = Uptime()
