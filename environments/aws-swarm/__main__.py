"""The Pulumi program of environment aws-swarm: read the stack's config and env.yaml, build, export."""

from __future__ import annotations

from pathlib import Path

import pulumi
import yaml
from infra import Node, Settings, build

config = pulumi.Config()
env = yaml.safe_load((Path(__file__).parent / "env.yaml").read_text())
swarm = env["swarm"]
edge = set(swarm["edge_nodes"])
stack = build(
    Settings(
        stack=config.require("stack"),
        domain=swarm["domain"],
        admin_cidr=config.require("admin_cidr"),
        zone_id=config.require("zone_id"),
        ssh_public_key=config.require("ssh_public_key"),
        nodes=tuple(
            Node(n["name"], role, n["name"] in edge)
            for role, group in (("manager", swarm["managers"]), ("worker", swarm.get("workers", [])))
            for n in group
        ),
        edge_port=int(env.get("edge", {}).get("port", 80)),
        instance_type=config.get("instance_type") or "t3.small",
        ssh_user=swarm.get("ssh", {}).get("user", "admin"),
    )
)
for key, value in stack.outputs.items():
    pulumi.export(key, value)
