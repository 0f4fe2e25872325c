"""Policy tests of environments/aws-swarm (Pulumi mocks, testing-unit-py shape): no cloud, no CLI."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PROGRAM = Path(__file__).resolve().parents[2] / "environments" / "aws-swarm"
UNTAGGABLE = {"aws:route53/record:Record", "pulumi:providers:aws"}
WORLD = "0.0.0.0/0"


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args)
        outputs = dict(args.inputs)
        if args.typ == "aws:ec2/eip:Eip":
            outputs["publicIp"] = f"203.0.113.{len(self.created)}"
        if args.typ == "aws:ec2/instance:Instance":
            outputs["privateIp"] = f"10.0.1.{len(self.created)}"
        if args.typ == "aws:ec2/keyPair:KeyPair":
            outputs["keyName"] = args.name
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "aws:ec2/getAmi:getAmi":
            return {"id": "ami-0debian12", "name": "debian-12-amd64-20260101-0000"}, []
        return {}, []


def _infra() -> Any:
    spec = importlib.util.spec_from_file_location("aws_swarm_infra", PROGRAM / "infra.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["aws_swarm_infra"] = module
    spec.loader.exec_module(module)
    return module


infra = _infra()


@pytest.fixture
def mocks() -> Iterator[Mocks]:
    installed = Mocks()
    pulumi.runtime.set_mocks(installed, preview=False)
    yield installed


NODES = (infra.Node("m1", "manager"), infra.Node("w1", "worker", edge=True), infra.Node("w2", "worker", edge=True))


def settings(**kw: Any) -> Any:
    values: dict[str, Any] = {
        "stack": "pl-test-swarm",
        "domain": "app.example.com",
        "admin_cidr": "198.51.100.7/32",
        "zone_id": "Z123",
        "ssh_public_key": "ssh-ed25519 AAAAC3Nza test",
        "nodes": NODES,
    }
    values.update(kw)
    return infra.Settings(**values)


def built(mocks: Mocks, **kw: Any) -> pulumi.Output[list[pulumi.runtime.MockResourceArgs]]:
    stack = infra.build(settings(**kw))
    return pulumi.Output.all(*[r.urn for r in stack.resources]).apply(lambda _: list(mocks.created))


def of(created: list[pulumi.runtime.MockResourceArgs], typ: str) -> list[pulumi.runtime.MockResourceArgs]:
    return [r for r in created if r.typ == typ]


def group(created: list[pulumi.runtime.MockResourceArgs], suffix: str) -> pulumi.runtime.MockResourceArgs:
    return next(r for r in of(created, "aws:ec2/securityGroup:SecurityGroup") if r.name.endswith(suffix))


@pulumi.runtime.test
def test_one_instance_per_node_and_the_edge_nodes_behind_health_checked_dns(mocks: Mocks) -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        instances = of(created, "aws:ec2/instance:Instance")
        assert sorted(i.name for i in instances) == ["pl-test-swarm-m1", "pl-test-swarm-w1", "pl-test-swarm-w2"]
        assert all(i.inputs["metadataOptions"]["httpTokens"] == "required" for i in instances)
        assert all(i.inputs["rootBlockDevice"]["encrypted"] for i in instances)
        records = of(created, "aws:route53/record:Record")
        assert sorted(r.inputs["setIdentifier"] for r in records) == ["w1", "w2"]
        assert all(r.inputs["multivalueAnswerRoutingPolicy"] and r.inputs.get("healthCheckId") for r in records)
        checks = of(created, "aws:route53/healthCheck:HealthCheck")
        assert len(checks) == 2 and all(c.inputs["resourcePath"] == "/edge/healthz" for c in checks)

    return built(mocks).apply(check)


@pulumi.runtime.test
def test_the_swarms_ports_answer_the_nodes_only(mocks: Mocks) -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        rules = group(created, "-nodes").inputs["ingress"]
        swarm = {(r["protocol"], r["fromPort"]) for r in rules if r.get("self")}
        assert swarm == {("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4789), ("tcp", 5000)}
        for rule in rules:
            if rule["fromPort"] != 22:
                assert not rule.get("cidrBlocks") and not rule.get("ipv6CidrBlocks"), rule
        ssh = [r for r in rules if r["fromPort"] == 22]
        assert [r["cidrBlocks"] for r in ssh] == [["198.51.100.7/32"]]

    return built(mocks).apply(check)


@pulumi.runtime.test
def test_only_the_edge_nodes_are_open_to_the_world_and_only_for_http(mocks: Mocks) -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        web = group(created, "-edge")
        assert {r["fromPort"] for r in web.inputs["ingress"] if WORLD in r.get("cidrBlocks", [])} == {80, 443}
        by_name = {i.name: i for i in of(created, "aws:ec2/instance:Instance")}
        assert len(by_name["pl-test-swarm-m1"].inputs["vpcSecurityGroupIds"]) == 1  # no web group on a non-edge node
        assert len(by_name["pl-test-swarm-w1"].inputs["vpcSecurityGroupIds"]) == 2

    return built(mocks).apply(check)


@pulumi.runtime.test
def test_every_taggable_resource_is_tagged(mocks: Mocks) -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        for resource in created:
            if resource.typ in UNTAGGABLE:
                continue
            tags = resource.inputs.get("tags") or {}
            assert tags.get("pipeline:stack") == "pl-test-swarm", f"{resource.typ} {resource.name} is not tagged"

    return built(mocks).apply(check)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"admin_cidr": WORLD}, "admin_cidr"),
        ({"nodes": (infra.Node("w1", "worker", True), infra.Node("w2", "worker", True))}, "needs a manager"),
        ({"nodes": (infra.Node("m1", "manager", True), infra.Node("w1", "worker"))}, "at least two edge nodes"),
        ({"nodes": (infra.Node("m1", "manager", True), infra.Node("m1", "worker", True))}, "each node once"),
    ],
)
def test_a_cluster_that_cannot_hold_is_refused_before_anything_is_made(change: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        settings(**change)


def test_the_program_reads_its_nodes_from_env_yaml() -> None:
    import yaml

    env = yaml.safe_load((PROGRAM / "env.yaml").read_text())
    assert env["swarm"]["front"] == "dns" and "vip" not in env["swarm"]
    main = (PROGRAM / "__main__.py").read_text()
    assert 'swarm["edge_nodes"]' in main and 'swarm["managers"]' in main
