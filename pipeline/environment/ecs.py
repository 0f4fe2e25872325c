"""The ``ecs:`` section of an environment: where the ECS Fargate target lives on AWS.

Names default from the environment's stack (``<stack>``, ``<stack>-stable`` ...), the same
names the Pulumi program in ``environments/aws-ecs/`` gives its resources, so the target
finds them without reading stack outputs.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ecs(Strict):
    """An ECS Fargate service per track behind one ALB listener with weighted target groups."""

    region: str = Field(description="AWS region, e.g. eu-west-1")
    account_id: str = Field(description="12-digit AWS account: the identity guard refuses any other account")
    cluster: str = Field(default="", description="ECS cluster name (default: the stack)")
    load_balancer: str = Field(default="", description="ALB name (default: the stack)")
    listener_port: Annotated[int, Field(ge=1, le=65535)] = Field(default=443, description="port of the ALB listener that splits")
    service_prefix: str = Field(default="", description="services and target groups are <prefix>-stable/-canary (default: stack)")
    ecr_repository: str = Field(
        default="", description="ECR repository that holds the releases (versions are checked there); empty: trust the tag"
    )
    execution_role_arn: str = ""
    task_role_arn: str = ""
    cpu: Annotated[int, Field(ge=256, le=16384)] = 256
    memory_mb: Annotated[int, Field(ge=512, le=122880)] = 512
    log_group: str = Field(default="", description="CloudWatch log group of the app (default: /pipeline/<stack>)")
    vpc_id: str = Field(default="", description="for the Pulumi program: VPC of the ALB and the tasks")
    public_subnet_ids: list[str] = Field(default_factory=list, description="for the Pulumi program: the ALB's subnets")
    private_subnet_ids: list[str] = Field(default_factory=list, description="for the Pulumi program: the tasks' subnets")
    certificate_arn: str = Field(default="", description="for the Pulumi program: ACM certificate of the HTTPS listener")
    metrics_period_seconds: Annotated[int, Field(ge=1, le=3600)] = Field(
        default=60, description="CloudWatch period of the ALB metrics the canary analysis reads (ALB metrics: 60)"
    )
    latency_stats: list[str] = Field(
        default_factory=lambda: ["p50", "p90", "p95", "p99", "Maximum"],
        description="TargetResponseTime statistics read per window (percentiles and/or Average, Maximum)",
    )

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", value):
            raise ValueError(f"'{value}' is not an AWS region such as eu-west-1")
        return value

    @field_validator("account_id")
    @classmethod
    def _account(cls, value: str) -> str:
        if not (len(value) == 12 and value.isdigit()):
            raise ValueError("must be the 12-digit AWS account id (as a quoted string)")
        return value

    def names(self, stack: str) -> EcsNames:
        prefix = self.service_prefix or stack
        return EcsNames(
            cluster=self.cluster or stack,
            load_balancer=self.load_balancer or stack,
            stable=f"{prefix}-stable",
            canary=f"{prefix}-canary",
            log_group=self.log_group or f"/pipeline/{stack}",
        )


class EcsNames(Strict):
    cluster: str
    load_balancer: str
    stable: str
    canary: str
    log_group: str

    def track(self, track: str) -> str:
        return self.stable if track == "stable" else self.canary
