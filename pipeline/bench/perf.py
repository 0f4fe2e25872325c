"""The app's throughput and latency through the edge at several arrival rates, and the
edge's overhead against one app task hit directly, measured in one run.

``python -m pipeline.bench.perf [ENV] [--rates 20,50,100,150] [--seconds S] [--json]``

1. For each rate, k6 on the host sends a constant arrival rate to the edge on 127.0.0.1
   (perf/load.js): achieved requests/s, p50/p95/p99, failed and dropped requests.
2. Overhead: k6 in a container on the stack's overlay network (the project's own base
   image, the k6 binary mounted in) runs perf/overhead.js: the same rate at the same time
   to the edge container and to one stable task's address. The difference of the two is
   what the edge adds; both are measured from the same place, in the same seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from pipeline.build.images import base_ref
from pipeline.commands import Command
from pipeline.commands.k6 import k6_binary, run_command
from pipeline.console import say
from pipeline.wiring import context

PATHS = "/api/notes?limit=5"


def _metric(summary: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = summary["metrics"].get(name, {})
    return found


def rate_run(ctx: Any, url: str, rate: int, seconds: int) -> dict[str, Any]:
    summary = ctx.project.writable_state_path("bench", f"perf-{rate}.json")
    summary.unlink(missing_ok=True)
    params = {"BASE_URL": url, "RATE": str(rate), "DURATION": f"{seconds}s", "PATHS": PATHS, "MAX_VUS": "400"}
    command = run_command(ctx.project.root / "perf" / "load.js", summary, params, timeout=seconds + 120)
    say(f"k6 through the edge: {rate} requests/s for {seconds} s")
    ctx.ex.run(command)
    data = json.loads(summary.read_text())
    duration = _metric(data, "http_req_duration")
    return {
        "rate": rate,
        "achieved_rps": round(float(_metric(data, "http_reqs").get("rate", 0.0)), 1),
        "requests": int(_metric(data, "http_reqs").get("count", 0)),
        "failed": int(_metric(data, "http_req_failed").get("passes", 0)),
        "dropped": int(_metric(data, "dropped_iterations").get("count", 0)),
        "p50_ms": round(float(duration.get("med", 0.0)), 2),
        "p95_ms": round(float(duration.get("p(95)", 0.0)), 2),
        "p99_ms": round(float(duration.get("p(99)", 0.0)), 2),
    }


def one_task_address(ctx: Any) -> str:
    service = ctx.target.track_service("stable")  # whichever slot serves stable now
    found = ctx.ex.run(
        Command(
            ("docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}"),
            mutates=False,
            description="find a stable task",
        )
    ).stdout.split()
    if not found:
        raise SystemExit(f"error: no running task of {service} (hint: make demo ENV={ctx.env.name})")
    network = f"{ctx.env.stack}-net"
    template = '{{(index .NetworkSettings.Networks "' + network + '").IPAddress}}'
    address = ctx.ex.run(Command(("docker", "inspect", "-f", template, found[0]), mutates=False)).stdout.strip()
    return f"http://{address}:{ctx.env.app.port}"


def overhead_run(ctx: Any, rate: int, seconds: int) -> dict[str, Any]:
    out = ctx.project.writable_state_path("bench", "overhead", "summary.json").parent
    (out / "summary.json").unlink(missing_ok=True)
    direct = one_task_address(ctx)
    edge = f"http://{ctx.env.stack}-edge:8080"
    name = f"{ctx.env.stack}-bench-k6"
    ctx.ex.run(Command(("docker", "rm", "-f", name), check=False, description="remove a leftover bench container"))
    argv = ["docker", "run", "--rm", "--name", name, "--network", f"{ctx.env.stack}-net"]
    argv += ["-v", f"{k6_binary()}:/usr/local/bin/k6:ro", "-v", f"{ctx.project.root / 'perf'}:/perf:ro", "-v", f"{out}:/out"]
    argv += [base_ref(ctx.env), "k6", "run", "--no-usage-report", "--quiet", "--summary-export", "/out/summary.json"]
    for key, value in {
        "EDGE_URL": edge,
        "DIRECT_URL": direct,
        "RATE": str(rate),
        "DURATION": f"{seconds}s",
        "PATHS": PATHS,
    }.items():
        argv += ["-e", f"{key}={value}"]
    argv.append("/perf/overhead.js")
    say(f"k6 on the stack's network: {rate} requests/s to the edge and to {direct}, {seconds} s")
    ctx.ex.run(Command(tuple(argv), check=False, timeout=seconds + 120, description="edge overhead run"))
    data = json.loads((out / "summary.json").read_text())
    result: dict[str, Any] = {"rate_each": rate, "seconds": seconds}
    for via in ("edge", "direct"):
        trend = _metric(data, f"{via}_duration")
        result[via] = {
            k: round(float(trend.get(s, 0.0)), 2) for k, s in (("p50_ms", "med"), ("p95_ms", "p(95)"), ("p99_ms", "p(99)"))
        }
        result[via]["requests"] = int(trend.get("count", 0))
    result["overhead_p50_ms"] = round(result["edge"]["p50_ms"] - result["direct"]["p50_ms"], 2)
    result["overhead_p95_ms"] = round(result["edge"]["p95_ms"] - result["direct"]["p95_ms"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", default="local")
    parser.add_argument("--rates", default="20,50,100,150")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--overhead-rate", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",") if r.strip()]
    ctx = context(args.env)
    current = ctx.target.status()
    if current.tracks["stable"].running == 0:
        raise SystemExit(f"error: nothing runs on {args.env}'s stable track (hint: make demo ENV={args.env})")
    report: dict[str, Any] = {
        "env": args.env,
        "version": current.tracks["stable"].version,
        "stable_tasks": current.tracks["stable"].serving,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rates": [],
    }
    for rate in rates:
        report["rates"].append(rate_run(ctx, current.url, rate, args.seconds))
        time.sleep(3)
    report["overhead"] = overhead_run(ctx, args.overhead_rate, args.seconds)
    Path(ctx.project.writable_state_path("bench", "perf-result.json")).write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'rate':>6} {'achieved':>9} {'failed':>7} {'dropped':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for r in report["rates"]:
        print(
            f"{r['rate']:>6} {r['achieved_rps']:>9} {r['failed']:>7} {r['dropped']:>8}"
            f" {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8}"
        )
    o = report["overhead"]
    print(
        f"edge overhead at {o['rate_each']} requests/s each: p50 {o['edge']['p50_ms']} vs {o['direct']['p50_ms']} ms "
        f"(+{o['overhead_p50_ms']}), p95 {o['edge']['p95_ms']} vs {o['direct']['p95_ms']} ms (+{o['overhead_p95_ms']})"
    )


if __name__ == "__main__":
    main()
