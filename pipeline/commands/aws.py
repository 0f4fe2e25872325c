"""AWS calls as data: what the pipeline will ask of AWS, described before it is asked.

Builders (``pipeline.targets.ecs``) only return :class:`AwsCall` values; one executor runs
them through boto3 (:class:`Boto3Executor`), or prints the changing ones
(:class:`DryRunAwsExecutor`, for ``--dry-run``) while still running the read-only ones.
Errors are wrapped where they enter: no credentials or no region -> exit 81, an API error
-> exit 10 with the call printed. ``AWS_ENDPOINT_URL`` (boto3's own setting) points every
client at another endpoint, e.g. moto's server on 127.0.0.1 in the tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline import redact
from pipeline.errors import CloudCredentialsMissing, CommandFailed, WrongAccount


@dataclass(frozen=True)
class AwsCall:
    """One AWS API call: ``service`` and boto3 ``operation`` (snake_case) with its parameters.

    ``mutates`` is False for reads: a dry run still makes them.
    """

    service: str
    operation: str
    params: Mapping[str, Any] = field(default_factory=dict)
    mutates: bool = True
    description: str = ""

    def shell(self) -> str:
        """The call as the equivalent ``aws`` CLI line."""
        verb = self.operation.replace("_", "-")
        args = json.dumps(self.params, sort_keys=True, default=str, separators=(",", ":"))
        return redact.text(f"aws {self.service} {verb} --cli-input-json '{args}'")


def call(api: str, operation: str, /, mutates: bool = True, description: str = "", **params: Any) -> AwsCall:
    """Shorthand: ``call("ecs", "describe_services", mutates=False, cluster=..., services=[...])``."""
    return AwsCall(api, operation, params, mutates, description)


class AwsExecutor(Protocol):
    dry_run: bool

    def call(self, request: AwsCall) -> dict[str, Any]: ...


class Boto3Executor:
    """Makes the calls for real, one boto3 client per service."""

    dry_run = False

    def __init__(self, region: str, on_call: Callable[[AwsCall], None] | None = None, endpoint_url: str | None = None) -> None:
        import boto3

        self.session = boto3.session.Session(region_name=region)
        self.endpoint_url = endpoint_url
        self.on_call = on_call
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            kwargs = {"endpoint_url": self.endpoint_url} if self.endpoint_url else {}
            self._clients[service] = self.session.client(service, **kwargs)  # type: ignore[call-overload]
        return self._clients[service]

    def call(self, request: AwsCall) -> dict[str, Any]:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            NoRegionError,
            PartialCredentialsError,
        )

        if self.on_call is not None:
            self.on_call(request)
        try:
            answer: dict[str, Any] = getattr(self.client(request.service), request.operation)(**request.params)
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise CloudCredentialsMissing(
                "no AWS credentials found",
                hint="in GitHub Actions use aws-actions/configure-aws-credentials with role-to-assume; locally AWS_PROFILE",
            ) from exc
        except NoRegionError as exc:
            raise CloudCredentialsMissing("no AWS region set", hint="set ecs.region in env.yaml or AWS_REGION") from exc
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CommandFailed(
                f"{request.description or request.service + ' ' + request.operation} failed: "
                f"{error.get('Code', '?')}: {error.get('Message', '')}",
                hint=f"call was: {request.shell()}",
            ) from exc
        except BotoCoreError as exc:
            raise CommandFailed(
                f"{request.service} {request.operation} failed: {exc}", hint=f"call was: {request.shell()}"
            ) from exc
        answer.pop("ResponseMetadata", None)
        return answer

    def has_credentials(self) -> bool:
        return self.session.get_credentials() is not None


class DryRunAwsExecutor:
    """Prints every call that would change something; still makes the reads."""

    dry_run = True

    def __init__(self, reader: AwsExecutor, printer: Callable[[str], None]) -> None:
        self.reader = reader
        self.printer = printer
        self.planned: list[AwsCall] = []

    def call(self, request: AwsCall) -> dict[str, Any]:
        if not request.mutates:
            return self.reader.call(request)
        self.planned.append(request)
        self.printer(request.shell())
        return {}


def require_credentials(region: str | None) -> None:
    """Credentials and a region, or one line (exit 81) before anything is asked of AWS."""
    import boto3

    session = boto3.session.Session(region_name=region or None)
    if session.get_credentials() is None:
        raise CloudCredentialsMissing(
            "no AWS credentials found (environment, profile or role)",
            hint="in GitHub Actions: aws-actions/configure-aws-credentials with role-to-assume (OIDC); locally: AWS_PROFILE",
        )
    if not session.region_name:
        raise CloudCredentialsMissing("no AWS region set", hint="set the region in env.yaml or AWS_REGION")


def guard_account(ex: AwsExecutor, expected: str, env_name: str) -> str:
    """The identity guard: the caller's account must be the environment's ``account_id``."""
    who = ex.call(call("sts", "get_caller_identity", mutates=False, description="who am I"))
    account = str(who.get("Account", ""))
    if account != expected:
        raise WrongAccount(
            f"environment '{env_name}' belongs to AWS account {expected}, but these credentials are for account {account or '?'}",
            hint=f"assume a role in {expected}, or fix ecs.account_id in environments/{env_name}/env.yaml",
        )
    return account
