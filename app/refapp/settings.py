"""Django settings for the reference app; configured ONLY by environment variables.

Release identity (shown by /version, response headers and metric labels):
    APP_VERSION         release version string                 default "0.0.0-dev"
    APP_COMMIT          git commit the image was built from    default "unknown"
    APP_BUILD_TIME      build time, ISO 8601                   default "unknown"
    APP_TRACK           "stable" or "canary"                   default "stable"

Django:
    DJANGO_SECRET_KEY   required unless DJANGO_DEBUG=1
    DJANGO_DEBUG        1 = debug mode (dev only; error pages stay JSON)   default 0
    ALLOWED_HOSTS       comma-separated host names             default "*"
    CSRF_TRUSTED_ORIGINS  comma-separated origins (https://example.org) allowed to
                        POST the login form through a TLS-terminating proxy; default empty
    APP_SECURE_COOKIES  1 = session and CSRF cookies are always `Secure` (set it where the app
                        is served over HTTPS only); without it they are `Secure` on requests
                        that arrived over HTTPS (X-Forwarded-Proto from a FORWARDED_ALLOW_IPS
                        proxy counts)                            default 0

Backing services:
    DATABASE_URL        postgres://user:pass@host:5432/dbname[?sslmode=...&connect_timeout=2]
                        or sqlite:///relative.db / sqlite:////abs/path.db / sqlite:///:memory:
                        required unless DJANGO_DEBUG=1 (then sqlite:///db.sqlite3)
    REDIS_URL           redis://host:6379/0; empty = in-process local-memory cache

    DATABASE_PASSWORD   the PostgreSQL password, when DATABASE_URL has none (so the URL holds no secret)

API docs login (created by `manage.py migrate` and `manage.py ensure_docs_user`):
    APP_DOCS_USER, APP_DOCS_PASSWORD   both or neither          default none
    A failed login counts against the client address and the user name: after
    LOGIN_FAILURES_ALLOWED failures within LOGIN_FAILURE_WINDOW_SECONDS the login answers 429.

Secrets from files: DJANGO_SECRET_KEY, DATABASE_URL, DATABASE_PASSWORD, APP_DOCS_PASSWORD and
REDIS_URL may instead be given as VAR_FILE=/path (e.g. a Docker secret in /run/secrets/); the
file's content is the value (one trailing newline dropped). VAR and VAR_FILE together are an error.

Uploads (POST /api/uploads):
    APP_UPLOAD_MAX_BYTES   max bytes per file                  default 1048576
    APP_UPLOAD_MAX_FILES   max files per request               default 5

Fault injection (all off by default; invalid values stop `refapp.serve` with exit 2):
    FAULT_ERROR_RATE      0.0-1.0 share of requests answered 500
                          (never /healthz, /readyz, /version, /metrics)   default 0
    FAULT_LATENCY_MS      extra latency per request, same exemptions      default 0
    FAULT_LATENCY_SHARE   0.0-1.0 share of requests that get that latency default 1
    FAULT_PATHS           comma-separated path prefixes the error and latency faults
                          apply to (/api/notes: /api/notes and /api/notes/7,
                          not /api/notesx); empty = every non-exempt path  default empty
    FAULT_METHODS         comma-separated HTTP methods they apply to
                          (POST = writes of new objects only); empty = all default empty
    FAULT_AFTER_SECONDS   faults (readiness too) start only once the process has
                          run this long: a release that turns bad later    default 0
    FAULT_READINESS_FAIL  1 = /readyz answers 503                         default 0
    FAULT_EXIT_AT_START   1 = `python3 -m refapp.serve` exits 3 at once   default 0

Serving (`python3 -m refapp.serve`):
    APP_PORT            TCP port                               default 8000
    APP_HOST            bind address                           default 0.0.0.0
    APP_DRAIN_SECONDS   after SIGTERM, seconds to keep serving with /readyz=503
                        before shutting down                   default 3
    FORWARDED_ALLOW_IPS proxies trusted for X-Forwarded-*      default 127.0.0.1
    APP_LOG_LEVEL       DEBUG/INFO/WARNING/ERROR               default INFO

Traces (refapp.tracing; off, at no cost, unless an endpoint is set):
    OTEL_EXPORTER_OTLP_ENDPOINT         an OTLP/HTTP receiver (http://otel-collector:4318): spans are
                                        posted to <url>/v1/traces             default none: no export
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  the full traces URL instead (used as it is)   default none
    OTEL_RESOURCE_ATTRIBUTES            more resource attributes (the pipeline sets
                                        deployment.environment.name=<env>)
    and the SDK's other OTEL_* variables: OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, ...
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from refapp.config import ConfigError, load_config
from refapp.logging import logging_config

try:
    CONFIG = load_config(os.environ)
except ConfigError as exc:
    raise ImproperlyConfigured(f"invalid environment: {exc}") from None

BASE_DIR = Path(__file__).resolve().parent

# --- release identity --------------------------------------------------------
APP_VERSION = CONFIG.version
APP_COMMIT = CONFIG.commit
APP_BUILD_TIME = CONFIG.build_time
APP_TRACK = CONFIG.track
#: where traces go (OTLP over HTTP); empty: tracing off (refapp.tracing)
OTLP_ENDPOINT = CONFIG.otlp_endpoint

# --- app knobs (read at request time, so tests may override them) -------------
APP_UPLOAD_MAX_BYTES = CONFIG.upload_max_bytes
APP_UPLOAD_MAX_FILES = CONFIG.upload_max_files
APP_DOCS_USER = CONFIG.docs_user
APP_DOCS_PASSWORD = CONFIG.docs_password
APP_DRAIN_SECONDS = CONFIG.drain_seconds
FAULT_ERROR_RATE = CONFIG.fault_error_rate
FAULT_LATENCY_MS = CONFIG.fault_latency_ms
FAULT_READINESS_FAIL = CONFIG.fault_readiness_fail
FAULT_PATHS = CONFIG.fault_paths
FAULT_METHODS = CONFIG.fault_methods
FAULT_LATENCY_SHARE = CONFIG.fault_latency_share
FAULT_AFTER_SECONDS = CONFIG.fault_after_seconds
#: Seconds each /readyz dependency check may take.
READINESS_TIMEOUT_SECONDS = 1.0
#: Lifetime of a cached note; writes invalidate it earlier.
NOTE_CACHE_SECONDS = 60

# --- Django core -------------------------------------------------------------
DEBUG = CONFIG.debug
SECRET_KEY = CONFIG.secret_key
ALLOWED_HOSTS = list(CONFIG.allowed_hosts)
CSRF_TRUSTED_ORIGINS = list(CONFIG.csrf_trusted_origins)
ROOT_URLCONF = "refapp.urls"
ASGI_APPLICATION = "refapp.asgi.application"
WSGI_APPLICATION = None
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "ninja",  # its templates + static files render /api/docs without a CDN
    "refapp.apps.RefappConfig",
]

MIDDLEWARE = [
    "refapp.middleware.ObservabilityMiddleware",
    "refapp.faults.FaultInjectionMiddleware",
    # Django's security, session, CSRF and auth middleware, for the login area only
    "refapp.login_area.LoginAreaMiddleware",
]

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]

# --- data --------------------------------------------------------------------
# A new PostgreSQL connection per request (scram auth and a backend fork each) saturated
# the database at ~60 requests/s. Under ASGI Django's persistent connections leak (one per
# request thread), so PostgreSQL gets psycopg's connection pool instead, as Django's docs advise.
DATABASES = {"default": {**CONFIG.database, "CONN_MAX_AGE": 0}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # reconnect_timeout: a failed reconnection backs off exponentially (1, 2, 4 ... s); giving up after 10 s lets
    # the next request start a fresh attempt at once, so the app is back within a second of the database
    # (the default, 300 s, kept it away for up to a minute after a restart; found by chaos: restart-db)
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 2, "max_size": 8, "timeout": 5, "reconnect_timeout": 10}

if CONFIG.redis_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CONFIG.redis_url,
            "KEY_PREFIX": "refapp",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_PREFIX": "refapp",
        }
    }

# --- auth (only the API docs need a login) -----------------------------------
# Sessions live in the cache (Redis in production, shared by every replica): logging out deletes
# the session, so an old cookie opens nothing (a signed-cookie session stayed valid after logout).
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 3600
SESSION_COOKIE_SECURE = CONFIG.secure_cookies
CSRF_COOKIE_SECURE = CONFIG.secure_cookies
X_FRAME_OPTIONS = "DENY"
#: Login throttling (refapp.login_area): failures per client address and per user name.
LOGIN_FAILURES_ALLOWED = 5
LOGIN_FAILURE_WINDOW_SECONDS = 60
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/api/docs"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- uploads -----------------------------------------------------------------
# Let APP_UPLOAD_MAX_FILES (checked by the app, answering 413) be the binding limit.
# Bodies are bounded before Django reads them (refapp.body_limit); a body idle this long is a 408.
BODY_IDLE_SECONDS = 30.0
DATA_UPLOAD_MAX_NUMBER_FILES = max(100, CONFIG.upload_max_files + 1)

# --- static: only django-ninja's Swagger UI assets, served by refapp.static ----
STATIC_URL = "/static/"

# --- logging -----------------------------------------------------------------
LOGGING = logging_config(CONFIG.log_level)
