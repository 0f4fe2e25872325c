"""ASGI middleware in front of Django: request bodies are bounded before Django reads them.

Django's ASGI handler reads a whole body (to a temporary file) before any view runs, so a
view's size check came too late: a 200 MiB upload was written to disk before its 413, and a
``Content-Length`` of 10^12 with 7 bytes sent held the connection. Here, for every request:

* a declared ``Content-Length`` above the path's limit is answered 413 at once, unread;
* the bytes are counted as they stream in, and the request gets its 413 as soon as the
  count crosses the limit (Django then sees a disconnect and stops);
* a body that stalls for ``BODY_IDLE_SECONDS`` is answered 408;
* a chunked body (no ``Content-Length``) gets its length once complete, so Django's
  multipart parser reads it (it ignored bodies without a length: "no files in the request").

The limit of ``/api/uploads`` follows APP_UPLOAD_MAX_BYTES and APP_UPLOAD_MAX_FILES (plus
multipart overhead); every other path gets Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

from refapp import metrics
from refapp.uploads import allowed_request_bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATHS = frozenset({"/api/uploads", "/api/uploads/"})
logger = logging.getLogger("refapp.body_limit")


def body_limit(path: str) -> tuple[int, str, int]:
    """``(bytes allowed, the limit's name, the limit's configured value)`` for a request to ``path``."""
    if path in UPLOAD_PATHS:
        max_bytes = int(settings.APP_UPLOAD_MAX_BYTES)
        return allowed_request_bytes(max_bytes, int(settings.APP_UPLOAD_MAX_FILES)), "APP_UPLOAD_MAX_BYTES", max_bytes
    limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) or 2_621_440
    return limit, "DATA_UPLOAD_MAX_MEMORY_SIZE", limit


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``; None without one; -1 when it is not a number."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None


class BodyLimit:
    """Wrap an ASGI app so that no request body beyond its limit is read (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = str(scope.get("path", ""))
        limit, limit_name, value = body_limit(path)
        declared = declared_length(scope)
        if declared == -1:
            await _answer(send, 400, {"error": "malformed Content-Length"})
            return
        if declared is not None and declared > limit:
            await self._too_large(send, path, scope, limit_name, value, start)
            return
        state = {"seen": 0, "answered": False, "complete": False}
        idle = float(getattr(settings, "BODY_IDLE_SECONDS", 30.0))

        async def counted_receive() -> Message:
            if state["answered"]:
                return {"type": "http.disconnect"}
            if state["complete"]:
                # the body is in: what follows is Django waiting for a disconnect while the view runs;
                # pass it straight through (a wait_for here can swallow the task's cancellation and
                # turn a finished request into RequestAborted, mid-transaction)
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout=idle)
            except TimeoutError:
                state["answered"] = True
                await _answer(send, 408, {"error": f"the request body stalled for {idle:g} s"})
                return {"type": "http.disconnect"}
            if message["type"] != "http.request":
                return message
            state["seen"] += len(message.get("body", b""))
            if state["seen"] > limit:
                state["answered"] = True
                await self._too_large(send, path, scope, limit_name, value, start)
                return {"type": "http.disconnect"}  # Django stops reading and answers nothing
            if not message.get("more_body", False):
                state["complete"] = True
            if not message.get("more_body", False) and declared is None:
                # a chunked body is complete: Django's parsers need its length (read when the request is built)
                scope["headers"] = [*scope.get("headers", []), (b"content-length", str(state["seen"]).encode())]
            return message

        async def guarded_send(message: Message) -> None:
            if not state["answered"]:
                await send(message)

        await self.app(scope, counted_receive, guarded_send)

    @staticmethod
    async def _too_large(send: Send, path: str, scope: Scope, limit_name: str, value: int, start: float) -> None:
        await _answer(send, 413, {"error": "request body too large", "limit": limit_name, "value": value})
        route = path if path in UPLOAD_PATHS else "<body-limit>"
        metrics.observe_request(route.rstrip("/") or "/", str(scope.get("method", "")), 413, time.perf_counter() - start)
        logger.warning(
            "request body too large",
            extra={"event": "request", "method": scope.get("method"), "path": path, "status": 413, "limit": limit_name},
        )


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    """A JSON answer that also closes the connection (the rest of the body is never read)."""
    data = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"connection", b"close"),
        (b"x-content-type-options", b"nosniff"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data, "more_body": False})
