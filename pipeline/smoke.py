"""Smoke checks through the edge: what a user would see first."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
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


def smoke(base_url: str, expect_version: str | None = None, retries: int = 10) -> list[Check]:
    """health, readiness, version, and an API write then read, through the edge."""
    checks: list[Check] = []
    for path in ("/edge/healthz", "/healthz", "/readyz"):
        # a task of the old release draining after an update answers /readyz 503 for a moment
        for attempt in range(retries if path == "/readyz" else 1):
            status, body, _ = _call(base_url + path)
            if status == 200 or attempt == retries - 1:
                break
            time.sleep(1)
        checks.append(Check(path, status == 200, f"HTTP {status}" + (f" {body.get('error')}" if status == 0 else "")))
    for attempt in range(retries * 2):
        # a draining task of the old release may answer for a moment after the update completed
        status, body, _ = _call(f"{base_url}/version")
        version = body.get("version")
        ok = status == 200 and (expect_version is None or version == expect_version)
        if ok or attempt == retries * 2 - 1:
            break
        time.sleep(0.5)
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
