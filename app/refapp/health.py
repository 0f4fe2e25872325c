"""Probe endpoints: /healthz (liveness), /readyz (readiness) and /version."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from refapp import timing
from refapp.faults import armed
from refapp.state import DRAIN

_READY_KEY = f"readyz:{socket.gethostname()}:{os.getpid()}"


async def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process serves HTTP. Never touches the database or cache."""
    return JsonResponse({"status": "ok"})


def _select_one() -> None:
    # Runs in the request's thread-sensitive worker, where its DB connection lives.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def check_database() -> None:
    """Raise unless the database answers ``SELECT 1``."""
    with timing.timed("db"):
        await sync_to_async(_select_one)()


def _set_get(token: str) -> object:
    cache.set(_READY_KEY, token, timeout=30)
    return cache.get(_READY_KEY)


async def check_cache() -> None:
    """Raise unless the cache stores and returns a value.

    Runs outside the thread-sensitive worker, so a hanging database check
    cannot delay (and falsely fail) the cache check.
    """
    token = secrets.token_hex(8)
    with timing.timed("cache"):
        value = await sync_to_async(_set_get, thread_sensitive=False)(token)
    if value != token:
        raise RuntimeError("cache returned a different value")


async def _run_check(check: Callable[[], Awaitable[None]], timeout: float) -> str:
    try:
        await asyncio.wait_for(check(), timeout=timeout)
    except TimeoutError:
        return f"timeout after {timeout:g}s"
    except Exception as exc:  # any failure means "not ready"; report it
        return f"{type(exc).__name__}: {exc}"[:300]
    return "ok"


async def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when DB and cache work and the process is not draining, else 503.

    The body names what failed: ``{"status": "unavailable", "failed": [...], "checks": {...}}``.
    """
    if DRAIN.is_draining:
        return JsonResponse(
            {"status": "unavailable", "failed": ["draining"], "checks": {"draining": True}},
            status=503,
        )
    if settings.FAULT_READINESS_FAIL and armed():
        return JsonResponse(
            {
                "status": "unavailable",
                "failed": ["fault"],
                "checks": {"fault": "FAULT_READINESS_FAIL=1"},
            },
            status=503,
        )
    timeout = float(settings.READINESS_TIMEOUT_SECONDS)
    db_result, cache_result = await asyncio.gather(_run_check(check_database, timeout), _run_check(check_cache, timeout))
    checks = {"database": db_result, "cache": cache_result}
    failed = [name for name, result in checks.items() if result != "ok"]
    if failed:
        return JsonResponse({"status": "unavailable", "failed": failed, "checks": checks}, status=503)
    return JsonResponse({"status": "ok", "checks": checks})


async def version(request: HttpRequest) -> JsonResponse:
    """The running release: version, commit, track and build time."""
    return JsonResponse(
        {
            "version": settings.APP_VERSION,
            "commit": settings.APP_COMMIT,
            "track": settings.APP_TRACK,
            "build_time": settings.APP_BUILD_TIME,
        }
    )
