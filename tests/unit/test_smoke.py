"""The smoke check's own logic: a draining task of the old release may answer /version for a moment."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline import smoke


def fake_edge(versions: list[str], ready: list[int] | None = None) -> Any:
    answers = iter(versions)
    readiness = iter(ready or [200])

    def call(url: str, method: str = "GET", payload: dict[str, Any] | None = None) -> tuple[int, dict[str, Any], float]:
        if url.endswith("/version"):
            return 200, {"version": next(answers, versions[-1]), "track": "stable"}, 0.001
        if method == "POST":
            return 201, {"id": 7, "title": "smoke", "body": (payload or {}).get("body")}, 0.001
        if url.endswith("/readyz"):
            return next(readiness, (ready or [200])[-1]), {"status": "ok"}, 0.001
        if url.endswith("/api/notes/7"):
            return 200, {"title": "smoke", "body": "b"}, 0.001
        return 200, {"status": "ok"}, 0.001

    return call


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke.time, "sleep", lambda _s: None)


def test_the_new_version_answering_after_a_draining_old_task_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke, "_call", fake_edge(["v1", "v1", "v2"]))
    checks = {c.name: c for c in smoke.smoke("http://127.0.0.1:1", expect_version="v2")}
    assert checks["/version"].ok, checks["/version"]


def test_the_old_version_staying_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke, "_call", fake_edge(["v1"]))
    checks = {c.name: c for c in smoke.smoke("http://127.0.0.1:1", expect_version="v2")}
    assert not checks["/version"].ok and "version=v1" in checks["/version"].detail


def test_a_draining_task_answering_readyz_503_for_a_moment_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke, "_call", fake_edge(["v2"], ready=[200, 503, 503, 200]))
    checks = {c.name: c for c in smoke.smoke("http://127.0.0.1:1", expect_version="v2")}
    assert checks["/readyz"].ok, checks["/readyz"]


def test_readyz_failing_throughout_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke, "_call", fake_edge(["v2"], ready=[503]))
    checks = {c.name: c for c in smoke.smoke("http://127.0.0.1:1", expect_version="v2")}
    assert not checks["/readyz"].ok and "HTTP 503" in checks["/readyz"].detail
