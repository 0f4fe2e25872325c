"""The vm target's infrastructure on AWS: one Debian instance, reachable as the environment's
domain, with only what the playbook needs open.

Resources only (exports live in ``__main__.py``), in the shape of pulumi/examples
``testing-unit-py`` so that ``tests/unit/test_pulumi_aws_vm.py`` can build them under
Pulumi's mocks and check the policies: port 22 only from the admin CIDR (never the
world), 80 and 443 open (80 serves only the ACME challenge and a redirect: see
playbooks/roles/nginx), every taggable resource tagged.

Its outputs become the Ansible inventory: ``public_ip`` goes into env.yaml's
``vm.hosts``; ``inventory`` is the same line playbooks/ reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

DEBIAN_OWNER = "136693071363"  # Debian's official AMI publisher
DEBIAN_IMAGE = "debian-12-amd64-*"


@dataclass(frozen=True)
class Settings:
    stack: str
    domain: str
    admin_cidr: str
    zone_id: str
    ssh_public_key: str
    instance_type: str = "t3.small"
    ssh_user: str = "admin"
    tags: dict[str, str] = field(default_factory=dict)

    def all_tags(self, name: str) -> dict[str, str]:
        return {"Name": name, "pipeline:stack": self.stack, "managed-by": "pulumi", **self.tags}

    def __post_init__(self) -> None:
        if self.admin_cidr.endswith("/0"):
            raise ValueError("admin_cidr must not be the whole internet: SSH is for the admin's address only")


@dataclass
class Stack:
    """Everything the program made, for the exports and the policy tests."""

    resources: list[pulumi.Resource]
    outputs: dict[str, pulumi.Input[str]]


def _rule(port: int, cidrs: list[str], description: str) -> aws.ec2.SecurityGroupIngressArgs:
    return aws.ec2.SecurityGroupIngressArgs(
        protocol="tcp", from_port=port, to_port=port, cidr_blocks=cidrs, description=description
    )


def build(s: Settings) -> Stack:
    ami = aws.ec2.get_ami(
        most_recent=True,
        owners=[DEBIAN_OWNER],
        filters=[
            aws.ec2.GetAmiFilterArgs(name="name", values=[DEBIAN_IMAGE]),
            aws.ec2.GetAmiFilterArgs(name="architecture", values=["x86_64"]),
        ],
    )
    group = aws.ec2.SecurityGroup(
        f"{s.stack}-web",
        description=f"{s.stack}: HTTPS and the ACME HTTP-01 redirect for all, SSH for the admin only",
        ingress=[
            _rule(443, ["0.0.0.0/0"], "HTTPS"),
            _rule(80, ["0.0.0.0/0"], "ACME HTTP-01 challenge and redirect to HTTPS only"),
            _rule(22, [s.admin_cidr], "SSH from the admin CIDR"),
        ],
        egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"])],
        tags=s.all_tags(f"{s.stack}-web"),
    )
    key = aws.ec2.KeyPair(f"{s.stack}-admin", public_key=s.ssh_public_key, tags=s.all_tags(f"{s.stack}-admin"))
    instance = aws.ec2.Instance(
        f"{s.stack}-vm",
        ami=ami.id,
        instance_type=s.instance_type,
        key_name=key.key_name,
        vpc_security_group_ids=[group.id],
        metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
        root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(volume_size=20, encrypted=True, tags=s.all_tags(f"{s.stack}-root")),
        tags=s.all_tags(f"{s.stack}-vm"),
    )
    address = aws.ec2.Eip(f"{s.stack}-ip", instance=instance.id, domain="vpc", tags=s.all_tags(f"{s.stack}-ip"))
    record = aws.route53.Record(
        f"{s.stack}-dns", zone_id=s.zone_id, name=s.domain, type="A", ttl=300, records=[address.public_ip]
    )
    inventory = address.public_ip.apply(lambda ip: f"[vm]\n{ip} ansible_user={s.ssh_user}\n")
    return Stack(
        resources=[group, key, instance, address, record],
        outputs={
            "public_ip": address.public_ip,
            "domain": record.fqdn,
            "ssh_user": s.ssh_user,
            "inventory": inventory,
            "instance_id": instance.id,
        },
    )
