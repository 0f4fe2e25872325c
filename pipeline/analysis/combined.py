"""``canary.metrics: both``: the judge reads the edge's log and Prometheus, and holds them to each other.

The canary is judged on the edge's log (what users saw, connection failures included); Prometheus's
request counts are compared with it per track and per window at every read. Two honest sources
count the same requests; when they do not (beyond :func:`tolerated`), one of them is lying (an
edge that logs less than it serves, a task that answers without being counted, the slots mapped
to the wrong tracks) and no verdict of either is to be trusted: that is a check of its own,
``sources_agree``, which FAILs with both counts in its detail. The controller treats it as it does
a latency failure: acted on at the hold's end, once a fresh window disagrees too, so that one
read caught between two scrapes never rolls a release back. A source that cannot be read is
``unread`` (never a pass).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pipeline.analysis.checks import CheckResult, Verdict
from pipeline.analysis.source import TRACKS, MetricsSource
from pipeline.analysis.window import TrackWindow

MIN_GAP = 5  # requests: the few in flight at each end of a window, logged by one side, not yet by the other
EDGES_OFF = 2  # each end of a window may miss up to one scrape interval's traffic in Prometheus


def tolerated(edge: int, prometheus: int, seconds: float, relative: float, scrape_seconds: float) -> int:
    """The largest difference of two request counts over a window of ``seconds`` that is still agreement:

    ``max(relative * n, EDGES_OFF * n * scrape_seconds / seconds, MIN_GAP)`` with ``n = max(edge, prometheus)``.

    ``increase()`` sees only the samples inside the window: its first scrape may come up to
    ``scrape_seconds`` after the start (and a series born in it, a route's first request on a new
    task, counts only from its first sample), and its end is extrapolated from the last scrape, up
    to ``scrape_seconds`` before it. Each end can be off by a scrape interval's traffic, ``n /
    seconds * scrape_seconds``: two of them. A window shorter than two scrapes can thus never
    disagree (it has too few samples to say anything). ``relative`` (``canary.metrics_tolerance``)
    bounds the rest: extrapolation of a rate that changed, counting at completion vs logging at
    completion. ``MIN_GAP`` keeps a handful of requests from failing a quiet window.
    """
    n = max(edge, prometheus)
    lag = EDGES_OFF * n * scrape_seconds / seconds if seconds > 0 else float(n)
    return int(max(relative * n, lag, MIN_GAP))


@dataclass(frozen=True)
class Gap:
    """One track over one window, counted by both sources."""

    track: str
    start: float
    end: float
    edge: int
    prometheus: int
    allowed: int

    @property
    def apart(self) -> int:
        return abs(self.edge - self.prometheus)

    @property
    def agrees(self) -> bool:
        return self.apart <= self.allowed

    def describe(self) -> str:
        return (
            f"{self.track}: {self.edge} requests in the edge log, {self.prometheus} in Prometheus over "
            f"{self.end - self.start:.0f} s ({self.apart} apart, at most {self.allowed} tolerated)"
        )


def agreement(
    spans: Sequence[tuple[float, float]],
    edge: Sequence[dict[str, TrackWindow]],
    prometheus: Sequence[dict[str, TrackWindow]],
    relative: float,
    scrape_seconds: float,
) -> CheckResult:
    """``sources_agree`` over every window of one read: FAIL naming the widest gap beyond tolerance
    (both counts), else PASS naming the closest call. ``value``: the widest gap's share of its tolerance."""
    gaps = []
    for (start, end), mine, theirs in zip(spans, edge, prometheus, strict=True):
        for track in TRACKS:
            e = mine.get(track, TrackWindow(track)).requests
            p = theirs.get(track, TrackWindow(track)).requests
            gaps.append(Gap(track, start, end, e, p, tolerated(e, p, end - start, relative, scrape_seconds)))
    if not gaps:
        return CheckResult("sources_agree", Verdict.SKIPPED, None, None, "no window was read")
    worst = max(gaps, key=lambda g: (g.apart / g.allowed, g.apart))
    share = round(worst.apart / worst.allowed, 3)
    if not worst.agrees:
        detail = f"the edge log and Prometheus disagree, one of them is lying: {worst.describe()}"
        return CheckResult("sources_agree", Verdict.FAIL, share, 1.0, detail)
    return CheckResult(
        "sources_agree", Verdict.PASS, share, 1.0, f"the edge log and Prometheus agree (closest: {worst.describe()})"
    )


@dataclass(frozen=True)
class Read:
    """One read of both sources (for a bench that judges on each: ``CombinedSource.observe``)."""

    spans: tuple[tuple[float, float], ...]
    edge: list[dict[str, TrackWindow]]
    prometheus: list[dict[str, TrackWindow]]


class CombinedSource:
    """``MetricsSource`` judged on ``edge``, with ``prometheus``'s counts held to it (``findings``).

    ``relative``: ``canary.metrics_tolerance``; ``scrape_seconds``: Prometheus's scrape interval;
    ``observe``: called with every read (a bench's second judge), nothing by default."""

    def __init__(
        self,
        edge: MetricsSource,
        prometheus: MetricsSource,
        relative: float = 0.1,
        scrape_seconds: float = 15.0,
        observe: Callable[[Read], None] | None = None,
    ) -> None:
        self.edge = edge
        self.prometheus = prometheus
        self.relative = relative
        self.scrape_seconds = scrape_seconds
        self.observe = observe
        self._findings: list[CheckResult] = []

    def windows(self, spans: Sequence[tuple[float, float]]) -> list[dict[str, TrackWindow]]:
        """Both sources read for the same spans; the edge's windows are returned (and judged)."""
        mine = self.edge.windows(spans)
        theirs = self.prometheus.windows(spans)
        unread = self.edge.unread() or self.prometheus.unread()
        self._findings = [] if unread else [agreement(spans, mine, theirs, self.relative, self.scrape_seconds)]
        if self.observe is not None:
            self.observe(Read(tuple(spans), mine, theirs))
        return mine

    def window(self, start: float, end: float) -> dict[str, TrackWindow]:
        return self.windows([(start, end)])[0]

    def served(self, start: float, end: float) -> dict[str, dict[str, int]] | None:
        """Who served, from the edge's log (it also sees requests no upstream answered)."""
        return self.edge.served(start, end)

    def unread(self) -> list[str]:
        """Either source unread: agreement cannot be shown, so nothing passes."""
        return self.edge.unread() + self.prometheus.unread()

    def findings(self) -> list[CheckResult]:
        """``sources_agree`` of the last read (none when a source was unread: ``unread`` says so)."""
        return list(self._findings)
