"""``canary.metrics: prometheus | both``: the judge's sources built from an environment whose stack
runs Prometheus (``observability.enabled``; the model refuses the key elsewhere).

Prometheus's API is read at ``http://127.0.0.1:<observability.port>`` (where the local kind
publishes it); a series' track is the one its slot serves now, as the target's edge routes it
(``slots()``, asked at every read: a promotion swaps them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from pipeline.analysis.combined import CombinedSource
from pipeline.analysis.prometheus import PROBE_ROUTES, PrometheusSource

if TYPE_CHECKING:
    from pipeline.analysis.source import MetricsSource
    from pipeline.edge import Slots
    from pipeline.environment import Environment
    from pipeline.targets.base import Target


class SlottedTarget(Protocol):
    """A target whose app tracks run in slots (the local kind: ``<stack>-app-<slot>``)."""

    def slots(self) -> Slots: ...


def prometheus_url(env: Environment) -> str:
    return f"http://127.0.0.1:{env.observability.port}"


def prometheus_source(env: Environment, target: Target) -> PrometheusSource:
    """The app's metrics in the environment's Prometheus, by the track each slot serves now."""
    slotted = cast("SlottedTarget", target)
    probes = (*PROBE_ROUTES, env.app.readiness_path)
    return PrometheusSource(
        prometheus_url(env),
        lambda slot: slotted.slots().track_of(slot),
        scrape_seconds=env.observability.scrape_seconds,
        probe_routes=probes,
    )


def judged_on(env: Environment, target: Target, edge: MetricsSource) -> MetricsSource:
    """``canary.metrics``'s source: Prometheus alone, or the edge's log held to it (``both``)."""
    prometheus = prometheus_source(env, target)
    if env.canary.metrics == "prometheus":
        return prometheus
    return CombinedSource(edge, prometheus, env.canary.metrics_tolerance, env.observability.scrape_seconds)
