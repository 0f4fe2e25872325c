"""Docker HEALTHCHECK: ``python3 -m refapp.healthcheck`` (liveness only).

GETs ``http://127.0.0.1:$APP_PORT/healthz`` with a 2 s timeout; exits 0 when it
answers 200 ``{"status": "ok"}``, else 1. Imports nothing but the stdlib.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

TIMEOUT_SECONDS = 2.0


def check(env: Mapping[str, str], timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    """Probe /healthz; return (healthy, one-line reason)."""
    raw_port = env.get("APP_PORT", "").strip() or "8000"
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        return False, f"invalid APP_PORT {raw_port!r}"
    url = f"http://127.0.0.1:{int(raw_port)}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
            body = response.read(4096)
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return False, f"{url} unreachable: {exc}"
    try:
        healthy = status == 200 and json.loads(body).get("status") == "ok"
    except (ValueError, AttributeError):
        healthy = False
    return healthy, f"{url} answered {status}"


def main() -> int:
    """Run the probe, print its outcome, return the exit code."""
    healthy, reason = check(os.environ)
    print(("healthy: " if healthy else "unhealthy: ") + reason)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
