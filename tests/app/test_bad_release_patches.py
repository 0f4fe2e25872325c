"""The bench's bad releases made of code (perf/releases/*.patch) really are bad, and only where they say.

Each patch is applied to a copy of app/ in a temporary directory (never to this tree) and a
child process sends requests through the ASGI stack of the patched app; the same probe on the
unpatched copy is the control.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RELEASES = ROOT / "perf" / "releases"

PROBE = """
import asyncio, json, random, sys, time
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import AsyncClient

random.seed(12)
client = AsyncClient()

async def main():
    out = {}
    for i in range(5):
        await client.post("/api/notes", {"title": f"seed {i}", "body": "b"}, content_type="application/json")
    for name, method, path, count in json.loads(sys.argv[1]):
        statuses, slowest = {}, 0.0
        for i in range(count):
            start = time.monotonic()
            if method == "POST":
                r = await client.post(path, {"title": f"bench 1-{i}", "body": "b"}, content_type="application/json")
            else:
                r = await client.get(path)
            slowest = max(slowest, time.monotonic() - start)
            statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
        out[name] = {"statuses": statuses, "slowest": slowest}
    print(json.dumps(out))

asyncio.run(main())
"""

# (name, method, path, requests): the bench's reads and writes (perf/mixed.js)
TRAFFIC = [("list", "GET", "/api/notes?limit=5", 200), ("version", "GET", "/version", 20), ("write", "POST", "/api/notes", 200)]


Traffic = list[tuple[str, str, str, int]]
Run = Callable[..., dict[str, dict[str, object]]]


def probe(tmp_path: Path, env: dict[str, str], patch: str | None, traffic: Traffic = TRAFFIC) -> dict[str, dict[str, object]]:
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "app", copy / "app", ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    if patch is not None:
        subprocess.run(["git", "apply", str(RELEASES / patch)], cwd=copy, check=True, capture_output=True)
    env = dict(
        env,
        PYTHONPATH=str(copy / "app"),
        DJANGO_SETTINGS_MODULE="refapp.settings",
        APP_LOG_LEVEL="CRITICAL",
        DATABASE_URL=f"sqlite:///{tmp_path / 'probe.sqlite3'}",  # a file: the ORM's threads share it
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(traffic)], cwd=copy, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def failed(result: dict[str, dict[str, object]], name: str) -> int:
    statuses = result[name]["statuses"]
    assert isinstance(statuses, dict)
    return sum(n for code, n in statuses.items() if int(code) >= 500)


def slowest(result: dict[str, dict[str, object]], name: str) -> float:
    value = result[name]["slowest"]
    assert isinstance(value, float)
    return value


@pytest.fixture
def run(tmp_path: Path, child_env: Callable[..., dict[str, str]]) -> Run:
    return lambda patch, traffic=TRAFFIC: probe(tmp_path, child_env(), patch, traffic)


def test_control_unpatched_copy_serves_everything(run: Run) -> None:
    result = run(None)
    assert failed(result, "list") == failed(result, "write") == failed(result, "version") == 0
    assert slowest(result, "list") < 0.2


def test_paging_stats_fail_a_few_list_requests_only(run: Run) -> None:
    result = run("notes-list-paging-stats.patch")
    assert 1 <= failed(result, "list") <= 20  # about 3 % of 200
    assert failed(result, "write") == failed(result, "version") == 0


def test_audit_fails_a_few_writes_only(run: Run) -> None:
    result = run("notes-create-audit.patch")
    assert 2 <= failed(result, "write") <= 25  # about 5 % of 200, answered 503 (a database error)
    assert result["write"]["statuses"].get("503", 0) == failed(result, "write")  # type: ignore[attr-defined]
    assert failed(result, "list") == failed(result, "version") == 0


def test_debug_sleep_slows_the_list_only(run: Run) -> None:
    few = [(name, method, path, 4) for name, method, path, _ in TRAFFIC]
    result = run("notes-list-debug-sleep.patch", few)
    assert failed(result, "list") == failed(result, "write") == 0
    assert slowest(result, "version") < 0.2 <= slowest(result, "list")


def test_every_patch_here_is_probed() -> None:
    assert sorted(p.name for p in RELEASES.glob("*.patch")) == [
        "notes-create-audit.patch",
        "notes-list-debug-sleep.patch",
        "notes-list-paging-stats.patch",
    ]
