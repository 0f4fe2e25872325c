"""A bounded writer of notes through the edge: every acknowledged note is appended to a file.

Run by :func:`chaosstack.data.actions.start_writes` as its own process:
``python -m chaosstack.data.writer URL OUT TAG SECONDS RATE``. At most SECONDS x RATE
requests, for at most SECONDS (+ one request timeout), to the given edge URL: plain HTTP to a
loopback or private address only (this machine's edge, a stand-in cluster's virtual IP).
"""

from __future__ import annotations

import ipaddress
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def _local_edge(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        address = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        return False
    return parts.scheme == "http" and (address.is_loopback or address.is_private)


def write_notes(url: str, out: str, tag: str, seconds: float, rate: float) -> tuple[int, int]:
    """POST notes at ``rate``/s for ``seconds``; returns (attempted, acknowledged)."""
    if not _local_edge(url):
        raise SystemExit("the writer only talks to an edge at a loopback or private address, over http")
    total = int(seconds * rate)
    deadline = time.monotonic() + seconds
    acknowledged = 0
    with open(out, "a", encoding="utf-8") as sink:
        for n in range(total):
            if time.monotonic() > deadline:
                break
            started = time.monotonic()
            title = f"chaos-{tag}-{n}"
            body = json.dumps({"title": title, "body": "written during a chaos experiment"}).encode()
            request = urllib.request.Request(
                url + "/api/notes", data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 201:
                        note = json.loads(response.read())
                        sink.write(json.dumps({"id": note["id"], "title": title}) + "\n")
                        sink.flush()
                        acknowledged += 1
            except (urllib.error.URLError, OSError, ValueError, KeyError):
                pass  # not acknowledged: the client knows it may be lost
            time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - started)))
    return total, acknowledged


def main(argv: list[str]) -> int:
    url, out, tag, seconds, rate = argv
    attempted, acknowledged = write_notes(url, out, tag, float(seconds), float(rate))
    with open(out + ".done", "w", encoding="utf-8") as done:
        json.dump({"attempted": attempted, "acknowledged": acknowledged}, done)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
