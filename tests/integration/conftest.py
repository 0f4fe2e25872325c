"""moto's server on a free loopback port, and an ECS/ALB/CloudWatch world set up in it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

ACCOUNT = "123456789012"  # moto's account
REGION = "eu-west-1"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@dataclass
class World:
    """What a `make provision` would have made, created directly in moto."""

    url: str
    stack: str
    clients: dict[str, Any]

    def client(self, name: str) -> Any:
        return self.clients[name]


def manifest(tag: str) -> str:
    import json

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": f"sha256:{tag:0>64}"},
            "layers": [],
        }
    )


def make_world(url: str, stack: str) -> World:
    import boto3

    clients = {n: boto3.client(n, region_name=REGION, endpoint_url=url) for n in ("ec2", "elbv2", "ecs", "ecr", "cloudwatch")}
    ec2, elbv2, ecs, ecr = clients["ec2"], clients["elbv2"], clients["ecs"], clients["ecr"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName=f"{stack}-app", Description="app", VpcId=vpc)["GroupId"]
    lb = elbv2.create_load_balancer(Name=stack, Subnets=subnets, Type="application")["LoadBalancers"][0]
    groups = {
        track: elbv2.create_target_group(
            Name=f"{stack}-{track}", Protocol="HTTP", Port=8000, VpcId=vpc, TargetType="ip", HealthCheckPath="/readyz"
        )["TargetGroups"][0]["TargetGroupArn"]
        for track in ("stable", "canary")
    }
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=8443,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": groups["stable"], "Weight": 100},
                        {"TargetGroupArn": groups["canary"], "Weight": 0},
                    ]
                },
            }
        ],
    )
    ecs.create_cluster(clusterName=stack)
    placeholder = ecs.register_task_definition(
        family=f"{stack}-placeholder",
        containerDefinitions=[{"name": "app", "image": "busybox", "essential": True}],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]
    for track in ("stable", "canary"):
        ecs.create_service(
            cluster=stack,
            serviceName=f"{stack}-{track}",
            taskDefinition=placeholder,
            desiredCount=0,
            launchType="FARGATE",
            loadBalancers=[{"targetGroupArn": groups[track], "containerName": "app", "containerPort": 8000}],
            networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}},
        )
    ecr.create_repository(repositoryName=stack)
    for tag in ("v1", "v2", "v3"):
        ecr.put_image(repositoryName=stack, imageManifest=manifest(tag), imageTag=tag)
    return World(url, stack, clients)
