"""`python -m refapp.serve` / `refapp.healthcheck` as real processes on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ChildEnv = Callable[..., dict[str, str]]
START_TIMEOUT = 20.0


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.strip():
            lines.append(json.loads(line))  # every line must be JSON
    return lines


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _run(env: dict[str, str], *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_exit_at_start_fault_exits_3(child_env: ChildEnv) -> None:
    result = _run(child_env(FAULT_EXIT_AT_START="1"), "refapp.serve")
    assert result.returncode == 3
    events = _json_lines(result.stdout)
    assert [e["event"] for e in events] == ["fault_exit_at_start"]
    assert "FAULT_EXIT_AT_START" in events[0]["reason"]


def test_bad_fault_knob_exits_2_with_one_json_line(child_env: ChildEnv) -> None:
    result = _run(child_env(FAULT_ERROR_RATE="lots"), "refapp.serve")
    assert result.returncode == 2
    events = _json_lines(result.stdout)
    assert len(events) == 1
    assert events[0]["event"] == "config_invalid"
    assert events[0]["level"] == "ERROR"
    assert events[0]["variable"] == "FAULT_ERROR_RATE"
    assert "FAULT_ERROR_RATE" in events[0]["error"]
    assert result.stderr == ""


class Server:
    """A `refapp.serve` child process listening on a free loopback port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = int(env["APP_PORT"])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "refapp.serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.proc.poll() is None, self.proc.communicate()[0]
            try:
                if _get(self.port, "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)

    def output(self) -> str:
        """Wait for exit and return everything the process printed."""
        return self.proc.communicate(timeout=10)[0]


StartServer = Callable[..., Server]


@pytest.fixture
def server(child_env: ChildEnv, tmp_path: Path) -> Iterator[StartServer]:
    started: list[Server] = []

    def start(**overrides: str) -> Server:
        env = child_env(
            APP_HOST="127.0.0.1",
            APP_PORT=str(_free_port()),
            DATABASE_URL=f"sqlite:///{tmp_path / 'serve.sqlite3'}",
            **overrides,
        )
        srv = Server(env)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.communicate()


def _login_cookies(port: int, forwarded_proto: str) -> list[str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/accounts/login/", headers={"X-Forwarded-Proto": forwarded_proto})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return resp.headers.get_all("Set-Cookie") or []


def test_the_edges_forwarded_https_makes_cookies_secure_only_from_an_allowed_proxy(server: StartServer) -> None:
    trusted = server(FORWARDED_ALLOW_IPS="127.0.0.1")
    cookies = _login_cookies(trusted.port, "https")
    assert cookies and all("; Secure" in cookie for cookie in cookies), cookies
    assert not any("; Secure" in cookie for cookie in _login_cookies(trusted.port, "http"))
    # a client that is not the edge cannot claim https: uvicorn ignores the header from it
    untrusted = server(FORWARDED_ALLOW_IPS="10.255.255.1")
    cookies = _login_cookies(untrusted.port, "https")
    assert cookies and not any("; Secure" in cookie for cookie in cookies), cookies


def test_sigterm_drains_then_exits_0(server: StartServer) -> None:
    srv = server(APP_DRAIN_SECONDS="1")
    assert _get(srv.port, "/readyz") == (200, {"status": "ok", "checks": {"database": "ok", "cache": "ok"}})
    sent = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)

    readyz = None
    while time.monotonic() - sent < 1.0:
        readyz = _get(srv.port, "/readyz")
        if readyz[0] == 503:
            break
        time.sleep(0.02)
    assert readyz == (503, {"status": "unavailable", "failed": ["draining"], "checks": {"draining": True}})
    # Still serving during the drain period (new connections included).
    assert _get(srv.port, "/healthz") == (200, {"status": "ok"})
    assert time.monotonic() - sent < 1.0, "drain period ended before the checks ran"

    assert srv.proc.wait(timeout=8) == 0
    elapsed = time.monotonic() - sent
    assert 1.0 <= elapsed < 8
    events = [e.get("event") for e in _json_lines(srv.output())]
    for expected in ("startup", "drain_started", "drain_finished", "shutdown_complete"):
        assert expected in events
    assert events.index("drain_started") < events.index("drain_finished")


def test_in_flight_request_finishes_during_shutdown(server: StartServer) -> None:
    # FAULT_LATENCY_MS makes /accounts/login/ take 1.5 s; the drain period is only 0.3 s.
    srv = server(APP_DRAIN_SECONDS="0.3", FAULT_LATENCY_MS="1500")
    result: dict[str, Any] = {}

    def slow_request() -> None:
        url = f"http://127.0.0.1:{srv.port}/accounts/login/"
        with urllib.request.urlopen(url, timeout=10) as resp:
            result["status"] = resp.status
            result["server_timing"] = resp.headers["Server-Timing"]

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.3)  # the request is now in flight
    srv.proc.send_signal(signal.SIGTERM)
    thread.join(timeout=10)
    assert result["status"] == 200
    assert "fault;dur=15" in result["server_timing"]
    assert srv.proc.wait(timeout=10) == 0
    events = [e.get("event") for e in _json_lines(srv.output())]
    assert events.index("drain_finished") < events.index("shutdown_complete")


def test_second_signal_exits_at_once(server: StartServer) -> None:
    srv = server(APP_DRAIN_SECONDS="30")
    srv.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 3
    while _get(srv.port, "/readyz")[0] != 503:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    sent = time.monotonic()
    srv.proc.send_signal(signal.SIGINT)
    assert srv.proc.wait(timeout=5) == 1
    assert time.monotonic() - sent < 2
    events = [e.get("event") for e in _json_lines(srv.output())]
    assert events[-1] == "forced_exit"


def test_healthcheck_module(server: StartServer, child_env: ChildEnv) -> None:
    srv = server()
    ok = _run(child_env(APP_PORT=str(srv.port)), "refapp.healthcheck", timeout=10)
    assert ok.returncode == 0, ok.stdout
    assert ok.stdout.startswith("healthy")
    down = _run(child_env(APP_PORT=str(_free_port())), "refapp.healthcheck", timeout=10)
    assert down.returncode == 1
    assert down.stdout.startswith("unhealthy")


def test_warm_up_resolves_urls_and_touches_the_database() -> None:
    from refapp.warmup import warm_up

    seconds = warm_up()
    assert 0 <= seconds < 30
