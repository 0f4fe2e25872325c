"""Feature flags, evaluated in-process through OpenFeature and the flagd provider in file mode.

The definitions (flagd JSON) come from ``APP_FLAGS_FILE`` (in a task: ``/flags/flags.json``,
a read-only bind mount of a host directory the pipeline writes with an atomic rename).
The provider's file watcher re-reads the file when its mtime changes; it polls every
``deadline_ms``, set here from ``APP_FLAGS_POLL_MS`` (100 ms by default: one ``stat`` each), which bounds the
time a toggle takes to reach this process. No file, or a broken one: every flag evaluates
to the default coded at its call site, and the last good definitions stay in force.

The evaluation context's targeting key is the user key (``X-User-Key`` header, else the
``uid`` cookie, else ``anonymous``), so fractional rollouts are sticky per user.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent

log = logging.getLogger("refapp.flags")

DOMAIN = "refapp"
USER_HEADER = "X-User-Key"
USER_COOKIE = "uid"
ANONYMOUS = "anonymous"

# Every flag the app reads, with the value it falls back to (no file, unknown flag, wrong type).
DEFAULTS: Mapping[str, Any] = {
    "notes-excerpt": False,
    "uploads-enabled": True,
    "new-notes-ui": False,
    "greeting": "Hello",
    "notes-page-size": 50,
    "ui-theme": {},
}

_lock = threading.Lock()
_client: OpenFeatureClient | None = None
_provider: FlagdProvider | None = None
_state: dict[str, Any] = {"loads": 0, "error": None, "loaded_at": None}


def _on_change(details: EventDetails) -> None:  # handlers run on the SDK's event threads
    _state["loads"] += 1
    _state["error"] = None
    _state["loaded_at"] = time.time()
    revision = (details.metadata or {}).get("revision")
    log.info("flags loaded", extra={"event": "flags_loaded", "revision": revision, "changed": details.flags_changed})


def _on_error(details: EventDetails) -> None:
    _state["error"] = details.message
    log.warning("flags not loaded", extra={"event": "flags_error", "error": details.message})


def configure(path: str | None = None, poll_ms: int | None = None) -> None:
    """(Re)start the provider on ``path`` (default ``APP_FLAGS_FILE``); no path: code defaults only."""
    global _client, _provider
    path = os.environ.get("APP_FLAGS_FILE", "") if path is None else path
    poll = int(os.environ.get("APP_FLAGS_POLL_MS", "100")) if poll_ms is None else poll_ms
    with _lock:
        if _provider is not None:
            _provider.shutdown()
            _provider = None
        api.clear_providers()
        _state.update(loads=0, error=None, loaded_at=None)
        api.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, _on_change)
        api.add_handler(ProviderEvent.PROVIDER_ERROR, _on_error)
        if path:
            _provider = FlagdProvider(resolver_type=ResolverType.FILE, offline_flag_source_path=path, deadline_ms=poll)
            # Its one hook merges metadata of flagd's gRPC sync stream into the context: always
            # empty in file mode, and a third of an evaluation's cost (see docs/benchmarks.md).
            _provider.hooks = []
            try:
                api.set_provider_and_wait(_provider, domain=DOMAIN)
            except Exception as exc:  # a missing/broken file: defaults now, the watcher keeps trying
                _state["error"] = str(exc) or type(exc).__name__
                log.warning("flags file not loaded", extra={"event": "flags_error", "error": _state["error"]})
        _client = api.get_client(domain=DOMAIN)


def client() -> OpenFeatureClient:
    if _client is None:
        configure()
    assert _client is not None
    return _client


def user_key(request: HttpRequest) -> str:
    key = request.headers.get(USER_HEADER) or request.COOKIES.get(USER_COOKIE) or ""
    return key.strip()[:200] or ANONYMOUS


def context_for(request: HttpRequest) -> EvaluationContext:
    """The request's evaluation context, made once per request."""
    cached = getattr(request, "_flags_context", None)
    if cached is None:
        cached = EvaluationContext(targeting_key=user_key(request))
        request._flags_context = cached  # type: ignore[attr-defined]
    return cached


def value(key: str, ctx: EvaluationContext) -> Any:
    """Evaluate one known flag with the type of its default."""
    default = DEFAULTS[key]
    c = client()
    if isinstance(default, bool):
        return c.get_boolean_value(key, default, ctx)
    if isinstance(default, str):
        return c.get_string_value(key, default, ctx)
    if isinstance(default, int):
        return c.get_integer_value(key, default, ctx)
    if isinstance(default, float):
        return c.get_float_value(key, default, ctx)
    return c.get_object_value(key, default, ctx)


def evaluate(request: HttpRequest, key: str) -> Any:
    """The value of ``key`` for this request's user; remembered for the ``X-Flags`` digest."""
    result = value(key, context_for(request))
    seen = getattr(request, "_flags_seen", None)
    if seen is None:
        seen = {}
        request._flags_seen = seen  # type: ignore[attr-defined]
    seen[key] = result
    return result


def all_values(ctx: EvaluationContext) -> dict[str, Any]:
    return {key: value(key, ctx) for key in DEFAULTS}


def revision() -> str | None:
    """``metadata.revision`` of the definition set in force (flagd merges it into every flag's metadata)."""
    details = client().get_boolean_details("uploads-enabled", True, EvaluationContext(targeting_key=ANONYMOUS))
    found = (details.flag_metadata or {}).get("revision")
    return str(found) if found is not None else None


def digest(values: Mapping[str, Any]) -> str:
    """A short, stable digest of evaluated values (the ``X-Flags`` header)."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def seen_digest(request: HttpRequest) -> str | None:
    seen = getattr(request, "_flags_seen", None)
    return digest(seen) if seen else None


def snapshot(request: HttpRequest) -> dict[str, Any]:
    """What ``GET /flags`` shows: the loaded revision and every flag evaluated for this user."""
    values = all_values(context_for(request))
    return {
        "revision": revision(),
        "loads": _state["loads"],
        "loaded_at": _state["loaded_at"],
        "error": _state["error"],
        "user": user_key(request),
        "values": values,
        "digest": digest(values),
    }
