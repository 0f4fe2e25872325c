"""Reads of the engine's state through its API, and the CLI when the API cannot be used."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.commands import Result
from pipeline.environment.model import Environment
from pipeline.targets.engine_reads import EngineEndpoint, EngineReads, NotFound
from pipeline.testing import FakeExecutor

UNIX = "unix:///var/run/docker.sock"


class FakeApi:
    """Answers like the engine's API; ``broken`` makes every call fail as a lost socket would."""

    def __init__(self, services: list[dict[str, Any]]) -> None:
        self.rows = services
        self.broken = False
        self.calls: list[str] = []

    def services(self, filters: dict[str, list[str]], status: bool) -> list[dict[str, Any]]:
        self.calls.append(f"services {filters['label'][0]} {status}")
        if self.broken:
            raise ConnectionError("socket gone")
        return self.rows

    def inspect_service(self, name: str) -> dict[str, Any]:
        self.calls.append(f"inspect {name}")
        for row in self.rows:
            if row["Spec"]["Name"] == name:
                return row
        raise NotFound(f"service {name} not found")


def row(name: str, running: int, desired: int, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"Spec": {"Name": name, "Labels": labels or {}}, "ServiceStatus": {"RunningTasks": running, "DesiredTasks": desired}}


def reads(endpoint: str, api: Any) -> tuple[EngineReads, FakeExecutor]:
    fake = FakeExecutor().on("docker", "context", "inspect", result=Result(0, endpoint + "\n"))
    return EngineReads(EngineEndpoint(fake), api), fake


def test_services_and_a_service_come_through_the_api_with_the_clis_counts() -> None:
    api = FakeApi([row("pl-x-app-blue", 2, 2, {"pipeline.track": "stable"}), row("pl-x-app-green", 0, 1)])
    engine, fake = reads(UNIX, api)
    assert engine.services("pipeline.env=x") == {"pl-x-app-blue": (2, 2), "pl-x-app-green": (0, 1)}
    assert api.calls == ["services pipeline.env=x True"]  # the engine counts the running tasks (status=True)
    found = engine.service("pl-x-app-blue")
    assert found is not None and found["Spec"]["Labels"] == {"pipeline.track": "stable"}
    assert engine.service("pl-x-app-nope") == {}  # no such service: not a reason to leave the API
    assert engine.services("pipeline.env=x") is not None
    assert len([c for c in fake.calls if c.argv[:2] == ("docker", "context")]) == 1  # the endpoint, asked once


def test_an_engine_elsewhere_is_read_through_the_cli() -> None:
    api = FakeApi([row("pl-x-app-blue", 2, 2)])
    engine, _ = reads("ssh://admin@host", api)
    assert engine.services("pipeline.env=x") is None and engine.service("pl-x-app-blue") is None
    assert api.calls == []


@pytest.mark.parametrize("why", ["socket gone", "no service status"])
def test_a_failed_read_leaves_the_api_for_the_rest_of_the_process(why: str) -> None:
    api = FakeApi([row("pl-x-app-blue", 2, 2)])
    if why == "socket gone":
        api.broken = True
    else:
        del api.rows[0]["ServiceStatus"]  # an engine older than API 1.41
    engine, _ = reads(UNIX, api)
    assert engine.services("pipeline.env=x") is None
    calls = len(api.calls)
    assert engine.service("pl-x-app-blue") is None and len(api.calls) == calls  # not asked again


def test_the_local_target_reads_services_through_the_api_and_falls_back_to_the_cli() -> None:
    from pipeline.project import Project
    from pipeline.targets.local import LocalTarget

    env = Environment.model_validate({"name": "x"})
    ls = '{"Name": "pl-x-app-blue", "Replicas": "1/2"}\n'
    fake = FakeExecutor().on("docker", "context", "inspect", result=Result(0, UNIX + "\n"))
    fake.on("docker", "service", "ls", result=Result(0, ls))
    target = LocalTarget(env, fake, Project.discover(), lambda _m: None)
    target.reads._api = FakeApi([row("pl-x-app-blue", 2, 2)])
    assert target._replicas() == {"pl-x-app-blue": (2, 2)}
    assert not [c for c in fake.calls if c.argv[:3] == ("docker", "service", "ls")]
    target.reads._api.broken = True
    assert target._replicas() == {"pl-x-app-blue": (1, 2)}  # the CLI's answer, from then on


def test_the_api_is_asked_over_a_unix_socket_with_the_clis_filters(tmp_path: Any) -> None:
    """``EngineApi`` against an HTTP server on a unix socket (the engine's transport), no daemon."""
    import socketserver
    import threading
    from http.server import BaseHTTPRequestHandler
    from urllib.parse import parse_qs, urlsplit

    from pipeline.targets.engine_reads import EngineApi

    asked: list[tuple[str, dict[str, list[str]]]] = []

    class Engine(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            asked.append((url.path, parse_qs(url.query)))
            if url.path == "/v1.41/services":
                body, code = json.dumps([row("pl-x-app-blue", 2, 2)]), 200
            elif url.path == "/v1.41/services/pl-x-app-blue":
                body, code = json.dumps(row("pl-x-app-blue", 2, 2)), 200
            else:
                body, code = '{"message": "service not found"}', 404
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def address_string(self) -> str:  # a unix socket has no client address
            return "unix"

        def log_message(self, *_args: Any) -> None:
            pass

    path = str(tmp_path / "engine.sock")
    server = socketserver.ThreadingUnixStreamServer(path, Engine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = EngineApi(path, timeout=5)
        assert api.services(filters={"label": ["pipeline.env=x"]}, status=True)[0]["Spec"]["Name"] == "pl-x-app-blue"
        assert asked[0] == ("/v1.41/services", {"filters": ['{"label": ["pipeline.env=x"]}'], "status": ["true"]})
        assert api.inspect_service("pl-x-app-blue")["ServiceStatus"]["RunningTasks"] == 2
        with pytest.raises(NotFound):
            api.inspect_service("pl-x-app-nope")
        engine, _ = reads(f"unix://{path}", None)
        assert engine.services("pipeline.env=x") == {"pl-x-app-blue": (2, 2)}
        assert engine.service("pl-x-app-nope") == {}
    finally:
        server.shutdown()
        server.server_close()
    engine, _ = reads(f"unix://{tmp_path / 'gone.sock'}", None)
    assert engine.services("pipeline.env=x") is None  # nobody listens: the CLI, from then on
