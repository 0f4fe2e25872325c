"""Canary benchmark: five releases under k6 constant load on the local target.

``python -m pipeline.bench.canary [ENV] [--rate 60] [--json] [--only NAME...]``

1. good      a healthy release: promoted, no failed request
2. errors    30 % of requests answered 500: rolled back; seconds from canary start to
             weight 0, failed requests as a share of all requests in the run
3. slow      +200 ms on every request: caught by latency analysis
4. dies      exits at start: never receives traffic; rolled back
5. swarm     the bad release of (2) rolled out with Swarm's own health-check based
             ``docker service update --update-failure-action rollback``, same load

Failed requests are counted from the edge's JSON log (what users saw) over each
scenario's window, and cross-checked with k6's own count. Traffic goes to 127.0.0.1 only.
The bench shortens the bake to 10 s (the policy's other settings are the environment's).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.analysis.source import EdgeLogSource
from pipeline.build.image import build_image
from pipeline.canary.run import Release, parse_faults
from pipeline.commands.k6 import BackgroundLoad
from pipeline.console import say
from pipeline.wiring import context

SCENARIOS = {
    "good": [],
    "errors": ["error_rate=0.3"],
    "slow": ["latency_ms=200"],
    "dies": ["exit_at_start=true"],
}


@dataclass
class Row:
    scenario: str
    outcome: str
    seconds_to_zero: float | None
    run_seconds: float
    requests: int
    failed: int
    canary_requests: int
    k6_requests: int
    k6_failed: int
    reason: str

    @property
    def failed_share(self) -> float:
        return round(self.failed / self.requests, 5) if self.requests else 0.0


def _other(candidates: list[str], stable: str | None) -> str:
    """The candidate that is not on stable, so every scenario really changes the version."""
    return candidates[1] if stable == candidates[0] else candidates[0]


class Load:
    """The bench's load: the API (database and cache), which the app's fault knobs do not spare."""

    def __init__(self, url: str, rate: int, summary: Path, root: Path) -> None:
        self.load = BackgroundLoad(root / "perf" / "load.js", url, rate, 900, summary, paths="/api/notes?limit=5")

    def stop(self) -> tuple[int, int]:
        summary = self.load.stop()
        return (summary.requests, summary.failed) if summary else (0, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", default="local")
    parser.add_argument("--rate", type=int, default=60)
    parser.add_argument("--swarm-seconds", type=float, default=60.0, help="how long the swarm-native bad release is observed")
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    ctx = context(args.env)
    env = ctx.env.model_copy(update={"canary": ctx.env.canary.model_copy(update={"bake_seconds": 10.0})})
    target = ctx.target
    status = target.status()
    if status.tracks["stable"].running == 0:
        raise SystemExit(f"error: nothing runs on {args.env}'s stable track (hint: make demo ENV={args.env})")
    base = build_image(ctx.ex, ctx.project, ctx.env, say)
    candidates = [f"{base}-bench-a", f"{base}-bench-b"]
    for c in candidates:
        build_image(ctx.ex, ctx.project, ctx.env, say, suffix=c.removeprefix(base + "-"))
    release = Release(env, ctx.project, target, say)
    summary = ctx.project.writable_state_path("bench", "canary-k6.json")
    rows: list[Row] = []
    wanted = args.only or [*SCENARIOS, "swarm"]

    def edge_counts(start: float, end: float) -> tuple[int, int, int]:
        source = EdgeLogSource(target.log_reader(), offset=max(0, target.log_size() - 20_000_000))
        windows = source.window(start, end)
        total = sum(w.requests for w in windows.values())
        failed = sum(w.errors for w in windows.values())
        return total, failed, windows["canary"].requests

    for name, faults in SCENARIOS.items():
        if name not in wanted:
            continue
        stable = target.status().tracks["stable"].version
        candidate = _other(candidates, stable)
        say(f"scenario {name}: {stable} -> {candidate} {' '.join(faults)}")
        load = Load(status.url, args.rate, summary, ctx.project.root)
        time.sleep(3)
        start = time.time()
        result = release.canary(candidate, parse_faults(faults), f"bench {name}", lambda _k, _d: None)
        end = time.time()
        time.sleep(2)
        k6_requests, k6_failed = load.stop()
        total, failed, canary = edge_counts(start, end + 2)
        rows.append(
            Row(
                name,
                result.outcome.value,
                _round(result.seconds_to_zero),
                round(end - start, 1),
                total,
                failed,
                canary,
                k6_requests,
                k6_failed,
                result.reason[:160],
            )
        )
        say(f"scenario {name}: {rows[-1].outcome} ({rows[-1].failed}/{rows[-1].requests} failed)")

    if "swarm" in wanted:
        rows.append(swarm_native(ctx, target, candidates, status.url, args, summary, edge_counts))

    if args.json:
        print(json.dumps([{**asdict(r), "failed_share": r.failed_share} for r in rows], indent=2))
    else:
        header = ("scenario", "outcome", "to w=0 s", "run s", "requests", "failed", "share", "canary")
        print(f"{header[0]:<8} {header[1]:<12} " + " ".join(f"{h:>8}" for h in header[2:]))
        for r in rows:
            print(
                f"{r.scenario:<8} {r.outcome:<12} {r.seconds_to_zero if r.seconds_to_zero is not None else '-':>8} "
                f"{r.run_seconds:>8} {r.requests:>8} {r.failed:>8} {r.failed_share:>8.2%} {r.canary_requests:>8}"
            )
            print(f"         {r.reason}")


def swarm_native(ctx: Any, target: Any, candidates: list[str], url: str, args: Any, summary: Path, edge_counts: Any) -> Row:
    """The same bad release rolled out by Swarm's own update with automatic rollback on failure."""
    stable = target.status().tracks["stable"].version
    candidate = _other(candidates, stable)
    image = target.require_version(candidate)
    name = target.track_service("stable")
    say(f"scenario swarm: docker service update --update-failure-action rollback {name} -> {candidate} with 30 % errors")
    load = Load(url, args.rate, summary, ctx.project.root)
    time.sleep(3)
    start = time.time()
    subprocess.run(
        [
            "docker",
            "service",
            "update",
            "--quiet",
            "--detach=false",
            "--image",
            image,
            "--env-add",
            "FAULT_ERROR_RATE=0.3",
            "--env-add",
            f"APP_VERSION={candidate}",
            "--update-failure-action",
            "rollback",
            "--update-monitor",
            "10s",
            "--update-order",
            "start-first",
            name,
        ],
        check=False,
        capture_output=True,
        timeout=600,
    )
    updated = time.time()
    remaining = max(0.0, args.swarm_seconds - (updated - start))
    time.sleep(remaining)
    end = time.time()
    k6_requests, k6_failed = load.stop()
    state = json.loads(subprocess.run(["docker", "service", "inspect", name], capture_output=True, text=True).stdout)[0]
    update = (state.get("UpdateStatus") or {}).get("State", "?")
    total, failed, _ = edge_counts(start, end)
    say(f"scenario swarm: restoring {stable}")
    target.deploy_track("stable", stable)
    return Row(
        "swarm",
        f"update {update}",
        None,
        round(end - start, 1),
        total,
        failed,
        0,
        k6_requests,
        k6_failed,
        f"swarm finished the update in {updated - start:.0f} s ({update}); health checks passed, so no rollback",
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


if __name__ == "__main__":
    main()
