"""Poll with a deadline and backoff: the one waiting loop of the pipeline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def until(
    check: Callable[[], T | None],
    timeout: float,
    on_timeout: Callable[[], Exception],
    delay: float = 0.5,
    factor: float = 1.5,
    max_delay: float = 3.0,
) -> T:
    """Call ``check`` until it returns something other than None; raise ``on_timeout()`` at the deadline.

    ``check`` may raise to stop early (a failure that waiting will not cure).
    """
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise on_timeout()
        time.sleep(delay)
        delay = min(delay * factor, max_delay)
