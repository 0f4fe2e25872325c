"""Warm the process up before it listens, so its first real requests are not its slowest.

A fresh task joins the edge's DNS answer as soon as its health check passes; without
this its first requests paid for lazy imports, URL resolution and opening database
connections, which a canary analysis rightly sees as a slower release.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("refapp.warmup")


def warm_up() -> float:
    """Resolve the URLconf, import the views and open the database pool; return seconds spent.

    Never fails the start: a database that is not there yet is the readiness probe's business.
    """
    started = time.monotonic()
    from django.db import connection
    from django.urls import get_resolver

    from refapp import (
        api,  # noqa: F401 - builds the API's schemas and routes
        flags,
    )

    flags.client()  # starts the flag provider: loads APP_FLAGS_FILE and its watcher

    get_resolver().url_patterns  # noqa: B018 - resolving the patterns imports every view
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        log.warning("warm-up could not reach the database", extra={"event": "warmup", "error": str(exc)})
    finally:
        connection.close()  # back to the pool; uvicorn's threads take their own
    return time.monotonic() - started
