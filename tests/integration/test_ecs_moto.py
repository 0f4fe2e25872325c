"""The ecs target's AWS calls against moto's server on 127.0.0.1: a canary walk driven by the real
controller (weights through the ALB listener, metrics through CloudWatch), a rollback, the
identity guard and the dry run."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.canary.controller import Controller, Outcome
from pipeline.commands.aws import AwsCall, Boto3Executor, DryRunAwsExecutor
from pipeline.edge import Weights
from pipeline.environment.model import Environment
from pipeline.errors import UnknownVersion, WrongAccount
from pipeline.records.lock import LockInfo
from pipeline.targets.ecs import EcsTarget
from tests.integration.conftest import ACCOUNT, REGION, World, make_world

pytestmark = pytest.mark.integration
logging.getLogger("werkzeug").setLevel(logging.ERROR)


def environment(stack: str, account: str = ACCOUNT) -> Environment:
    return Environment.model_validate(
        {
            "name": stack.removeprefix("pl-"),
            "target": {"kind": "ecs", "stack": stack},
            "image": {"registry": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"},
            "tracks": {"stable": {"replicas": 2}, "canary": {"replicas": 1}},
            "ecs": {
                "region": REGION,
                "account_id": account,
                "listener_port": 8443,
                "ecr_repository": stack,
                "metrics_period_seconds": 1,
                "latency_stats": ["Average", "Maximum"],  # moto computes no percentiles
            },
            "canary": {
                "steps": [10, 50, 100],
                "compare_with": "stable",  # ECS has no baseline track yet
                "step_seconds": 3,
                "bake_seconds": 2,
                "max_step_extensions": 1,
                "thresholds": {"min_requests": 20},
            },
        }
    )


class Recording:
    """The real executor, remembering every call."""

    def __init__(self, inner: Boto3Executor) -> None:
        self.inner = inner
        self.dry_run = False
        self.calls: list[AwsCall] = []

    def call(self, request: AwsCall) -> dict[str, Any]:
        self.calls.append(request)
        return self.inner.call(request)

    def changes(self) -> list[str]:
        return [f"{c.service}.{c.operation}" for c in self.calls if c.mutates]


@pytest.fixture(scope="module")
def world(moto_url: str) -> World:
    import os

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return make_world(moto_url, "pl-moto")


@pytest.fixture
def target(world: World) -> Iterator[tuple[EcsTarget, Recording]]:
    ex = Recording(Boto3Executor(REGION, endpoint_url=world.url))
    yield EcsTarget(environment(world.stack), ex, lambda _m: None, poll_seconds=0.05), ex


@dataclass
class Traffic:
    """Users behind the ALB: every second the clock moves, requests split by the listener's weights
    as moto reports them, written to moto's CloudWatch per target group."""

    target: EcsTarget
    cloudwatch: Any
    t: float = field(default_factory=lambda: float(int(time.time())) - 600)
    rate: int = 200
    canary_errors: float = 0.0
    canary_seconds: float = 0.020
    stable_seconds: float = 0.020

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        weights = self.target.weights() or Weights(0)
        data = []
        for track, share, errors, latency in (
            ("stable", weights.stable, 0.0, self.stable_seconds),
            ("canary", weights.canary, self.canary_errors, self.canary_seconds),
        ):
            requests = self.rate * share // 100
            if not requests:
                continue
            dims = [
                {"Name": "LoadBalancer", "Value": self.target.arn("lb").split("loadbalancer/")[1]},
                {"Name": "TargetGroup", "Value": self.target.arn(f"tg-{track}").split(":")[-1]},
            ]
            stamp = datetime.fromtimestamp(self.t + 0.5, UTC)
            data += [
                {"MetricName": "RequestCount", "Dimensions": dims, "Timestamp": stamp, "Value": requests, "Unit": "Count"},
                {
                    "MetricName": "HTTPCode_Target_5XX_Count",
                    "Dimensions": dims,
                    "Timestamp": stamp,
                    "Value": round(requests * errors),
                    "Unit": "Count",
                },
                {"MetricName": "TargetResponseTime", "Dimensions": dims, "Timestamp": stamp, "Value": latency, "Unit": "Seconds"},
            ]
        if data:
            self.cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)
        self.t += seconds


def walk(target: EcsTarget, traffic: Traffic, version: str, previous: str | None) -> Any:
    env = target.env
    controller = Controller(
        env.canary,
        target,
        target.metrics_source(),
        traffic,
        lambda _kind, _data: None,
        stable_replicas=env.tracks.stable.replicas,
        canary_replicas=env.tracks.canary.replicas,
    )
    return controller.run(version, previous)


def service(world: World, track: str) -> dict[str, Any]:
    found = world.client("ecs").describe_services(cluster=world.stack, services=[f"{world.stack}-{track}"], include=["TAGS"])
    return found["services"][0]  # type: ignore[no-any-return]


def test_canary_walk_promotes_then_a_bad_release_rolls_back(world: World, target: tuple[EcsTarget, Recording]) -> None:
    ecs, ex = target
    ecs.deploy_track("stable", "v1")
    assert ecs.status().tracks["stable"].version == "v1"

    traffic = Traffic(ecs, world.client("cloudwatch"))
    result = walk(ecs, traffic, "v2", "v1")
    assert result.outcome == Outcome.PROMOTED, result.reason
    assert result.steps_passed == 3
    weights_set = [
        c.params["DefaultActions"][0]["ForwardConfig"]["TargetGroups"][1]["Weight"]
        for c in ex.calls
        if c.operation == "modify_listener"
    ]
    assert weights_set[:3] == [10, 50, 100] and weights_set[-1] == 0
    status = ecs.status()
    assert status.tracks["stable"].version == "v2"
    assert status.weights == Weights(0)
    assert "register_task_definition" in {c.operation for c in ex.calls}
    stable_task = service(world, "stable")["taskDefinition"]
    image = world.client("ecs").describe_task_definition(taskDefinition=stable_task)["taskDefinition"]["containerDefinitions"][0][
        "image"
    ]
    assert image.endswith("/refapp:v2")

    bad = Traffic(ecs, world.client("cloudwatch"), t=traffic.t + 60, canary_errors=0.3)
    result = walk(ecs, bad, "v3", "v2")
    assert result.outcome == Outcome.ROLLED_BACK
    assert "error" in result.reason
    assert result.steps_passed == 0
    status = ecs.status()
    assert status.weights == Weights(0)
    assert status.tracks["canary"].desired == 0
    assert status.tracks["stable"].version == "v2"


def test_rollback_to_the_warm_previous_release(world: World, target: tuple[EcsTarget, Recording]) -> None:
    ecs, ex = target
    ecs.deploy_track("stable", "v1")
    ecs.promote("v2", "v1")
    assert ecs.track_labels("canary").get("pipeline.warm") == "previous"
    assert ecs.status().canary_state == "warm-previous"
    ex.calls.clear()
    ecs.revert_to_previous("v1")
    weights_set = [
        c.params["DefaultActions"][0]["ForwardConfig"]["TargetGroups"][1]["Weight"]
        for c in ex.calls
        if c.operation == "modify_listener"
    ]
    assert weights_set == [100, 0]  # the warm previous release takes all traffic at once, then stable follows
    status = ecs.status()
    assert status.tracks["stable"].version == "v1"
    assert status.tracks["canary"].desired == 0


def test_lock_and_operator_commands_are_load_balancer_tags(world: World, target: tuple[EcsTarget, Recording]) -> None:
    ecs, _ = target
    info = LockInfo.mine("tester", "v9", "a test " * 40)
    ecs.acquire_lock(info)
    held = ecs.read_lock()
    assert held is not None and held.holder == "tester" and held.version == "v9"
    from pipeline.errors import Locked

    with pytest.raises(Locked):
        ecs.acquire_lock(info)
    ecs.release_lock()
    assert ecs.read_lock() is None
    ecs.send_command("promote")
    assert ecs.take_command() == "promote"
    assert ecs.take_command() is None


def test_identity_guard_refuses_another_account_and_changes_nothing(world: World) -> None:
    ex = Recording(Boto3Executor(REGION, endpoint_url=world.url))
    ecs = EcsTarget(environment(world.stack, account="999999999999"), ex, lambda _m: None)
    with pytest.raises(WrongAccount) as caught:
        ecs.set_weights(Weights(50))
    assert caught.value.exit_code == 82
    assert "999999999999" in caught.value.message and ACCOUNT in caught.value.message
    assert ex.changes() == []


def test_unknown_version_is_refused_before_any_change(target: tuple[EcsTarget, Recording]) -> None:
    ecs, ex = target
    with pytest.raises(UnknownVersion):
        ecs.deploy_track("canary", "v404")
    assert ex.changes() == []


def test_dry_run_prints_the_calls_and_changes_nothing(world: World) -> None:
    printed: list[str] = []
    real = Boto3Executor(REGION, endpoint_url=world.url)
    ecs = EcsTarget(environment(world.stack), DryRunAwsExecutor(real, printed.append), lambda _m: None)
    before = ecs.weights()
    ecs.set_weights(Weights(40))
    ecs.deploy_track("canary", "v3")
    assert ecs.weights() == before
    assert any(line.startswith("aws elbv2 modify-listener") and '"Weight":40' in line for line in printed)
    assert any(line.startswith("aws ecs register-task-definition") for line in printed)
    assert any(line.startswith("aws ecs update-service") for line in printed)
