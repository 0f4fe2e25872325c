"""The Pulumi program of environment aws-vm: read the stack's config and env.yaml, build, export."""

from __future__ import annotations

from pathlib import Path

import pulumi
import yaml
from infra import Settings, build

config = pulumi.Config()
env = yaml.safe_load((Path(__file__).parent / "env.yaml").read_text())
stack = build(
    Settings(
        stack=config.require("stack"),
        domain=env["vm"]["domain"],
        admin_cidr=config.require("admin_cidr"),
        zone_id=config.require("zone_id"),
        ssh_public_key=config.require("ssh_public_key"),
        instance_type=config.get("instance_type") or "t3.small",
        ssh_user=env["vm"]["ssh"]["user"],
    )
)
for key, value in stack.outputs.items():
    pulumi.export(key, value)
