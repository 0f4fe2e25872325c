"""Judge agreement (``bench-judge --metrics both``): would Prometheus have judged every release as
the edge's log did?

With ``canary.metrics: both`` the controller judges on the edge's log and reads Prometheus for
the same spans at every tick (``CombinedSource``). :class:`SecondJudge` watches those reads and
judges each one twice, with the same checks on each source's windows: a step's metric checks
(``analyse`` over the step's window, ``route_errors`` and ``route_latency`` over the walk) and the
bake's (the new stable's absolute limits). Readiness and the edge log's reachability are no
source's verdict and are left out. A release's verdicts are taken where the controller decided
(its ``verdict`` events, and the bake that passed): the read of that tick. The two sources agree
on a release when every one of those verdicts is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.analysis.checks import Verdict, absolute, analyse, overall
from pipeline.analysis.combined import CombinedSource, Read
from pipeline.analysis.routes import route_errors, route_latency
from pipeline.analysis.source import MetricsSource
from pipeline.analysis.window import TrackWindow
from pipeline.environment.model import Canary

SOURCES = ("edge", "prometheus")


def step_verdict(windows: Sequence[dict[str, TrackWindow]], policy: Canary, against: str) -> Verdict | None:
    """A step's metric checks on one source's windows of a walk's read (step, walk[, since a burst])."""
    if len(windows) < 2:
        return None
    step, walk, slow = windows[0], windows[1], windows[-1]
    t = policy.thresholds
    results = analyse(step["canary"], step[against], t, against)
    results.append(route_errors(walk["canary"], walk[against], t, against))
    results.append(route_latency(slow["canary"], slow[against], t, against))
    return overall(results)


def bake_verdict(windows: Sequence[dict[str, TrackWindow]], policy: Canary, against: str) -> Verdict | None:
    """The bake's metric checks on one source's windows of a read: the new stable's absolute limits."""
    if not windows:
        return None
    return overall(absolute(windows[0]["stable"], TrackWindow("none"), policy.thresholds, against))


@dataclass
class Judged:
    """One read, judged on each source as a step's and as the bake's would be."""

    at: float
    step: dict[str, Verdict | None]
    bake: dict[str, Verdict | None]


@dataclass
class SecondJudge:
    """``CombinedSource.observe``: every read judged on both sources (``policy``, against ``against``)."""

    policy: Canary
    against: str
    reads: list[Judged] = field(default_factory=list)

    def __call__(self, read: Read) -> None:
        at = max((end for _start, end in read.spans), default=0.0)
        sources = dict(zip(SOURCES, (read.edge, read.prometheus), strict=True))
        self.reads.append(
            Judged(
                at,
                {name: step_verdict(w, self.policy, self.against) for name, w in sources.items()},
                {name: bake_verdict(w, self.policy, self.against) for name, w in sources.items()},
            )
        )

    def watch(self, source: MetricsSource) -> None:
        """``Release.on_source``: judge every read of a ``both`` source (any other is left alone)."""
        if isinstance(source, CombinedSource):
            source.observe = self

    def verdicts(self, timeline: Sequence[tuple[float, str, dict[str, Any]]]) -> dict[str, list[str]]:
        """Each source's verdict at every decision of the run, in order (``-``: no read to judge)."""
        out: dict[str, list[str]] = {name: [] for name in SOURCES}
        for t, kind, data in timeline:
            if kind not in ("verdict", "bake"):
                continue
            judged = [r for r in self.reads if r.at <= t]
            if not judged:
                continue
            bake = kind == "bake" or data.get("step") == "bake"
            pick = judged[-1].bake if bake else judged[-1].step
            for name in SOURCES:
                verdict = pick[name]
                out[name].append(f"{'bake' if bake else data.get('step')}:{verdict.value if verdict else '-'}")
        return out


def agreement(runs: Sequence[dict[str, list[str]]]) -> tuple[int, int]:
    """Releases whose edge and Prometheus verdicts are the same at every decision, of those judged."""
    judged = [r for r in runs if r.get("edge")]
    return sum(1 for r in judged if r["edge"] == r["prometheus"]), len(judged)
