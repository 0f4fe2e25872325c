"""Alert latency: from a fault injected under load to the alert at the webhook.

``python -m pipeline.bench.alert [ENV] [--runs N] [--rate R] [--json]`` (``make bench-alert``;
default ENV ``ci``, whose Prometheus scrapes every 5 s):

1. the webhook receiver (pipeline/observability/receiver.py) runs as the container
   observability.webhook names, on the stack's network;
2. the release on stable is deployed to the canary track with ``--fault error_rate=0.3`` (the
   same ``pipeline deploy`` a user runs), its weight held at 0;
3. k6 sends a constant rate to the edge on 127.0.0.1 for the whole bench;
4. each run sets the canary's weight to 30 % (``pipeline weights``): the fault reaches users at
   that moment; latency = (the post of the firing TrackFailing alert at the receiver) - (the
   moment ``weights`` returned). The weight goes back to 0 and the run waits for the resolved
   post (``time_to_resolved``) before the next, so each run starts a new alert group;
5. at the end the canary is removed (weight 0, ``pipeline canary abort``) and the receiver too.

Goal (issue "Observability you can look at"): at most 30 s with a 5 s scrape.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from pipeline.build.images import base_ref
from pipeline.commands import docker
from pipeline.commands.k6 import BackgroundLoad
from pipeline.console import say
from pipeline.observability import receiver
from pipeline.wiring import context

GOAL_SECONDS = 30.0
ALERT = "TrackFailing"


def pipeline(*args: str) -> None:
    """The CLI, as a user runs it; a failure stops the bench."""
    done = subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: pipeline {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-400:]}")


def posts(name: str) -> list[dict[str, Any]]:
    logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=60, check=False)
    return receiver.posts(logs.stdout, ALERT)


def wait_post(name: str, status: str, after: int, timeout: float) -> dict[str, Any] | None:
    """The first ``status`` post of the alert beyond the first ``after`` ones, within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in posts(name)[after:] if p["body"].get("status") == status]
        if found:
            return found[0]
        time.sleep(0.25)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", default="ci")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.runs <= 10:
        raise SystemExit("error: --runs between 1 and 10")
    if not 1 <= args.rate <= 200:
        raise SystemExit("error: --rate between 1 and 200 requests/s")

    ctx = context(args.env)
    watch = ctx.env.observability
    if not watch.enabled or not watch.webhook:
        raise SystemExit(f"error: {args.env} has no observability.webhook (hint: environments/ci has one)")
    current = ctx.target.status()
    stable = current.tracks["stable"]
    if stable.running == 0 or not stable.version:
        raise SystemExit(f"error: nothing runs on {args.env}'s stable track (hint: make deploy ENV={args.env})")
    name = str(urlsplit(watch.webhook).hostname)
    subprocess.run(list(docker.container_rm(name).argv), capture_output=True, check=False, timeout=60)
    labels = {"pipeline.stack": ctx.env.stack, "pipeline.role": "bench-receiver"}
    subprocess.run(receiver.container(watch.webhook, f"{ctx.env.stack}-net", base_ref(ctx.env), labels), check=True, timeout=60)

    seconds = args.runs * 240 + 120
    summary = ctx.project.writable_state_path("bench", "alert-k6.json")
    runs: list[dict[str, Any]] = []
    load: BackgroundLoad | None = None
    try:
        say(f"canary: {stable.version} with 30 % errors, at weight 0")
        pipeline("deploy", args.env, "--version", stable.version, "--track", "canary", "--fault", "error_rate=0.3")
        say(f"k6: {args.rate} requests/s against {current.url}")
        load = BackgroundLoad(
            ctx.project.root / "perf" / "load.js", current.url, args.rate, seconds, summary, "/api/notes?limit=5"
        )
        time.sleep(20)  # every track scraped under load before the first fault
        for run in range(args.runs):
            seen = len(posts(name))
            pipeline("weights", args.env, "--canary", "30", "--hold", "300")
            faulted = time.time()
            fired = wait_post(name, "firing", seen, 180)
            pipeline("weights", args.env, "--canary", "0")
            healed = time.time()
            if fired is None:
                runs.append({"run": run + 1, "fault_to_webhook": None, "time_to_resolved": None})
                say(f"run {run + 1}: no {ALERT} post within 180 s")
                continue
            resolved = wait_post(name, "resolved", seen, 300)
            row = {
                "run": run + 1,
                "fault_to_webhook": round(fired["received"] - faulted, 2),
                "time_to_resolved": round(resolved["received"] - healed, 2) if resolved else None,
            }
            runs.append(row)
            say(f"run {run + 1}: fault to webhook {row['fault_to_webhook']} s, healed to resolved {row['time_to_resolved']} s")
    finally:
        k6 = load.stop() if load is not None else None
        subprocess.run(
            [sys.executable, "-m", "pipeline", "canary", "abort", args.env], capture_output=True, check=False, timeout=300
        )
        subprocess.run(list(docker.container_rm(name).argv), capture_output=True, check=False, timeout=60)

    latencies = [r["fault_to_webhook"] for r in runs if r["fault_to_webhook"] is not None]
    report = {
        "environment": args.env,
        "scrape_seconds": watch.scrape_seconds,
        "rate": args.rate,
        "runs": runs,
        "median_fault_to_webhook": statistics.median(latencies) if latencies else None,
        "max_fault_to_webhook": max(latencies) if latencies else None,
        "k6_requests": k6.requests if k6 else None,
        "goal_seconds": GOAL_SECONDS,
        "met": bool(latencies) and len(latencies) == len(runs) and max(latencies) <= GOAL_SECONDS,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        say(
            f"fault to webhook: median {report['median_fault_to_webhook']} s, max {report['max_fault_to_webhook']} s "
            f"over {len(runs)} runs (scrape {watch.scrape_seconds} s; goal <= {GOAL_SECONDS:.0f} s): "
            + ("met" if report["met"] else "NOT met")
        )


if __name__ == "__main__":
    main()
