"""Failed requests during a deploy of a new version under k6 constant load.

``python -m pipeline.bench.deploy [ENV] [--rate N] [--seconds S] [--json]``: k6 sends a
constant arrival rate to the edge on 127.0.0.1; after a few seconds a new version rolls
out on the stable track, then the edge is reloaded twice (canary weight 0 -> 10 -> 0 when
the canary track has tasks, 0 -> 0 otherwise); k6 counts every failed request.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from pipeline.build.image import build_image
from pipeline.commands.k6 import Summary, run_command
from pipeline.console import say
from pipeline.edge import Weights
from pipeline.wiring import context


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("env", nargs="?", default="local")
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    ctx = context(args.env)
    target = ctx.target
    current = target.status()
    if current.tracks["stable"].running == 0:
        raise SystemExit(f"error: nothing runs on {args.env}'s stable track (hint: make demo ENV={args.env})")
    base = build_image(ctx.ex, ctx.project, ctx.env, say)
    old = current.tracks["stable"].version
    new = f"{base}-bench-b" if old == f"{base}-bench-a" else f"{base}-bench-a"
    build_image(ctx.ex, ctx.project, ctx.env, say, suffix=new.removeprefix(base + "-"))

    summary = ctx.project.writable_state_path("bench", "deploy-k6.json")
    script = ctx.project.root / "perf" / "load.js"
    k6 = run_command(script, summary, {"BASE_URL": current.url, "RATE": str(args.rate), "DURATION": f"{args.seconds}s"})
    say(f"k6: {args.rate} requests/s for {args.seconds} s against {current.url}")
    load = subprocess.Popen(list(k6.argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(5)
    started = time.monotonic()
    say(f"deploy: {old} -> {new}")
    target.deploy_track("stable", new)
    deploy_seconds = time.monotonic() - started
    # two graceful reloads of the edge; traffic goes to the canary only if it has tasks
    canary_up = target.status().tracks["canary"].running > 0
    for weight in (10 if canary_up else 0, 0):
        target.set_weights(Weights(weight), lease_until=time.time() + 60)
        time.sleep(2)
    _, stderr = load.communicate(timeout=args.seconds + 120)
    if not Path(summary).exists():
        raise SystemExit(f"error: k6 wrote no summary (exit {load.returncode}): {stderr.strip()[-300:]}")
    result = Summary.load(summary)
    report = {
        "environment": args.env,
        "rate": args.rate,
        "seconds": args.seconds,
        "from": old,
        "to": new,
        "deploy_seconds": round(deploy_seconds, 1),
        "requests": result.requests,
        "failed": result.failed,
        "p95_ms": round(result.p95_ms, 1),
        "p99_ms": round(result.p99_ms, 1),
        "max_ms": round(result.max_ms, 1),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:>15}: {value}")
    if result.failed:
        raise SystemExit(20)


if __name__ == "__main__":
    main()
