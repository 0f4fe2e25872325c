"""Readiness probes for the controller's loop, asked now and answered later.

A probe asks every task of some tracks for the app's readiness path: on the local kind one
exec into the edge that asks each task in turn, a few tenths of a second, more on a busy host.
In the loop that watches a step or the bake, that time would be spent before the next read of
the edge log, and an operator's rollback is seen in that read: ``BackgroundProbes`` runs the
probe on a worker thread and the loop takes its answer on a later tick, without waiting.
``InlineProbes`` answers at once (the controller's unit tests, with their fake clock).

Probes only read; nothing the worker does changes the target.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from pipeline.targets.base import TaskReadiness

Readiness = Callable[[tuple[str, ...]], list[TaskReadiness]]


@dataclass(frozen=True)
class Answer:
    """What the tasks of ``tracks`` answered to a probe asked at ``asked`` (the controller's clock)."""

    tracks: tuple[str, ...]
    asked: float
    probes: list[TaskReadiness]


class Probes(Protocol):
    def ask(self, tracks: tuple[str, ...], now: float) -> None:
        """Start a probe of ``tracks`` unless one is still out."""
        ...

    def answered(self) -> Answer | None:
        """The probe that came back since the last call (each answer once), else None; never waits.
        A probe that failed raises its error here."""
        ...

    @property
    def out(self) -> bool:
        """A probe is asked and not answered yet."""
        ...

    def close(self) -> None: ...


class InlineProbes:
    """Asks and answers in the same call: the loop waits for every probe (fake clocks, tests)."""

    def __init__(self, readiness: Readiness) -> None:
        self.readiness = readiness
        self._answer: Answer | None = None

    def ask(self, tracks: tuple[str, ...], now: float) -> None:
        if self._answer is None:
            self._answer = Answer(tracks, now, self.readiness(tracks))

    def answered(self) -> Answer | None:
        answer, self._answer = self._answer, None
        return answer

    @property
    def out(self) -> bool:
        return False

    def close(self) -> None:
        self._answer = None


class BackgroundProbes:
    """One worker thread; at most one probe out at a time."""

    def __init__(self, readiness: Readiness) -> None:
        self.readiness = readiness
        self._pool: ThreadPoolExecutor | None = None
        self._out: tuple[tuple[str, ...], float, Future[list[TaskReadiness]]] | None = None

    def ask(self, tracks: tuple[str, ...], now: float) -> None:
        if self._out is not None:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")
        self._out = (tracks, now, self._pool.submit(self.readiness, tracks))

    def answered(self) -> Answer | None:
        if self._out is None or not self._out[2].done():
            return None
        (tracks, asked, future), self._out = self._out, None
        return Answer(tracks, asked, future.result())

    @property
    def out(self) -> bool:
        return self._out is not None and not self._out[2].done()

    def close(self) -> None:
        """Forget what is out (a probe only reads: the worker finishes it and stops)."""
        self._out = None
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
