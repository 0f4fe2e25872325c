"""The CLI on the ecs target, with boto3 pointed at moto's server (AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    }
    (folder / "env.yaml").write_text(yaml.safe_dump(env))
    return root, moto_url


def pipeline(project: tuple[Path, str], *args: str) -> subprocess.CompletedProcess[str]:
    root, url = project
    env = {
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
        "PIPELINE_ROOT": str(root),
        "HOME": str(root),
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60
    )


def test_weights_and_status_through_the_cli(project: tuple[Path, str]) -> None:
    done = pipeline(project, "weights", "moto-cli", "--canary", "30")
    assert done.returncode == 0, done.stderr
    after = json.loads(pipeline(project, "status", "moto-cli", "--json").stdout)
    assert after["kind"] == "ecs"
    assert after["weights"] == {"stable": 70, "canary": 30}
    assert isinstance(after["lease"], float)
