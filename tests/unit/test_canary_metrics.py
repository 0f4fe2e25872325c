"""canary.metrics: which source the judge reads, as built for an environment (no daemon)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pipeline.analysis.combined import CombinedSource
from pipeline.analysis.prometheus import PrometheusSource
from pipeline.analysis.source import EdgeLogSource
from pipeline.edge import Slots
from pipeline.environment import Environment, load_environment
from pipeline.targets import metrics_source

ROOT = Path(__file__).resolve().parents[2]


class SlottedTarget:
    """What ``metrics_source`` asks of a local target: its log and its slots."""

    def __init__(self) -> None:
        self.pair = Slots("blue", "green")

    def log_reader(self) -> Callable[[int], bytes]:
        return lambda _offset: b""

    def log_size(self) -> int:
        return 0

    def slots(self) -> Slots:
        return self.pair


def ci(metrics: str) -> Environment:
    env = load_environment(ROOT, "ci")
    return env.model_copy(update={"canary": env.canary.model_copy(update={"metrics": metrics, "metrics_tolerance": 0.2})})


def test_edge_is_the_default_and_reads_the_edge_log() -> None:
    assert load_environment(ROOT, "ci").canary.metrics == "edge"
    assert type(metrics_source(ci("edge"), SlottedTarget())) is EdgeLogSource  # type: ignore[arg-type]


def test_prometheus_reads_the_environments_port_on_loopback_by_the_slots_tracks_now() -> None:
    target = SlottedTarget()
    source = metrics_source(ci("prometheus"), target)  # type: ignore[arg-type]
    assert isinstance(source, PrometheusSource)
    assert source.url == "http://127.0.0.1:19090" and source.scrape_seconds == 5
    assert source.track_of("blue") == "stable" and source.track_of("green") == "canary"
    target.pair = target.pair.swapped()  # a promotion: asked afresh at every read
    assert source.track_of("blue") == "canary"
    assert "/readyz" in source.selector  # the app's readiness path (probed directly, not through the edge) is left out


def test_both_judges_on_the_edge_log_held_to_prometheus_with_the_tolerance() -> None:
    source = metrics_source(ci("both"), SlottedTarget())  # type: ignore[arg-type]
    assert isinstance(source, CombinedSource)
    assert isinstance(source.edge, EdgeLogSource) and isinstance(source.prometheus, PrometheusSource)
    assert source.relative == 0.2 and source.scrape_seconds == 5


@pytest.mark.parametrize("metrics", ["prometheus", "both"])
def test_an_environment_with_prometheus_accepts_it(tmp_path: Path, metrics: str) -> None:
    data = yaml.safe_load((ROOT / "environments" / "ci" / "env.yaml").read_text())
    data["canary"]["metrics"] = metrics
    path = tmp_path / "environments" / "ok" / "env.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(data))
    assert load_environment(tmp_path, "ok").canary.metrics == metrics
