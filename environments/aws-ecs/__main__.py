"""The Pulumi program of environment aws-ecs: read the stack's config, build, export."""

from __future__ import annotations

import pulumi
from infra import Settings, build

config = pulumi.Config()
aws_config = pulumi.Config("aws")
stack = build(
    Settings(
        stack=config.require("stack"),
        account_id=config.require("account_id"),
        region=aws_config.require("region"),
        vpc_id=config.require("vpc_id"),
        public_subnet_ids=config.require_object("public_subnet_ids"),
        private_subnet_ids=config.require_object("private_subnet_ids"),
        certificate_arn=config.require("certificate_arn"),
    )
)
for key, value in stack.outputs.items():
    pulumi.export(key, value)
