"""The ecs target's infrastructure: ECR, an ECS cluster, a Fargate service per track, one ALB.

Resources only (exports live in ``__main__.py``), in the shape of pulumi/examples
``testing-unit-py`` so that ``tests/unit/test_pulumi_aws_ecs.py`` can build them under
Pulumi's mocks and check the policies: nothing open on port 22, every taggable resource
tagged, health checks on /readyz, a short deregistration delay, and port 80 only redirects.

Names follow ``pipeline/environment/ecs.py`` (``<stack>``, ``<stack>-stable``, ``<stack>-canary``,
``/pipeline/<stack>``) so the pipeline finds everything without reading stack outputs. The
services' task definition and desired count belong to the pipeline (``ignore_changes``):
Pulumi makes the place, releases move through ``pipeline deploy``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TypeVar

import pulumi
import pulumi_aws as aws

R = TypeVar("R", bound=pulumi.Resource)
TRACKS = ("stable", "canary")
DEREGISTRATION_DELAY = 15  # seconds: the app drains in-flight requests itself (drain_seconds)
HEALTH_PATH = "/readyz"
APP_PORT = 8000


@dataclass(frozen=True)
class Settings:
    stack: str
    account_id: str
    region: str
    vpc_id: str
    public_subnet_ids: list[str]
    private_subnet_ids: list[str]
    certificate_arn: str
    image: str = "public.ecr.aws/docker/library/busybox:stable"  # placeholder until the first deploy
    tags: dict[str, str] = field(default_factory=dict)

    def all_tags(self, name: str) -> dict[str, str]:
        return {"Name": name, "pipeline:stack": self.stack, "managed-by": "pulumi", **self.tags}


@dataclass
class Stack:
    """Everything the program made, for the exports and the policy tests."""

    resources: list[pulumi.Resource]
    outputs: dict[str, pulumi.Input[str]]


def build(s: Settings) -> Stack:
    made: list[pulumi.Resource] = []

    def keep(resource: R) -> R:
        made.append(resource)
        return resource

    provider = aws.Provider(
        "aws", region=s.region, allowed_account_ids=[s.account_id], default_tags={"tags": {"pipeline:stack": s.stack}}
    )
    opts = pulumi.ResourceOptions(provider=provider)

    repository = keep(
        aws.ecr.Repository(
            f"{s.stack}-repo",
            name=s.stack,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            tags=s.all_tags(s.stack),
            opts=opts,
        )
    )
    cluster = keep(
        aws.ecs.Cluster(
            f"{s.stack}-cluster",
            name=s.stack,
            settings=[{"name": "containerInsights", "value": "enabled"}],
            tags=s.all_tags(s.stack),
            opts=opts,
        )
    )
    logs = keep(
        aws.cloudwatch.LogGroup(
            f"{s.stack}-logs", name=f"/pipeline/{s.stack}", retention_in_days=30, tags=s.all_tags(s.stack), opts=opts
        )
    )

    alb_sg = keep(
        aws.ec2.SecurityGroup(
            f"{s.stack}-alb",
            vpc_id=s.vpc_id,
            description="ALB: HTTPS, and HTTP only to redirect",
            ingress=[
                {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]},
                {"protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["0.0.0.0/0"]},
            ],
            egress=[{"protocol": "tcp", "from_port": APP_PORT, "to_port": APP_PORT, "cidr_blocks": ["0.0.0.0/0"]}],
            tags=s.all_tags(f"{s.stack}-alb"),
            opts=opts,
        )
    )
    app_sg = keep(
        aws.ec2.SecurityGroup(
            f"{s.stack}-app",
            vpc_id=s.vpc_id,
            description="app tasks: only from the ALB",
            ingress=[{"protocol": "tcp", "from_port": APP_PORT, "to_port": APP_PORT, "security_groups": [alb_sg.id]}],
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
            tags=s.all_tags(f"{s.stack}-app"),
            opts=opts,
        )
    )
    alb = keep(
        aws.lb.LoadBalancer(
            f"{s.stack}-alb",
            name=s.stack,
            load_balancer_type="application",
            security_groups=[alb_sg.id],
            subnets=s.public_subnet_ids,
            drop_invalid_header_fields=True,
            tags=s.all_tags(s.stack),
            opts=opts,
        )
    )
    groups: dict[str, aws.lb.TargetGroup] = {}
    for track in TRACKS:
        groups[track] = keep(
            aws.lb.TargetGroup(
                f"{s.stack}-{track}",
                name=f"{s.stack}-{track}",
                port=APP_PORT,
                protocol="HTTP",
                target_type="ip",
                vpc_id=s.vpc_id,
                deregistration_delay=DEREGISTRATION_DELAY,
                health_check={
                    "path": HEALTH_PATH,
                    "matcher": "200",
                    "interval": 10,
                    "timeout": 5,
                    "healthy_threshold": 2,
                    "unhealthy_threshold": 2,
                },
                tags=s.all_tags(f"{s.stack}-{track}"),
                opts=opts,
            )
        )
    https = keep(
        aws.lb.Listener(
            f"{s.stack}-https",
            load_balancer_arn=alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06",
            certificate_arn=s.certificate_arn,
            default_actions=[
                {
                    "type": "forward",
                    "forward": {
                        "target_groups": [
                            {"arn": groups["stable"].arn, "weight": 100},
                            {"arn": groups["canary"].arn, "weight": 0},
                        ],
                        "stickiness": {"enabled": False, "duration": 1},
                    },
                }
            ],
            tags=s.all_tags(f"{s.stack}-https"),
            opts=pulumi.ResourceOptions(provider=provider, ignore_changes=["defaultActions"]),  # weights: the pipeline's
        )
    )
    keep(
        aws.lb.Listener(
            f"{s.stack}-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[{"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}],
            tags=s.all_tags(f"{s.stack}-http"),
            opts=opts,
        )
    )

    execution_role = keep(
        aws.iam.Role(
            f"{s.stack}-execution",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                }
            ),
            managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"],
            tags=s.all_tags(f"{s.stack}-execution"),
            opts=opts,
        )
    )
    services: dict[str, aws.ecs.Service] = {}
    for track in TRACKS:
        task = keep(
            aws.ecs.TaskDefinition(
                f"{s.stack}-{track}",
                family=f"{s.stack}-{track}",
                requires_compatibilities=["FARGATE"],
                network_mode="awsvpc",
                cpu="256",
                memory="512",
                execution_role_arn=execution_role.arn,
                container_definitions=pulumi.Output.from_input(logs.name).apply(
                    lambda group, track=track: json.dumps(
                        [
                            {
                                "name": "app",
                                "image": s.image,
                                "essential": True,
                                "portMappings": [{"containerPort": APP_PORT, "protocol": "tcp"}],
                                "logConfiguration": {
                                    "logDriver": "awslogs",
                                    "options": {
                                        "awslogs-group": group,
                                        "awslogs-region": s.region,
                                        "awslogs-stream-prefix": track,
                                    },
                                },
                            }
                        ]
                    )
                ),
                tags=s.all_tags(f"{s.stack}-{track}"),
                opts=opts,
            )
        )
        services[track] = keep(
            aws.ecs.Service(
                f"{s.stack}-{track}-service",
                name=f"{s.stack}-{track}",
                cluster=cluster.arn,
                task_definition=task.arn,
                desired_count=1 if track == "stable" else 0,
                launch_type="FARGATE",
                network_configuration={
                    "subnets": s.private_subnet_ids,
                    "security_groups": [app_sg.id],
                    "assign_public_ip": False,
                },
                load_balancers=[{"target_group_arn": groups[track].arn, "container_name": "app", "container_port": APP_PORT}],
                health_check_grace_period_seconds=30,
                deployment_minimum_healthy_percent=100,
                deployment_maximum_percent=200,
                deployment_circuit_breaker={"enable": True, "rollback": True},
                propagate_tags="SERVICE",
                enable_ecs_managed_tags=True,
                tags=s.all_tags(f"{s.stack}-{track}"),
                opts=pulumi.ResourceOptions(
                    provider=provider, depends_on=[https], ignore_changes=["taskDefinition", "desiredCount", "tags"]
                ),
            )
        )
        for name, metric, stat, threshold, unit in (
            ("5xx", "HTTPCode_Target_5XX_Count", "Sum", 5.0, "Count"),
            ("latency", "TargetResponseTime", "p95", 0.5, "Seconds"),
        ):
            keep(
                aws.cloudwatch.MetricAlarm(
                    f"{s.stack}-{track}-{name}",
                    name=f"{s.stack}-{track}-{name}",
                    namespace="AWS/ApplicationELB",
                    metric_name=metric,
                    extended_statistic=stat if stat.startswith("p") else None,
                    statistic=None if stat.startswith("p") else stat,
                    unit=unit,
                    period=60,
                    evaluation_periods=2,
                    threshold=threshold,
                    comparison_operator="GreaterThanThreshold",
                    treat_missing_data="notBreaching",
                    dimensions={"LoadBalancer": alb.arn_suffix, "TargetGroup": groups[track].arn_suffix},
                    alarm_description=f"{track}: {metric} {stat} above {threshold} {unit} for 2 minutes",
                    tags=s.all_tags(f"{s.stack}-{track}-{name}"),
                    opts=opts,
                )
            )

    return Stack(
        resources=made,
        outputs={
            "repository_url": repository.repository_url,
            "cluster": cluster.name,
            "load_balancer": alb.name,
            "url": alb.dns_name.apply(lambda dns: f"https://{dns}/"),
            "listener_arn": https.arn,
            "stable_target_group": groups["stable"].arn,
            "canary_target_group": groups["canary"].arn,
            "stable_service": services["stable"].name,
            "canary_service": services["canary"].name,
            "log_group": logs.name,
        },
    )
