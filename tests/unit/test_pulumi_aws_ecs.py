"""Policy tests of environments/aws-ecs (Pulumi mocks, testing-unit-py shape): no engine, no cloud."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pulumi_aws warns about its own modules
PROGRAM = Path(__file__).resolve().parents[2] / "environments" / "aws-ecs"
UNTAGGABLE = {"pulumi:providers:aws"}


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args)
        name = args.inputs.get("name", args.name)
        outputs = dict(args.inputs)
        arn = f"arn:aws:mock:eu-west-1:123456789012:{args.typ.split(':')[-1].lower()}/{name}/0123456789"
        outputs.setdefault("arn", arn)
        outputs.setdefault("name", name)
        if args.typ == "aws:lb/loadBalancer:LoadBalancer":
            outputs.update(arnSuffix=f"app/{name}/0123456789", dnsName=f"{name}.eu-west-1.elb.amazonaws.com")
        if args.typ == "aws:lb/targetGroup:TargetGroup":
            outputs.update(arnSuffix=f"targetgroup/{name}/0123456789")
        if args.typ == "aws:ecr/repository:Repository":
            outputs.update(repositoryUrl=f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/{name}")
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


MOCKS = Mocks()
pulumi.runtime.set_mocks(MOCKS, preview=False)


def _infra() -> Any:
    spec = importlib.util.spec_from_file_location("aws_ecs_infra", PROGRAM / "infra.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["aws_ecs_infra"] = module
    spec.loader.exec_module(module)
    return module


infra = _infra()
SETTINGS = infra.Settings(
    stack="pl-test",
    account_id="123456789012",
    region="eu-west-1",
    vpc_id="vpc-1",
    public_subnet_ids=["subnet-a", "subnet-b"],
    private_subnet_ids=["subnet-c", "subnet-d"],
    certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/x",
)


def built() -> pulumi.Output[list[pulumi.runtime.MockResourceArgs]]:
    """Build the program; resolves to the mocks' record of every resource once all are registered."""
    MOCKS.created.clear()
    stack = infra.build(SETTINGS)
    return pulumi.Output.all(*[r.urn for r in stack.resources]).apply(lambda _: list(MOCKS.created))


def of(created: list[pulumi.runtime.MockResourceArgs], typ: str) -> list[pulumi.runtime.MockResourceArgs]:
    return [r for r in created if r.typ == typ]


@pulumi.runtime.test
def test_the_program_makes_what_the_ecs_target_needs() -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        types = {r.typ for r in created}
        for needed in (
            "aws:ecr/repository:Repository",
            "aws:ecs/cluster:Cluster",
            "aws:lb/loadBalancer:LoadBalancer",
            "aws:cloudwatch/logGroup:LogGroup",
        ):
            assert needed in types
        services = {r.inputs["name"] for r in of(created, "aws:ecs/service:Service")}
        assert services == {"pl-test-stable", "pl-test-canary"}
        assert all(r.inputs["launchType"] == "FARGATE" for r in of(created, "aws:ecs/service:Service"))
        alarms = {r.inputs["metricName"] for r in of(created, "aws:cloudwatch/metricAlarm:MetricAlarm")}
        assert alarms == {"HTTPCode_Target_5XX_Count", "TargetResponseTime"}
        provider = of(created, "pulumi:providers:aws")[0]
        assert provider.inputs["allowedAccountIds"] == '["123456789012"]' or provider.inputs["allowedAccountIds"] == [
            "123456789012"
        ]

    return built().apply(check)


def port_22_open(created: list[Any]) -> list[str]:
    """Security groups with an ingress rule that opens port 22 to 0.0.0.0/0."""
    bad = []
    for group in of(created, "aws:ec2/securityGroup:SecurityGroup"):
        for rule in group.inputs.get("ingress", []):
            if "0.0.0.0/0" in rule.get("cidrBlocks", []) and rule["fromPort"] <= 22 <= rule["toPort"]:
                bad.append(group.name)
    return bad


def untagged(created: list[Any]) -> list[str]:
    """Taggable resources without a Name and the stack tag."""
    return [
        f"{r.typ} {r.name}"
        for r in created
        if r.typ not in UNTAGGABLE
        and not ("Name" in (r.inputs.get("tags") or {}) and (r.inputs.get("tags") or {}).get("pipeline:stack") == "pl-test")
    ]


@pulumi.runtime.test
def test_no_security_group_opens_port_22_to_the_world() -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        assert of(created, "aws:ec2/securityGroup:SecurityGroup")
        assert port_22_open(created) == []

    return built().apply(check)


@pulumi.runtime.test
def test_every_taggable_resource_has_a_name_and_stack_tag() -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        assert len(created) > 15
        assert untagged(created) == []

    return built().apply(check)


def test_the_policies_catch_violations() -> None:
    """The policies are not vacuous: an SSH rule open to the world and an untagged cluster are found."""

    class Fake:
        def __init__(self, typ: str, name: str, inputs: dict[str, Any]) -> None:
            self.typ, self.name, self.inputs = typ, name, inputs

    ssh = Fake(
        "aws:ec2/securityGroup:SecurityGroup",
        "ssh",
        {"ingress": [{"fromPort": 0, "toPort": 1024, "cidrBlocks": ["0.0.0.0/0"]}], "tags": {"Name": "x"}},
    )
    bare = Fake("aws:ecs/cluster:Cluster", "bare", {})
    assert port_22_open([ssh]) == ["ssh"]
    assert untagged([ssh, bare]) == ["aws:ec2/securityGroup:SecurityGroup ssh", "aws:ecs/cluster:Cluster bare"]


@pulumi.runtime.test
def test_target_groups_check_readyz_and_deregister_quickly() -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        groups = of(created, "aws:lb/targetGroup:TargetGroup")
        assert {g.inputs["name"] for g in groups} == {"pl-test-stable", "pl-test-canary"}
        for group in groups:
            assert group.inputs["healthCheck"]["path"] == "/readyz"
            assert group.inputs["deregistrationDelay"] <= 30

    return built().apply(check)


@pulumi.runtime.test
def test_plain_http_listeners_only_redirect_and_https_forwards_by_weight() -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        listeners = of(created, "aws:lb/listener:Listener")
        assert listeners
        for listener in listeners:
            actions = listener.inputs["defaultActions"]
            if listener.inputs.get("protocol") == "HTTP":
                assert [a["type"] for a in actions] == ["redirect"]
                assert actions[0]["redirect"]["protocol"] == "HTTPS"
            else:
                assert listener.inputs["protocol"] == "HTTPS"
                weights = [g["weight"] for g in actions[0]["forward"]["targetGroups"]]
                assert weights == [100, 0]

    return built().apply(check)
