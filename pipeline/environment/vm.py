"""The ``vm:`` section of an environment (``target.kind: vm``): hosts reached over SSH,
the domain served over HTTPS, the ACME server certbot asks, and, for ``vm-local``, the
stand-in VM container and the local pebble ACME server that replace the rented VM and
Let's Encrypt."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Port = Annotated[int, Field(ge=1, le=65535)]
DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
# Values below end up in systemd units, an Ansible inventory and command lines on the
# host: each is held to a charset in which no quoting rule (systemd's, the shell's,
# Ansible's) has anything to act on. No spaces, quotes, '%', '$', control characters.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"(?=[^\n]{{1,253}}\Z)({_LABEL}\.)*{_LABEL}\Z")
ACME_URL = re.compile(r"https://(?P<host>[A-Za-z0-9.-]+)(:(?P<port>\d{1,5}))?(?P<path>/[A-Za-z0-9._~/-]*)?\Z")
EMAIL = re.compile(r"[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9.-]{1,253}\Z")
KEY_PATH = re.compile(r"[A-Za-z0-9._/~+@-]{1,4096}\Z")


def is_address(value: str) -> bool:
    """An IPv4 or IPv6 address (no zone index)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return "%" not in value


def is_host(value: str) -> bool:
    """A DNS name (letters, digits, '-', dots) or an IP address."""
    return bool(HOST_NAME.match(value)) or is_address(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ssh(_Strict):
    """How Ansible and the pipeline log in: key only, a sudo-capable user."""

    user: str = "admin"
    port: Port = 22
    key: str = Field(
        default="",
        description="private key file (letters, digits and ._/~+@-, no spaces); "
        "empty: the key pair the pipeline generates in .pipeline/vm/<env>/",
    )

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", value):
            raise ValueError("must be a Unix user name")
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if value and (not KEY_PATH.match(value) or value.startswith("-") or "/-" in value):
            raise ValueError("must be a file path of letters, digits and ._/~+@- (no spaces, quotes or control characters)")
        return value


class Ports(_Strict):
    """Where this machine reaches the VM's nginx (80/443 on a real VM; published ports on vm-local)."""

    http: Port = 80
    https: Port = 443


class Acme(_Strict):
    """The ACME server certbot uses; always passed explicitly with ``--server``."""

    server: str = Field(
        default="https://acme-staging-v02.api.letsencrypt.org/directory",
        description="the ACME directory URL: https://, a host, an optional port and a path "
        "(letters, digits and ._~/-), e.g. https://acme-v02.api.letsencrypt.org/directory",
    )
    email: str = Field(default="", description="the ACME account's e-mail address; empty: none")
    ca_root: Literal["none", "pebble"] = Field(
        default="none",
        description="pebble: certbot trusts the local pebble's API root and HTTPS is verified "
        "against pebble's issuing root (vm-local only); none: the system trust store",
    )

    @field_validator("server")
    @classmethod
    def _url(cls, value: str) -> str:
        found = ACME_URL.match(value)
        if not value.startswith("https://"):
            raise ValueError("must be an https:// ACME directory URL")
        if found is None or not HOST_NAME.match(found["host"]) or not 0 < int(found["port"] or 443) < 65536:
            raise ValueError(
                "must be https://, a host, an optional port and a path of letters, digits and ._~/- "
                "(no spaces, quotes, '%', query or control characters)"
            )
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not (EMAIL.match(value) and is_host(value.rpartition("@")[2])):
            raise ValueError("must be an e-mail address (name@example.com) or empty")
        return value


class Pebble(_Strict):
    """Debian's pebble and pebble-challtestsrv on this machine, for vm-local."""

    port: Port = 14000
    management_port: Port = 15000
    dns_port: Port = 8053
    dns_management_port: Port = 8055


class LocalVm(_Strict):
    """The stand-in VM: a systemd container built from the base image, SSH on 127.0.0.1 only."""

    container: str = Field(default="", description="container name; empty: the environment's stack name")
    pebble: Pebble = Pebble()

    @field_validator("container")
    @classmethod
    def _name(cls, value: str) -> str:
        if value and not re.fullmatch(r"pl-vm[a-z0-9-]{0,40}", value):
            raise ValueError("must start with 'pl-vm' (lowercase letters, digits, '-')")
        return value


class Vm(_Strict):
    """Everything about a ``kind: vm`` environment."""

    hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1"], min_length=1, max_length=1)
    ssh: Ssh = Ssh()
    domain: str = "example.test"
    ports: Ports = Ports()
    acme: Acme = Acme()
    instances: Annotated[int, Field(ge=1, le=8)] = Field(
        default=2, description="app processes per track (systemd template instances)"
    )
    local: LocalVm | None = Field(default=None, description="set only for the local stand-in (vm-local)")

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not DOMAIN.fullmatch(value):
            raise ValueError(f"'{value}' is not a domain name (e.g. app.example.com)")
        return value

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for host in value:
            if not is_host(host):
                raise ValueError("each must be a host name or an IP address")
        return value

    @model_validator(mode="after")
    def _local(self) -> Vm:
        if self.local is not None and self.hosts != ["127.0.0.1"]:
            raise ValueError("a local stand-in VM is reached on 127.0.0.1 only (hosts: ['127.0.0.1'])")
        if self.acme.ca_root == "pebble" and self.local is None:
            raise ValueError("acme.ca_root: pebble is only for the local stand-in (set vm.local)")
        return self

    @property
    def host(self) -> str:
        return self.hosts[0]
