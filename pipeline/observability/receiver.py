"""A webhook receiver that records what Alertmanager posts, for the e2e suite and `make bench-alert`.

This file runs alone (standard library only) in a container of the base image on the stack's
network, under the name and port observability.webhook names (environments/ci/env.yaml); it
answers every POST 200 and prints one JSON line per post: when it arrived (this machine's clock,
which the container shares) and the body. ``container`` describes that container; ``posts``
reads its lines (``docker logs``)."""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {"unparsed": body.decode("utf-8", "replace")}
        print(json.dumps({"received": time.time(), "path": self.path, "body": parsed}), flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def container(webhook: str, network: str, image: str, labels: dict[str, str]) -> list[str]:
    """``docker run`` arguments for the receiver ``webhook`` names (its host: the container's name)."""
    parts = urlsplit(webhook)
    if not parts.hostname or parts.port is None:
        raise ValueError(f"observability.webhook {webhook!r} names no container and port for the receiver")
    argv = ["docker", "run", "--detach", "--name", parts.hostname, "--network", network]
    for key, value in sorted(labels.items()):
        argv += ["--label", f"{key}={value}"]
    src = Path(__file__).resolve()
    return [*argv, "--mount", f"type=bind,src={src},dst=/receiver.py,readonly", image, "python3", "/receiver.py", str(parts.port)]


def posts(logs: str, alertname: str | None = None) -> list[dict[str, Any]]:
    """The posts the receiver printed (``docker logs``), in order; only ``alertname``'s groups if given."""
    found = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    if alertname is None:
        return found
    return [p for p in found if p["body"].get("groupLabels", {}).get("alertname") == alertname]


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1]) if len(sys.argv) > 1 else 9099), Receiver).serve_forever()
