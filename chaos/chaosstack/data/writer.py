"""A bounded writer of notes through the edge: every acknowledged note is appended to a file.

Run by :func:`chaosstack.data.actions.start_writes` as its own process:
``python -m chaosstack.data.writer URL OUT TAG SECONDS RATE``. At most SECONDS x RATE
requests, for at most SECONDS (+ one request timeout), to the given 127.0.0.1 URL.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request


def write_notes(url: str, out: str, tag: str, seconds: float, rate: float) -> tuple[int, int]:
    """POST notes at ``rate``/s for ``seconds``; returns (attempted, acknowledged)."""
    if not url.startswith("http://127.0.0.1:"):
        raise SystemExit("the writer only talks to 127.0.0.1")
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
