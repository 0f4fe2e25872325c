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
from datetime import datetime, timezone
from typing import Any

#: The id of the request being handled in the current context ("" outside one).
request_id_var: ContextVar[str] = ContextVar("refapp_request_id", default="")

# Attributes every LogRecord has; everything else came in through ``extra=``.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName"}
# Extras that other libraries attach and that are noise in JSON.
_DROPPED_EXTRAS = frozenset({"color_message", "request", "server_time"})


class JsonFormatter(logging.Formatter):
    """Format a :class:`logging.LogRecord` as a single JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` with its extras; exceptions go under ``exception``."""
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
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


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """Return a :func:`logging.config.dictConfig` dict sending JSON to stdout.

    Used both as Django's ``LOGGING`` setting and by ``refapp.serve`` before
    Django starts. Uvicorn's access log is silenced: the app logs requests itself.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "refapp.logging.JsonFormatter"}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # 4xx are already in our request log; keep Django's 5xx tracebacks.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "ERROR"},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "uvicorn": {"level": level},
        },
    }


def configure(level: str = "INFO") -> None:
    """Apply :func:`logging_config` to the running process."""
    import logging.config

    logging.config.dictConfig(logging_config(level))


def emit(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event line from the ``refapp`` logger and flush stdout."""
    logging.getLogger("refapp").log(level, event, extra={"event": event, **fields})
    sys.stdout.flush()
