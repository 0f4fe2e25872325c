"""Structured JSON logging: one JSON object per line on stdout.

Every record carries ``time`` (ISO 8601, UTC), ``level``, ``logger`` and
``message``; anything passed through ``extra=`` is added as top-level keys,
and the id of the request being served (if any) as ``request_id``.
This module must not import Django: ``refapp.serve`` uses it before setup.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

#: The id of the request being handled in the current context ("" outside one).
request_id_var: ContextVar[str] = ContextVar("refapp_request_id", default="")

# Attributes every LogRecord has; everything else came in through ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()) | {
    "message",
    "asctime",
    "taskName",
}
# Extras that other libraries attach and that are noise in JSON.
_DROPPED_EXTRAS = frozenset({"color_message", "request", "server_time"})


class JsonFormatter(logging.Formatter):
    """Format a :class:`logging.LogRecord` as a single JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` with its extras; exceptions go under ``exception``."""
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            payload["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in _DROPPED_EXTRAS:
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class OnlyExceptions(logging.Filter):
    """Let through only records that carry a traceback.

    ``django.request`` logs every 5xx response; the app's own request log
    already has those, so only its exception tracebacks are worth keeping.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """True when ``record`` has exception info."""
        return bool(record.exc_info)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """Return a :func:`logging.config.dictConfig` dict sending JSON to stdout.

    Used both as Django's ``LOGGING`` setting and by ``refapp.serve`` before
    Django starts. Uvicorn's access log is silenced: the app logs requests itself.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "refapp.logging.JsonFormatter"}},
        "filters": {"only_exceptions": {"()": "refapp.logging.OnlyExceptions"}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
            },
            "stdout_exceptions": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
                "filters": ["only_exceptions"],
            },
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # Requests are in our own log; keep only Django's tracebacks.
            "django.request": {
                "handlers": ["stdout_exceptions"],
                "level": "ERROR",
                "propagate": False,
            },
            "django.server": {"level": "ERROR"},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "uvicorn": {"level": level},
        },
    }


def configure(level: str = "INFO") -> None:
    """Apply :func:`logging_config` to the running process."""
    import logging.config

    logging.config.dictConfig(logging_config(level))


def emit(event: str, level: int = logging.INFO, *, logger_name: str = "refapp", **fields: Any) -> None:
    """Log one structured ``event`` line (plus ``fields``) and flush stdout."""
    logging.getLogger(logger_name).log(level, event, extra={"event": event, **fields})
    sys.stdout.flush()
