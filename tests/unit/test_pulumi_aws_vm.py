"""Policy tests of environments/aws-vm (Pulumi mocks, testing-unit-py shape): no cloud, no CLI.

The mocks are installed per test (not at import), so this module and other Pulumi policy
modules can share one pytest run."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PROGRAM = Path(__file__).resolve().parents[2] / "environments" / "aws-vm"
UNTAGGABLE = {"aws:route53/record:Record", "pulumi:providers:aws"}
WORLD = "0.0.0.0/0"


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args)
        outputs = dict(args.inputs)
        if args.typ == "aws:ec2/eip:Eip":
            outputs["publicIp"] = "203.0.113.10"
        if args.typ == "aws:ec2/keyPair:KeyPair":
            outputs["keyName"] = args.name
        if args.typ == "aws:route53/record:Record":
            outputs["fqdn"] = args.inputs.get("name", "")
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append(args)
        if args.token == "aws:ec2/getAmi:getAmi":
            return {"id": "ami-0debian12", "name": "debian-12-amd64-20260101-0000"}, []
        return {}, []


def _infra() -> Any:
    spec = importlib.util.spec_from_file_location("aws_vm_infra", PROGRAM / "infra.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["aws_vm_infra"] = module
    spec.loader.exec_module(module)
    return module


infra = _infra()


@pytest.fixture
def mocks() -> Iterator[Mocks]:
    installed = Mocks()
    pulumi.runtime.set_mocks(installed, preview=False)
    yield installed


def settings(**kw: Any) -> Any:
    values = {
        "stack": "pl-test-vm",
        "domain": "app.example.com",
        "admin_cidr": "198.51.100.7/32",
        "zone_id": "Z123",
        "ssh_public_key": "ssh-ed25519 AAAAC3Nza test",
    }
    values.update(kw)
    return infra.Settings(**values)


def built(mocks: Mocks, **kw: Any) -> pulumi.Output[list[pulumi.runtime.MockResourceArgs]]:
    stack = infra.build(settings(**kw))
    return pulumi.Output.all(*[r.urn for r in stack.resources]).apply(lambda _: list(mocks.created))


def of(created: list[pulumi.runtime.MockResourceArgs], typ: str) -> list[pulumi.runtime.MockResourceArgs]:
    return [r for r in created if r.typ == typ]


def ingress(created: list[pulumi.runtime.MockResourceArgs]) -> list[dict[str, Any]]:
    return [rule for group in of(created, "aws:ec2/securityGroup:SecurityGroup") for rule in group.inputs["ingress"]]


@pulumi.runtime.test
def test_the_program_makes_a_vm_with_an_address_and_a_name(mocks: Mocks) -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        types = {r.typ for r in created}
        for typ in (
            "aws:ec2/securityGroup:SecurityGroup",
            "aws:ec2/instance:Instance",
            "aws:ec2/eip:Eip",
            "aws:route53/record:Record",
        ):
            assert typ in types
        (instance,) = of(created, "aws:ec2/instance:Instance")
        assert instance.inputs["ami"] == "ami-0debian12"
        assert instance.inputs["metadataOptions"]["httpTokens"] == "required"
        (record,) = of(created, "aws:route53/record:Record")
        assert record.inputs["name"] == "app.example.com" and record.inputs["type"] == "A"
        ami = next(c for c in mocks.calls if c.token == "aws:ec2/getAmi:getAmi")
        assert ami.args["owners"] == [infra.DEBIAN_OWNER]

    return built(mocks).apply(check)


@pulumi.runtime.test
def test_no_ssh_from_the_world(mocks: Mocks) -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        ssh = [r for r in ingress(created) if r["fromPort"] <= 22 <= r["toPort"]]
        assert ssh, "SSH must be open to the admin"
        for rule in ssh:
            assert WORLD not in rule.get("cidrBlocks", []) and "::/0" not in rule.get("ipv6CidrBlocks", [])
            assert rule["cidrBlocks"] == ["198.51.100.7/32"]

    return built(mocks).apply(check)


def test_an_admin_cidr_of_the_whole_internet_is_refused() -> None:
    with pytest.raises(ValueError, match="admin_cidr"):
        settings(admin_cidr=WORLD)


@pulumi.runtime.test
def test_only_https_and_the_acme_redirect_are_open_to_all(mocks: Mocks) -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        public = {r["fromPort"]: r for r in ingress(created) if WORLD in r.get("cidrBlocks", [])}
        assert set(public) == {80, 443}
        assert all(r["fromPort"] == r["toPort"] for r in public.values())
        # the only plain-HTTP listener is the ACME challenge + redirect (nginx role)
        assert "ACME" in public[80]["description"] and "redirect" in public[80]["description"]

    return built(mocks).apply(check)


@pulumi.runtime.test
def test_every_taggable_resource_is_tagged(mocks: Mocks) -> Any:
    def check(created: list[pulumi.runtime.MockResourceArgs]) -> None:
        for resource in created:
            if resource.typ in UNTAGGABLE:
                continue
            tags = resource.inputs.get("tags") or {}
            assert tags.get("pipeline:stack") == "pl-test-vm", f"{resource.typ} {resource.name} is not tagged"
            assert tags.get("Name") and tags.get("managed-by") == "pulumi"

    return built(mocks).apply(check)


def test_the_nginx_role_serves_plain_http_only_for_acme_and_the_redirect() -> None:
    conf = (PROGRAM.parents[1] / "playbooks" / "roles" / "nginx" / "templates" / "nginx.conf.j2").read_text()
    port80 = conf.split("listen 80 default_server;")[1].split("server {")[0]
    assert "/.well-known/acme-challenge/" in port80 and "return 301 https://" in port80
    assert "proxy_pass" not in port80
