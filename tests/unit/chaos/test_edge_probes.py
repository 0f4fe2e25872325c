"""The edge-log probe: what users saw over a window, never before this experiment's own load."""

from __future__ import annotations

import json

import pytest

import chaosstack._stack as stack_module
from chaosstack.edge import probes
from pipeline.commands import Command, Result
from pipeline.testing import FakeExecutor
from tests.unit.chaos.conftest import CONFIG


def line(ts: float, status: int, seconds: float = 0.02) -> str:
    return json.dumps({"msec": ts, "track": "stable", "status": status, "request_time": seconds, "uri": "/version"})


@pytest.fixture
def log(fake: FakeExecutor, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    lines: list[str] = []
    body = lambda: "".join(x + "\n" for x in lines)  # noqa: E731

    def answer(command: Command) -> Result:
        script = command.argv[-1]
        if script.startswith("stat"):
            return Result(0, f"{len(body())}\n")
        return Result(0, f"{len(body())}\n\n{body()}")

    fake.on("docker", "exec", "pl-ci-edge", "sh", "-c", result=answer)
    monkeypatch.setattr(stack_module, "_clock", lambda: 110.0)
    return lines


def test_window_counts_5xx_and_499_as_failed(log: list[str]) -> None:
    log += [line(101, 200), line(102, 502), line(103, 499), line(104, 200), line(105, 200, 0.3)]
    seen = probes.edge_window(10, configuration=CONFIG)
    assert (seen["requests"], seen["failed"]) == (5, 2)
    assert not probes.error_rate_within(max_error_rate=0.1, window_seconds=10, configuration=CONFIG)
    assert probes.error_rate_within(max_error_rate=0.5, window_seconds=10, configuration=CONFIG)
    assert not probes.error_rate_within(max_error_rate=0.5, window_seconds=10, max_p95_ms=100, configuration=CONFIG)


def test_window_never_reaches_before_the_load_began(log: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    log += [line(101, 499), line(101.5, 499)] + [line(106 + i / 10, 200) for i in range(20)]
    assert not probes.error_rate_within(window_seconds=10, configuration=CONFIG)
    monkeypatch.setenv(probes.LOAD_STARTED_VAR, "105")  # the previous experiment's k6 stopped before this one began
    assert probes.error_rate_within(window_seconds=10, configuration=CONFIG)


def test_silence_is_not_a_steady_state(log: list[str]) -> None:
    log += [line(109, 200)]
    assert not probes.error_rate_within(window_seconds=10, min_requests=5, configuration=CONFIG)
