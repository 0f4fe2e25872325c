"""The swarm target's infrastructure on AWS: N Debian instances in one subnet, the swarm's ports open
between the nodes only, 80 and 443 open to the edge nodes, SSH from the admin CIDR only.

Resources only (exports live in ``__main__.py``), in the shape of pulumi/examples
``testing-unit-py`` (as environments/aws-vm) so that ``tests/unit/test_pulumi_aws_swarm.py`` can
build them under Pulumi's mocks and check the policies:

* the swarm's ports (2377/tcp management, 7946/tcp+udp gossip, 4789/udp overlay, the cluster
  registry's port) accept only members of the nodes' own security group, never a CIDR;
* 80 and 443 are open to the world on the edge nodes only (a security group of their own);
* SSH only from ``admin_cidr`` (never the whole internet);
* every taggable resource is tagged, IMDSv2 is required, root volumes are encrypted.

AWS's network carries no VRRP, so the edge is fronted by DNS (``swarm.front: dns`` in env.yaml):
one Route 53 multivalue record per edge node under the domain, each with a health check of that
edge's ``/edge/healthz``: a lost edge leaves the answers within the checks' interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

DEBIAN_OWNER = "136693071363"  # Debian's official AMI publisher
DEBIAN_IMAGE = "debian-12-amd64-*"
SWARM_TCP = (2377, 7946)
SWARM_UDP = (7946, 4789)


@dataclass(frozen=True)
class Node:
    name: str
    role: str  # manager | worker
    edge: bool = False


@dataclass(frozen=True)
class Settings:
    stack: str
    domain: str
    admin_cidr: str
    zone_id: str
    ssh_public_key: str
    nodes: tuple[Node, ...]
    edge_port: int = 80
    registry_port: int = 5000
    instance_type: str = "t3.small"
    ssh_user: str = "admin"
    tags: dict[str, str] = field(default_factory=dict)

    def all_tags(self, name: str) -> dict[str, str]:
        return {"Name": name, "pipeline:stack": self.stack, "managed-by": "pulumi", **self.tags}

    def __post_init__(self) -> None:
        if self.admin_cidr.endswith("/0"):
            raise ValueError("admin_cidr must not be the whole internet: SSH is for the admin's address only")
        if not any(n.role == "manager" for n in self.nodes):
            raise ValueError("nodes: a swarm needs a manager")
        if sum(n.edge for n in self.nodes) < 2:
            raise ValueError("nodes: a redundant edge needs at least two edge nodes")
        if len({n.name for n in self.nodes}) != len(self.nodes):
            raise ValueError("nodes: each node once")


@dataclass
class Stack:
    """Everything the program made, for the exports and the policy tests."""

    resources: list[pulumi.Resource]
    outputs: dict[str, pulumi.Input[str] | pulumi.Output[dict[str, str]]]


def _tcp(port: int, cidrs: list[str], description: str) -> aws.ec2.SecurityGroupIngressArgs:
    return aws.ec2.SecurityGroupIngressArgs(
        protocol="tcp", from_port=port, to_port=port, cidr_blocks=cidrs, description=description
    )


def _members(protocol: str, port: int, description: str) -> aws.ec2.SecurityGroupIngressArgs:
    """``port`` open to the members of the group itself (the other nodes), to nothing else."""
    return aws.ec2.SecurityGroupIngressArgs(protocol=protocol, from_port=port, to_port=port, self=True, description=description)


def build(s: Settings) -> Stack:
    ami = aws.ec2.get_ami(
        most_recent=True,
        owners=[DEBIAN_OWNER],
        filters=[
            aws.ec2.GetAmiFilterArgs(name="name", values=[DEBIAN_IMAGE]),
            aws.ec2.GetAmiFilterArgs(name="architecture", values=["x86_64"]),
        ],
    )
    egress = [aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"])]
    nodes = aws.ec2.SecurityGroup(
        f"{s.stack}-nodes",
        description=f"{s.stack}: the swarm's ports between the nodes only, SSH for the admin only",
        ingress=[
            *(_members("tcp", p, f"swarm {p}/tcp between the nodes") for p in SWARM_TCP),
            *(_members("udp", p, f"swarm {p}/udp between the nodes") for p in SWARM_UDP),
            _members("tcp", s.registry_port, "the cluster registry, for the nodes"),
            _tcp(22, [s.admin_cidr], "SSH from the admin CIDR"),
        ],
        egress=egress,
        tags=s.all_tags(f"{s.stack}-nodes"),
    )
    web = aws.ec2.SecurityGroup(
        f"{s.stack}-edge",
        description=f"{s.stack}: HTTP and HTTPS to the edge nodes",
        ingress=[_tcp(443, ["0.0.0.0/0"], "HTTPS to the edge"), _tcp(s.edge_port, ["0.0.0.0/0"], "HTTP to the edge")],
        egress=egress,
        tags=s.all_tags(f"{s.stack}-edge"),
    )
    key = aws.ec2.KeyPair(f"{s.stack}-admin", public_key=s.ssh_public_key, tags=s.all_tags(f"{s.stack}-admin"))
    resources: list[pulumi.Resource] = [nodes, web, key]
    addresses: dict[str, pulumi.Output[str]] = {}
    private: dict[str, pulumi.Output[str]] = {}
    for node in s.nodes:
        name = f"{s.stack}-{node.name}"
        instance = aws.ec2.Instance(
            name,
            ami=ami.id,
            instance_type=s.instance_type,
            key_name=key.key_name,
            vpc_security_group_ids=[nodes.id, web.id] if node.edge else [nodes.id],
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                volume_size=30, encrypted=True, tags=s.all_tags(f"{name}-root")
            ),
            tags={**s.all_tags(name), "pipeline:swarm-role": node.role, "pipeline:edge": str(node.edge).lower()},
        )
        address = aws.ec2.Eip(f"{name}-ip", instance=instance.id, domain="vpc", tags=s.all_tags(f"{name}-ip"))
        resources += [instance, address]
        addresses[node.name] = address.public_ip
        private[node.name] = instance.private_ip
        if node.edge:
            check = aws.route53.HealthCheck(
                f"{name}-edge-check",
                ip_address=address.public_ip,
                port=s.edge_port,
                type="HTTP",
                resource_path="/edge/healthz",
                request_interval=10,
                failure_threshold=2,
                tags=s.all_tags(f"{name}-edge-check"),
            )
            record = aws.route53.Record(
                f"{name}-dns",
                zone_id=s.zone_id,
                name=s.domain,
                type="A",
                ttl=30,
                records=[address.public_ip],
                set_identifier=node.name,
                multivalue_answer_routing_policy=True,
                health_check_id=check.id,
            )
            resources += [check, record]
    return Stack(
        resources=resources,
        outputs={
            "public_ips": pulumi.Output.all(**addresses),
            "private_ips": pulumi.Output.all(**private),
            "domain": s.domain,
            "ssh_user": s.ssh_user,
        },
    )
