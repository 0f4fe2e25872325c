"""The CLI on the ecs target, with boto3 pointed at moto's server (AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import ACCOUNT, REGION, make_world

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    import os

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    make_world(moto_url, "pl-moto-cli")
    root = tmp_path_factory.mktemp("project")
    (root / "pipeline").mkdir()
    folder = root / "environments" / "moto-cli"
    folder.mkdir(parents=True)
    env = {
        "target": {"kind": "ecs", "stack": "pl-moto-cli"},
        "ecs": {"region": REGION, "account_id": ACCOUNT, "listener_port": 8443, "latency_stats": ["Average"]},
        "canary": {"compare_with": "stable"},  # ECS has no baseline track yet
    }
    (folder / "env.yaml").write_text(yaml.safe_dump(env))
    return root, moto_url


def pipeline(project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """The CLI in this process (a subprocess would pay boto3's import again), boto3 pointed at moto."""
    from typer.testing import CliRunner

    from pipeline.cli.main import _register, app

    root, url = project
    monkeypatch.setenv("PIPELINE_ROOT", str(root))
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    _register()
    return CliRunner().invoke(app, list(args))


def test_weights_and_status_through_the_cli(project: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    done = pipeline(project, monkeypatch, "weights", "moto-cli", "--canary", "30")
    assert done.exit_code == 0, done.output
    shown = pipeline(project, monkeypatch, "status", "moto-cli", "--json")
    assert shown.exit_code == 0, shown.output
    after = json.loads(shown.stdout)
    assert after["kind"] == "ecs"
    assert after["weights"] == {"stable": 70, "canary": 30, "baseline": 0}
    assert isinstance(after["lease"], float)
