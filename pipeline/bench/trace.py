"""Where a run's seconds go: a summary of a ``PIPELINE_TRACE`` file.

``PIPELINE_TRACE=FILE pipeline deploy local ...`` appends one line per command the executor
ran; ``python -m pipeline.bench.trace FILE [--since EPOCH] [--until EPOCH] [--json]`` groups
them by what they do (the description, with versions, numbers and percentages taken out) and
prints each group's count and seconds, on the main thread and off it (readiness probes run on
a worker), against the span the commands cover: the time not spent in commands is the
controller's own (sleeping on its ticks, reading, judging).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

VARYING = re.compile(r"\b[0-9a-f]{12}\S*|\d+(\.\d+)?")


@dataclass(frozen=True)
class Group:
    what: str
    count: int
    seconds: float
    main_seconds: float
    longest: float


def what(entry: dict[str, Any]) -> str:
    """A command's kind: its description (else its program) without versions and numbers."""
    text = str(entry.get("description") or entry.get("program") or "?")
    return VARYING.sub("#", text)[:90]


def read(path: Path, since: float | None = None, until: float | None = None) -> list[dict[str, Any]]:
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        t = float(entry.get("t", 0.0))
        if (since is None or t >= since) and (until is None or t <= until):
            entries.append(entry)
    return entries


def summarise(entries: list[dict[str, Any]]) -> tuple[list[Group], dict[str, float]]:
    """Groups by seconds spent (most first), and the totals: span, in commands, on the main thread."""
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        by[what(entry)].append(entry)
    groups = []
    for name, items in by.items():
        seconds = [float(e["seconds"]) for e in items]
        main = sum(float(e["seconds"]) for e in items if e.get("thread") == "MainThread")
        groups.append(Group(name, len(items), round(sum(seconds), 2), round(main, 2), round(max(seconds), 2)))
    groups.sort(key=lambda g: -g.seconds)
    if not entries:
        return groups, {"span": 0.0, "commands": 0.0, "main": 0.0}
    start = min(float(e["t"]) for e in entries)
    end = max(float(e["t"]) + float(e["seconds"]) for e in entries)
    totals = {
        "span": round(end - start, 2),
        "commands": round(sum(g.seconds for g in groups), 2),
        "main": round(sum(g.main_seconds for g in groups), 2),
    }
    return groups, totals


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--since", type=float, default=None, help="epoch seconds: only commands started from then")
    parser.add_argument("--until", type=float, default=None, help="epoch seconds: only commands started until then")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    groups, totals = summarise(read(args.file, args.since, args.until))
    if args.json:
        print(json.dumps({"totals": totals, "groups": [asdict(g) for g in groups]}, indent=2))
        return
    print(f"span {totals['span']} s; in commands {totals['commands']} s, of which on the main thread {totals['main']} s")
    print(f"{'count':>5} {'seconds':>8} {'main':>7} {'longest':>7}  what")
    for g in groups[: args.top]:
        print(f"{g.count:>5} {g.seconds:>8} {g.main_seconds:>7} {g.longest:>7}  {g.what}")


if __name__ == "__main__":
    main()
