"""AWS calls as data: how they print, what a dry run makes, and what a missing region or key says."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.commands.aws import AwsCall, DryRunAwsExecutor, call, require_credentials
from pipeline.errors import CloudCredentialsMissing


class Reads:
    dry_run = False

    def __init__(self) -> None:
        self.calls: list[AwsCall] = []

    def call(self, request: AwsCall) -> dict[str, Any]:
        self.calls.append(request)
        return {"Account": "123456789012"}


def test_a_call_prints_as_the_aws_cli_would_take_it() -> None:
    request = call("elbv2", "modify_listener", ListenerArn="arn:x", DefaultActions=[{"Type": "forward"}])
    assert request.shell() == (
        'aws elbv2 modify-listener --cli-input-json \'{"DefaultActions":[{"Type":"forward"}],"ListenerArn":"arn:x"}\''
    )


def test_dry_run_makes_reads_and_prints_changes() -> None:
    reads, printed = Reads(), []
    ex = DryRunAwsExecutor(reads, printed.append)
    assert ex.call(call("sts", "get_caller_identity", mutates=False)) == {"Account": "123456789012"}
    assert ex.call(call("ecs", "update_service", cluster="c", service="s", desiredCount=0)) == {}
    assert [c.operation for c in reads.calls] == ["get_caller_identity"]
    assert printed == ['aws ecs update-service --cli-input-json \'{"cluster":"c","desiredCount":0,"service":"s"}\'']


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    return monkeypatch


def test_missing_credentials_and_missing_region_are_exit_81(no_aws: pytest.MonkeyPatch) -> None:
    with pytest.raises(CloudCredentialsMissing, match="no AWS credentials") as caught:
        require_credentials("eu-west-1")
    assert caught.value.exit_code == 81
    no_aws.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    no_aws.setenv("AWS_SECRET_ACCESS_KEY", "example")
    with pytest.raises(CloudCredentialsMissing, match="no AWS region"):
        require_credentials(None)
    require_credentials("eu-west-1")
