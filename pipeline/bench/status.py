"""How fast ``pipeline status`` reads an environment: direct reads against the CLI's.

``python -m pipeline.bench.status [ENV] [--runs N] [--json]`` runs ``pipeline status ENV --json``
N times in each of two modes, taking turns run by run (a load that comes and goes weighs on both
alike): **direct**, as shipped (the engine's API for services, the edge's volumes on this machine
for its files), and **cli** (``PIPELINE_CLI_READS=1``: every read a ``docker`` CLI process or a
``docker exec`` into the edge, as before). It prints each mode's median, p90 and min wall time,
the reads one status made and the seconds they took (from ``PIPELINE_TRACE``), and the ratio of
the medians (direct / cli). Both must print the same status. Reads only: nothing changes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODES = {"direct": {}, "cli": {"PIPELINE_CLI_READS": "1"}}


def one(env: str, mode: str, trace: Path) -> tuple[float, dict[str, Any]]:
    trace.unlink(missing_ok=True)
    environ = {**os.environ, **MODES[mode], "PIPELINE_TRACE": str(trace)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "status", env, "--json"], env=environ, capture_output=True, text=True, timeout=120
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"error: pipeline status {env} ({mode}) exited {done.returncode}: {done.stderr.strip()[-300:]}")
    rows = [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []
    reads = {"count": len(rows), "seconds": round(sum(r["seconds"] for r in rows), 3)}
    by: dict[str, int] = {}
    for r in rows:
        by[r["program"]] = by.get(r["program"], 0) + 1
    return wall, {"reads": reads, "programs": by, "status": _comparable(json.loads(done.stdout))}


def _comparable(status: dict[str, Any]) -> dict[str, Any]:
    """The status without what moves between two reads a moment apart (ages, times)."""
    out = dict(status)
    for key in ("lock", "checked_at"):
        out.pop(key, None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", default="local")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    walls: dict[str, list[float]] = {m: [] for m in MODES}
    seen: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="pl-bench-status-") as tmp:
        trace = Path(tmp) / "trace.jsonl"
        for mode in MODES:  # one untimed run each: byte-code and the engine's caches warm
            one(args.env, mode, trace)
        for i in range(args.runs):
            for mode in list(MODES)[:: 1 if i % 2 == 0 else -1]:
                wall, seen[mode] = one(args.env, mode, trace)
                walls[mode].append(wall)
    if seen["direct"]["status"] != seen["cli"]["status"]:
        raise SystemExit("error: the two modes printed different statuses (hint: run again on a quiet environment)")
    report = {
        mode: {
            "median_s": round(statistics.median(w), 3),
            "p90_s": round(sorted(w)[int(0.9 * (len(w) - 1))], 3),
            "min_s": round(min(w), 3),
            "reads": seen[mode]["reads"],
            "programs": seen[mode]["programs"],
        }
        for mode, w in walls.items()
    }
    ratio = round(report["direct"]["median_s"] / report["cli"]["median_s"], 2)
    if args.json:
        print(json.dumps({"env": args.env, "runs": args.runs, "modes": report, "ratio_direct_to_cli": ratio}, indent=2))
        return
    for mode, r in report.items():
        print(
            f"{mode:7} median {r['median_s']:.3f} s  p90 {r['p90_s']:.3f} s  min {r['min_s']:.3f} s  "
            f"{r['reads']['count']} reads in {r['reads']['seconds']:.3f} s  {r['programs']}"
        )
    print(f"direct / cli: {ratio}")


if __name__ == "__main__":
    main()
