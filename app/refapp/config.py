"""Parse and validate the app's configuration from environment variables.

This module is pure Python (no Django import) so that ``refapp.serve`` can
validate the environment *before* Django is loaded and report a bad value as
one JSON log line. ``refapp.settings`` uses the same parser.

The variables themselves are documented in ``refapp.settings``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

T = TypeVar("T")

TRACKS = ("stable", "canary")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
DEV_SECRET_KEY = "refapp-insecure-development-key-do-not-use-in-production"
#: Variables that may instead name a file holding the value (``VAR_FILE``), e.g. a mounted secret.
FILE_VARIABLES = ("DJANGO_SECRET_KEY", "DATABASE_URL", "DATABASE_PASSWORD", "APP_DOCS_PASSWORD", "REDIS_URL")
#: Largest secret file read; a bigger one is a mistake (a wrong path), not a secret.
MAX_SECRET_FILE_BYTES = 64 * 1024


class ConfigError(ValueError):
    """One or more environment variables are missing or malformed.

    ``errors`` maps each offending variable name to a human-readable reason.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in self.errors.items()))

    @property
    def variable(self) -> str:
        """The first offending variable name."""
        return next(iter(self.errors))


@dataclass(frozen=True)
class AppConfig:
    """Validated configuration, built from the environment by :func:`load_config`."""

    version: str = "0.0.0-dev"
    commit: str = "unknown"
    build_time: str = "unknown"
    track: str = "stable"
    debug: bool = False
    secret_key: str = DEV_SECRET_KEY
    allowed_hosts: tuple[str, ...] = ("*",)
    csrf_trusted_origins: tuple[str, ...] = ()
    database: dict[str, Any] = field(default_factory=dict)
    redis_url: str = ""
    docs_user: str = ""
    docs_password: str = ""
    upload_max_bytes: int = 1_048_576
    upload_max_files: int = 5
    fault_error_rate: float = 0.0
    fault_latency_ms: int = 0
    fault_readiness_fail: bool = False
    fault_exit_at_start: bool = False
    fault_paths: tuple[str, ...] = ()
    fault_methods: tuple[str, ...] = ()
    fault_latency_share: float = 1.0
    fault_after_seconds: float = 0.0
    drain_seconds: float = 3.0
    host: str = "0.0.0.0"
    port: int = 8000
    forwarded_allow_ips: str = "127.0.0.1"
    log_level: str = "INFO"
    secure_cookies: bool = False
    otlp_endpoint: str = ""


def parse_bool(raw: str) -> bool:
    """Parse ``1/0/true/false/yes/no/on/off`` (case-insensitive, empty = false)."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"expected 0 or 1, got {raw!r}")


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise ValueError(f"expected an integer between {low} and {high}, got {raw!r}")
        return value

    return parse


def _float_in(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if math.isnan(value) or not low <= value <= high:
            raise ValueError(f"expected a number between {low} and {high}, got {raw!r}")
        return value

    return parse


#: Parse a probability between 0.0 and 1.0 inclusive.
parse_rate = _float_in(0.0, 1.0)


def parse_build_time(raw: str) -> str:
    """Check that ``raw`` is an ISO 8601 timestamp and return it unchanged."""
    try:
        datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(f"expected an ISO 8601 timestamp, got {raw!r}") from None
    return raw.strip()


def parse_track(raw: str) -> str:
    """Accept only the known release tracks."""
    value = raw.strip().lower()
    if value not in TRACKS:
        raise ValueError(f"expected one of {', '.join(TRACKS)}, got {raw!r}")
    return value


def parse_log_level(raw: str) -> str:
    """Accept a standard :mod:`logging` level name."""
    value = raw.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError(f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}")
    return value


def parse_list(raw: str) -> tuple[str, ...]:
    """Split a comma-separated list, dropping blanks."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def parse_paths(raw: str) -> tuple[str, ...]:
    """A comma-separated list of URL path prefixes, each starting with ``/``."""
    paths = parse_list(raw)
    bad = [p for p in paths if not p.startswith("/") or any(c.isspace() or c in "?#" for c in p)]
    if bad:
        raise ValueError(f"expected paths such as /api/notes,/api/uploads, got {bad[0]!r}")
    return paths


def parse_methods(raw: str) -> tuple[str, ...]:
    """A comma-separated list of HTTP methods (case-insensitive), e.g. ``POST,PUT``."""
    methods = tuple(m.upper() for m in parse_list(raw))
    bad = [m for m in methods if m not in HTTP_METHODS]
    if bad:
        raise ValueError(f"expected methods among {', '.join(sorted(HTTP_METHODS))}, got {bad[0]!r}")
    return methods


def parse_database_url(url: str) -> dict[str, Any]:
    """Turn a ``DATABASE_URL`` into a Django ``DATABASES['default']`` dict.

    Supported forms::

        postgres://user:pass@host:5432/dbname?sslmode=require&connect_timeout=2
        postgresql://...              (same as postgres://)
        sqlite:///relative/path.db    sqlite:////absolute/path.db    sqlite:///:memory:

    Query parameters of a PostgreSQL URL are passed to libpq as ``OPTIONS``;
    ``connect_timeout`` defaults to 2 seconds so that /readyz stays fast.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc:
            raise ValueError("sqlite URLs look like sqlite:///path (three slashes)")
        name = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
        if not name:
            raise ValueError("sqlite URL has no file path")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name}
    if scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not name:
            raise ValueError("expected postgres://user:pass@host:5432/dbname")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("the port is not a number") from None
        options: dict[str, Any] = {"connect_timeout": 2}
        options.update(parse_qsl(parts.query))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname,
            "PORT": str(port or 5432),
            "OPTIONS": options,
        }
    raise ValueError(f"unsupported scheme {scheme!r}: use postgres:// or sqlite:///")


def check_redis_url(raw: str) -> str:
    """Accept an empty value (local memory cache) or a redis:// / rediss:// URL."""
    value = raw.strip()
    if value and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("expected redis://host:6379/0 (or empty for a local cache)")
    return value


def parse_otlp_endpoint(raw: str) -> str:
    """An http(s) URL of an OTLP/HTTP receiver (the SDK appends /v1/traces to the general one)."""
    value = raw.strip()
    try:
        parts = urlsplit(value)
        ok = parts.scheme in {"http", "https"} and bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:  # a port that is not a number, an unclosed [IPv6
        ok = False
    if not ok or any(c.isspace() for c in value):
        raise ValueError(f"expected an http(s) URL such as http://otel-collector:4318, got {raw!r}")
    return value


def read_secret_file(raw: str) -> str:
    """The content of the file at ``raw`` (one trailing newline dropped); ValueError if unreadable."""
    path = raw.strip()
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise ValueError(f"{path!r} is larger than {MAX_SECRET_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path!r} is not UTF-8 text") from None
    return text.removesuffix("\n").removesuffix("\r")


def resolve_files(env: Mapping[str, str], errors: dict[str, str]) -> dict[str, str]:
    """``env`` with each ``VAR_FILE`` of :data:`FILE_VARIABLES` replaced by ``VAR`` = the file's content.

    Setting both ``VAR`` and ``VAR_FILE`` is an error (which one wins would be a guess).
    """
    resolved = dict(env)
    for var in FILE_VARIABLES:
        file_var = f"{var}_FILE"
        path = env.get(file_var, "").strip()
        if not path:
            continue
        if env.get(var, "").strip():
            errors[file_var] = f"set {var} or {file_var}, not both"
            continue
        try:
            resolved[var] = read_secret_file(path)
        except ValueError as exc:
            errors[file_var] = str(exc)
    return resolved


def load_config(env: Mapping[str, str]) -> AppConfig:
    """Build an :class:`AppConfig` from ``env``; raise :class:`ConfigError` on bad input.

    Every problem is collected, so one run names all offending variables. Secrets may
    come from files (``DJANGO_SECRET_KEY_FILE`` ..., see :data:`FILE_VARIABLES`).
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    env = resolve_files(env, errors)

    def take(var: str, key: str, parse: Callable[[str], T], *, skip_empty: bool = True) -> None:
        raw = env.get(var)
        if raw is None or (skip_empty and raw.strip() == ""):
            return
        try:
            values[key] = parse(raw)
        except ValueError as exc:
            errors[var] = str(exc)

    take("DJANGO_DEBUG", "debug", parse_bool)
    debug = bool(values.get("debug", False))

    take("APP_VERSION", "version", str.strip)
    take("APP_COMMIT", "commit", str.strip)
    take("APP_BUILD_TIME", "build_time", parse_build_time)
    take("APP_TRACK", "track", parse_track)
    take("ALLOWED_HOSTS", "allowed_hosts", parse_list)
    take("CSRF_TRUSTED_ORIGINS", "csrf_trusted_origins", parse_list)
    take("REDIS_URL", "redis_url", check_redis_url)
    take("APP_UPLOAD_MAX_BYTES", "upload_max_bytes", _int_in(1, 1 << 40))
    take("APP_UPLOAD_MAX_FILES", "upload_max_files", _int_in(1, 10_000))
    take("FAULT_ERROR_RATE", "fault_error_rate", parse_rate)
    take("FAULT_LATENCY_MS", "fault_latency_ms", _int_in(0, 600_000))
    take("FAULT_READINESS_FAIL", "fault_readiness_fail", parse_bool)
    take("FAULT_EXIT_AT_START", "fault_exit_at_start", parse_bool)
    take("FAULT_PATHS", "fault_paths", parse_paths)
    take("FAULT_METHODS", "fault_methods", parse_methods)
    take("FAULT_LATENCY_SHARE", "fault_latency_share", parse_rate)
    take("FAULT_AFTER_SECONDS", "fault_after_seconds", _float_in(0.0, 86_400.0))
    take("APP_DRAIN_SECONDS", "drain_seconds", _float_in(0.0, 3600.0))
    take("APP_HOST", "host", str.strip)
    take("APP_PORT", "port", _int_in(1, 65535))
    take("FORWARDED_ALLOW_IPS", "forwarded_allow_ips", str.strip)
    take("APP_LOG_LEVEL", "log_level", parse_log_level)
    take("APP_SECURE_COOKIES", "secure_cookies", parse_bool)
    # traces are on when either endpoint is set; the SDK itself picks the traces one first
    take("OTEL_EXPORTER_OTLP_ENDPOINT", "otlp_endpoint", parse_otlp_endpoint)
    take("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "otlp_endpoint", parse_otlp_endpoint)

    secret_key = env.get("DJANGO_SECRET_KEY", "").strip()
    if secret_key:
        values["secret_key"] = secret_key
    elif not debug:
        errors["DJANGO_SECRET_KEY"] = "is required (unless DJANGO_DEBUG=1)"

    database_url = env.get("DATABASE_URL", "").strip()
    if not database_url and debug:
        database_url = "sqlite:///db.sqlite3"
    if not database_url:
        errors["DATABASE_URL"] = "is required, e.g. postgres://user:pass@host:5432/dbname"
    else:
        try:
            values["database"] = parse_database_url(database_url)
        except ValueError as exc:
            errors["DATABASE_URL"] = str(exc)
    database_password = env.get("DATABASE_PASSWORD", "")
    if database_password and "database" in values:
        if values["database"]["ENGINE"] != "django.db.backends.postgresql":
            errors["DATABASE_PASSWORD"] = "needs a postgres:// DATABASE_URL"
        elif values["database"]["PASSWORD"]:
            errors["DATABASE_PASSWORD"] = "DATABASE_URL already has a password: give it in one place"
        else:
            values["database"]["PASSWORD"] = database_password

    docs_user = env.get("APP_DOCS_USER", "").strip()
    docs_password = env.get("APP_DOCS_PASSWORD", "")
    if bool(docs_user) != bool(docs_password):
        missing = "APP_DOCS_PASSWORD" if docs_user else "APP_DOCS_USER"
        errors[missing] = "APP_DOCS_USER and APP_DOCS_PASSWORD must be set together"
    values["docs_user"] = docs_user
    values["docs_password"] = docs_password

    if errors:
        raise ConfigError(errors)
    return AppConfig(**values)
