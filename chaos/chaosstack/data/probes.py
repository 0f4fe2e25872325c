"""Read back every write the API acknowledged: nothing acknowledged may be lost."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosstack._stack import Stack

__all__ = ["acknowledged_writes_lost"]


def _read(url: str) -> tuple[int, dict[str, Any] | None]:
    """(status, note): status 0 when there was no answer at all."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            data: dict[str, Any] = json.loads(response.read())
            return int(response.status), data
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return 0, None


def acknowledged_writes_lost(
    tag: str = "data", timeout: float = 120.0, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> int:
    """Wait for the writer of ``tag`` to finish, then read each acknowledged note; returns how many are lost.

    A note is lost when it reads back 404 or with another title; a note that cannot be read
    at all (no answer, 5xx) is asked again until ``timeout`` and then counted as lost too.
    """
    stack = Stack.from_configuration(configuration)
    started = stack.recall(f"writes-{tag}")
    if started is None:
        raise ActivityFailed(f"no writes were started under the tag {tag!r}")
    out = Path(started["out"])
    done = out.with_name(out.name + ".done")
    stack.wait_for(lambda: True if done.exists() else None, timeout, "the writer finished", step=1.0)
    summary = json.loads(done.read_text(encoding="utf-8"))
    acked = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    lost: list[int] = []
    unreadable: list[int] = []
    deadline = stack.now() + timeout
    for note in acked:
        # 404 or another title: lost. No answer or a 5xx: asked again until the deadline, then counted as lost
        for _ in range(int(timeout) + 1):
            status, found = _read(f"{stack.url}/api/notes/{note['id']}")
            if status == 200 or status == 404 or stack.now() > deadline:
                break
            stack.sleep(1.0)
        if status != 200 or found is None or found.get("title") != note["title"]:
            lost.append(note["id"])
            if status != 404 and status != 200:
                unreadable.append(note["id"])
    stack.remember(f"data-{tag}", {**summary, "lost": len(lost), "lost_ids": lost[:20], "unreadable_ids": unreadable[:20]})
    if not acked:
        raise ActivityFailed(f"the writer of {tag!r} got no write acknowledged ({summary['attempted']} attempted)")
    return len(lost)
