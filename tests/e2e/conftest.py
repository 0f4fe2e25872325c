"""End-to-end tests: the real Docker engine, registry, nginx edge and app.

They run the `pipeline` CLI as a user would, on the `ci` environment. Nothing here is
skipped: a missing engine is installed and started by `pipeline up` itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# PIPELINE_E2E_ENV lets a second checkout run the suite on its own stack and port
ENV = os.environ.get("PIPELINE_E2E_ENV", "ci")


def _edge_port(env: str) -> int:
    sys.path.insert(0, str(ROOT))
    from pipeline.environment import load_environment

    return load_environment(ROOT, env).edge.port


BASE = f"http://127.0.0.1:{_edge_port(ENV)}"


def pipeline(*args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", "PIPELINE_ROOT": str(ROOT)},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"pipeline {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def ssh_as_admin(state: Path, port: int, script: str, check: bool = True, what: str = "") -> str:
    """``script`` run as the stand-in host's login user over SSH on 127.0.0.1:``port``, with the
    key and known_hosts the pipeline keeps in ``state`` (a stand-in VM's or swarm node's)."""
    argv = [
        "ssh", "-i", str(state / "id_ed25519"), "-p", str(port), "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={state / 'known_hosts'}", "-o", "StrictHostKeyChecking=accept-new",
        "-o", "LogLevel=ERROR", "admin@127.0.0.1", "--", script,
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"ssh {what}{script!r} exited {result.returncode}: {result.stderr}")
    return result.stdout


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def status() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(pipeline("status", ENV, "--json").stdout)
    return data


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(path: str, method: str = "GET", body: dict[str, Any] | None = None, timeout: float = 10) -> Response:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return Response(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


@pytest.fixture(scope="session")
def stack() -> Any:
    """From nothing: remove whatever an earlier run left, then `up`."""
    pipeline("down", ENV, "--volumes", timeout=300)
    pipeline("up", ENV, timeout=1800)
    yield
    pipeline("down", ENV, "--volumes", check=False, timeout=300)


#: The values the suite gave the app's own secrets (``app.secrets`` of ENV), by name.
APP_SECRETS: dict[str, str] = {}


def _declared_secrets() -> list[str]:
    from pipeline.environment import load_environment

    return list(load_environment(ROOT, ENV).app.secrets)


def set_app_secret(name: str, value: str) -> str:
    """``pipeline secrets set ENV NAME`` with the value on stdin, as a user would; the Swarm secret's name."""
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "secrets", "set", ENV, name, "--json"],
        cwd=ROOT, input=value + "\n", capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "COLUMNS": "200", "PIPELINE_ROOT": str(ROOT)},
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"pipeline secrets set {ENV} {name} exited {result.returncode}: {result.stderr}")
    assert value not in result.stdout + result.stderr
    APP_SECRETS[name] = value
    secret: str = json.loads(result.stdout)["secret"]
    return secret


@pytest.fixture(scope="session")
def release(stack: Any) -> str:
    """The current commit, built and pushed; the app's declared secrets set (a deploy refuses before)."""
    version = pipeline("build", "--env", ENV, timeout=1800).stdout.strip()
    declared = _declared_secrets()
    if declared:
        refused = pipeline("deploy", ENV, "--version", version, "--track", "stable", check=False)
        assert refused.returncode == 9, refused.stderr
        assert f"app.secrets.{declared[0]}: not set in {ENV}" in refused.stderr
        for name in declared:
            set_app_secret(name, f"e2e-{name.lower()}-{os.urandom(8).hex()}")
    return version


@pytest.fixture(scope="session")
def second_release(release: str) -> str:
    """A second version of the app (same code, another tag): enough for swarm to roll every task."""
    return pipeline("build", "--env", ENV, "--suffix", "second", timeout=900).stdout.strip()
