"""A whole release on the ecs target, as `pipeline deploy` runs it (lock, journal, controller on
the wall clock), with users writing the ALB's metrics into moto's CloudWatch as the weights move."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.canary.controller import Outcome
from pipeline.canary.run import Release
from pipeline.commands.aws import Boto3Executor
from pipeline.edge import Weights
from pipeline.environment.model import Environment
from pipeline.project import Project
from pipeline.records.journal import Journal
from pipeline.targets.ecs import EcsTarget
from tests.integration.conftest import ACCOUNT, REGION, World, make_world

pytestmark = pytest.mark.integration


class Users(threading.Thread):
    """Bounded background traffic model: 400 requests/s split by the listener's weights, for at most 60 s."""

    def __init__(self, target: EcsTarget, world: World) -> None:
        super().__init__(daemon=True)
        self.target, self.cloudwatch = target, world.client("cloudwatch")
        self.stop = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 60
        lb = self.target.arn("lb").split("loadbalancer/")[1]
        groups = {t: self.target.arn(f"tg-{t}").split(":")[-1] for t in ("stable", "canary")}
        while not self.stop.is_set() and time.monotonic() < deadline:
            weights = self.target.weights() or Weights(0)
            stamp = datetime.fromtimestamp(time.time(), UTC)
            data = []
            for track, share in (("stable", weights.stable), ("canary", weights.canary)):
                requests = 100 * share // 100  # per quarter second
                if requests:
                    dims = [{"Name": "LoadBalancer", "Value": lb}, {"Name": "TargetGroup", "Value": groups[track]}]
                    data += [
                        {"MetricName": "RequestCount", "Dimensions": dims, "Timestamp": stamp, "Value": requests},
                        {"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": dims, "Timestamp": stamp, "Value": 0},
                        {"MetricName": "TargetResponseTime", "Dimensions": dims, "Timestamp": stamp, "Value": 0.02},
                    ]
            if data:
                self.cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)
            self.stop.wait(0.25)


def test_pipeline_release_promotes_on_ecs(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(moto_url, "pl-moto-rel")
    env = Environment.model_validate(
        {
            "name": "moto-rel",
            "target": {"kind": "ecs", "stack": "pl-moto-rel"},
            "tracks": {"stable": {"replicas": 1}, "canary": {"replicas": 1}},
            "ecs": {"region": REGION, "account_id": ACCOUNT, "listener_port": 8443, "ecr_repository": "pl-moto-rel"},
            "canary": {
                "steps": [25, 100],
                "compare_with": "stable",
                "step_seconds": 1,
                "bake_seconds": 1,
                "thresholds": {"min_requests": 20},
            },
        }
        | {"image": {"registry": "registry.example"}}
    )
    env = env.model_copy(update={"ecs": env.ecs.model_copy(update={"metrics_period_seconds": 1, "latency_stats": ["Average"]})})  # type: ignore[union-attr]
    monkeypatch.setenv("PIPELINE_JOURNAL", str(tmp_path / "journal.sqlite"))
    target = EcsTarget(env, Boto3Executor(REGION, endpoint_url=world.url), lambda _m: None, poll_seconds=0.05)
    target.deploy_track("stable", "v1")
    release = Release(env, Project(root=tmp_path, state=tmp_path), target, lambda _m: None)  # type: ignore[arg-type]
    users = Users(target, world)
    users.start()
    try:
        result = release.canary("v2", None, "test", lambda _k, _d: None)
    finally:
        users.stop.set()
        users.join(timeout=5)
    assert result.outcome == Outcome.PROMOTED, result.reason
    status = target.status()
    assert status.tracks["stable"].version == "v2" and status.weights == Weights(0)
    assert status.lock is None  # released
    with Journal(tmp_path / "journal.sqlite") as journal:
        deploys = journal.deploys("moto-rel")
        kinds = [e.kind for e in journal.events(deploys[0].id)]
    assert [(d.version, d.outcome) for d in deploys] == [("v2", "promoted")]
    assert kinds.count("step") == 2 and "bake" in kinds
