"""Smoke checks through the edge: what a user would see first."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _call(
    url: str, method: str = "GET", body: dict[str, Any] | None = None, timeout: float = 5.0
) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            headers = dict(response.headers.items())
            status = response.status
    except urllib.error.HTTPError as exc:
        return exc.code, {}, dict(exc.headers.items())
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        return 0, {"error": str(exc)}, {}
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {}
    return status, parsed if isinstance(parsed, dict) else {"items": parsed}, headers


def _until_ok(url: str, ok: Callable[[int, dict[str, Any]], bool], tries: int, pause: float) -> tuple[int, dict[str, Any]]:
    """GET ``url`` up to ``tries`` times, ``pause`` s apart, until ``ok``; the last answer either way.

    A task of the old release draining after an update may answer for a moment (503 from
    /readyz, the old version from /version) before it leaves the edge's DNS answer."""
    for attempt in range(tries):
        status, body, _ = _call(url)
        if ok(status, body) or attempt == tries - 1:
            break
        time.sleep(pause)
    return status, body


def smoke(base_url: str, expect_version: str | None = None, retries: int = 10) -> list[Check]:
    """health, readiness, version, and an API write then read, through the edge."""
    checks: list[Check] = []
    for path in ("/edge/healthz", "/healthz", "/readyz"):
        tries = retries if path == "/readyz" else 1
        status, body = _until_ok(base_url + path, lambda code, _body: code == 200, tries, 1.0)
        checks.append(Check(path, status == 200, f"HTTP {status}" + (f" {body.get('error')}" if status == 0 else "")))

    def right_version(code: int, answer: dict[str, Any]) -> bool:
        return code == 200 and (expect_version is None or answer.get("version") == expect_version)

    status, body = _until_ok(f"{base_url}/version", right_version, retries * 2, 0.5)
    version = body.get("version")
    ok = right_version(status, body)
    checks.append(Check("/version", ok, f"HTTP {status} version={version} track={body.get('track')}"))
    status, created, _ = _call(f"{base_url}/api/notes", "POST", {"title": "smoke", "body": f"smoke at {time.time():.0f}"})
    note_id = created.get("id")
    checks.append(Check("POST /api/notes", status in (200, 201) and note_id is not None, f"HTTP {status} id={note_id}"))
    if note_id is not None:
        status, read, _ = _call(f"{base_url}/api/notes/{note_id}")
        same = read.get("title") == "smoke" and read.get("body") == created.get("body")
        checks.append(
            Check("GET /api/notes/{id}", status == 200 and same, f"HTTP {status} read back {'same' if same else 'different'}")
        )
    return checks
