from __future__ import annotations

import pytest

from pipeline import poll
from pipeline.errors import NotReady


def test_returns_the_first_answer() -> None:
    answers = iter([None, None, "ready"])
    assert poll.until(lambda: next(answers), 5, lambda: NotReady("late"), delay=0.001) == "ready"


def test_raises_the_timeout_error_at_the_deadline() -> None:
    calls = []

    def never() -> None:
        calls.append(1)

    with pytest.raises(NotReady, match="late"):
        poll.until(never, 0.05, lambda: NotReady("late"), delay=0.01, max_delay=0.02)
    assert len(calls) >= 2


def test_a_check_may_stop_early() -> None:
    def broken() -> None:
        raise NotReady("tasks keep failing")

    with pytest.raises(NotReady, match="keep failing"):
        poll.until(broken, 60, lambda: NotReady("late"))
