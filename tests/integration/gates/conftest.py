"""A stand-in edge on 127.0.0.1 for the perf gate's tests: real k6, no Docker.

It honours the track pin exactly like the nginx edge (X-Pipeline-Track only with the right
X-Pipeline-Token), answers /edge/healthz, and serves each track with a configurable
latency and error share.
"""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipeline.commands.executor import SubprocessExecutor
from pipeline.environment.model import Environment
from pipeline.gates.perf import PerfGate
from pipeline.project import Project
from pipeline.targets.base import Status, TrackStatus

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "s3cr3ttoken"


@dataclass
class Behaviour:
    latency_ms: dict[str, float] = field(default_factory=lambda: {"stable": 0.0, "canary": 0.0})
    error_share: dict[str, float] = field(default_factory=lambda: {"stable": 0.0, "canary": 0.0})
    canary_weight: float = 0.0


class StubEdge:
    def __init__(self) -> None:
        self.behaviour = Behaviour()
        behaviour = self.behaviour

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/edge/healthz":
                    self._reply(200, "edge")
                    return
                pinned = self.headers.get("X-Pipeline-Track")
                if pinned in ("stable", "canary") and self.headers.get("X-Pipeline-Token") == TOKEN:
                    track = pinned
                else:
                    track = "canary" if random.random() < behaviour.canary_weight else "stable"
                time.sleep(behaviour.latency_ms[track] / 1000)
                failed = random.random() < behaviour.error_share[track]
                self._reply(500 if failed else 200, track)

            def _reply(self, status: int, track: str) -> None:
                body = b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Edge-Track", track)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubEdge:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class StubTarget:
    """Just what the gate reads of a target: where its edge takes requests (the stub edge's port,
    set by ``make_gate``), is a canary running, and the pin token."""

    def __init__(self, canary_running: int = 1, token: str = TOKEN) -> None:
        self.canary_running = canary_running
        self.token = token
        self.port = 0

    def traffic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def status(self) -> Status:
        tracks = {"canary": TrackStatus("canary", "v2", 1, self.canary_running)}
        return Status("t", "local", "", True, None, tracks)

    def track_pin_token(self) -> str:
        return self.token


@pytest.fixture
def edge() -> Iterator[StubEdge]:
    with StubEdge() as stub:
        yield stub


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project whose perf/ holds the real scripts plus the test's own (see `write_script`)."""
    shutil.copytree(ROOT / "perf", tmp_path / "perf")
    return Project(root=tmp_path, state=tmp_path / ".pipeline")


def make_gate(project: Project, port: int, perf: dict[str, Any] | None = None, target: Any = None) -> PerfGate:
    data: dict[str, Any] = {"name": "t", "edge": {"port": port}}
    data["perf"] = {"rate": 40, "duration_seconds": 2, **(perf or {})}
    env = Environment.model_validate(data)
    stub = target or StubTarget()
    stub.port = port
    return PerfGate(env, project, stub, SubprocessExecutor())
