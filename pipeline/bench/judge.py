"""The canary judge's benchmark: false rollbacks, bad releases caught, and the pipeline's overhead.

``python -m pipeline.bench.judge [ENV] [--rate 50] [--same 10] [--loaded 10] [--vs-stable 0] [--rollout 0]
[--rollback-bake 0] [--slow-bake 0] [--bake SECONDS] [--metrics edge|both] [--only NAME...] [--json]``

Under k6 constant load with writes and reads (perf/mixed.js) on the environment's traffic address
(127.0.0.1; the stand-in cluster's virtual IP on swarm-local):

same-quiet    ``--same`` deploys of a release identical to stable (a new build of the same code) on a
              quiet host: every one should be promoted; the check that came closest to failing is shown
same-loaded   the same while two spinning processes keep both cores busy (bounded in time; ``--spin 0``
              when another workload, e.g. a test suite, loads the host instead)
vs-stable     ``--vs-stable`` identical releases on the busy host judged against stable instead of a
              fresh baseline (``compare_with: stable``), side by side with same-loaded: the baseline's gain
bad releases  every entry of ``pipeline.bench.releases.BAD_RELEASES``: fault knobs (a small error
              rate, writes only, latency on a minority, readiness failing from the start or later,
              a release that turns bad after 45 s) and real code changes kept as patches
              (perf/releases/*.patch: a 500 on one endpoint, 503 on some writes, a slow list);
              each must be rolled back
rollout       ``--rollout`` identical releases promoted the way it was done before slots (a rolling
              update of stable, then the previous release started again on the canary track),
              side by side with same-quiet: the overhead the swap saves
rollback-bake ``--rollback-bake`` identical releases, each rolled back with ``pipeline rollback``
              (``Release.rollback``, as the CLI does) 5 s into the bake: the seconds from the
              command to the last request the new version answered (full traffic on the previous)
slow-bake     ``--slow-bake`` identical releases on a host that turns busy at the promotion (``--spin``
              spinning processes started then, twice as many as the busy arm's): a latency limit the
              new stable crosses in the bake is seen beside the warm previous release, and is the
              host's; every one should be promoted (the runs say whether a window beside it was taken)

Per deploy: outcome, wall time, the pipeline's overhead (wall time minus the configured step and bake
time, for promoted deploys), seconds from the canary's first traffic to weight 0, failed requests over
the run (from the edge's log), for a bad release the seconds from its first failed request to the
last request it answered (the fault's onset to weight 0, from the edge's log), and the verdict that
came closest to failing. The bake is the environment's own (``--bake`` shortens it for a quick
look). Traffic goes to 127.0.0.1 or to the project's own node containers only.

``--metrics both`` (an environment with ``observability.enabled``) judges every release with
``canary.metrics: both``: on the edge's log, Prometheus's counts held to it (``sources_agree``), and
each decision judged a second time on Prometheus's windows (``pipeline.bench.agreement``). Per
deploy: both sources' verdicts at every decision and whether they agree; at the end, the judge
agreement: the releases on which the edge log's and Prometheus's verdicts agree, of all judged.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from pipeline import registry
from pipeline.analysis.records import Record
from pipeline.bench.agreement import SecondJudge, agreement
from pipeline.bench.releases import BAD_RELEASES, build_patched
from pipeline.build.image import build_image
from pipeline.build.revision import Revision
from pipeline.canary.direct import deploy_direct, raise_for_smoke
from pipeline.canary.run import Release, parse_faults
from pipeline.commands.k6 import BackgroundLoad
from pipeline.console import say
from pipeline.targets import edge_history
from pipeline.targets.local import LocalTarget
from pipeline.wiring import context

SPIN_SECONDS = 900  # a spinner ends by itself after this long, whatever happens to the bench


@dataclass
class Run:
    scenario: str
    outcome: str
    wall_seconds: float
    overhead_seconds: float | None
    seconds_to_zero: float | None
    requests: int
    failed: int
    closest: str
    reason: str
    onset_to_zero: float | None = None  # a bad release: its first failed request to the last it answered
    # rollback-bake: from the command to the last request that reached the new version (from then on
    # every request goes to the previous release), and to the last one it answered (in flight then)
    to_previous: float | None = None
    drained: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed_share(self) -> float:
        return round(self.failed / self.requests, 5) if self.requests else 0.0


def closest_call(timeline: list[tuple[float, str, dict[str, Any]]]) -> str:
    """The latency check that came nearest its limit in any verdict of the walk (value / limit)."""
    best: tuple[float, str] = (0.0, "-")
    for _, kind, data in timeline:
        if kind != "verdict" or data.get("step") == "bake":
            continue
        for check in data.get("checks", []):
            value, limit = check.get("value"), check.get("limit")
            if check.get("name") == "mann_whitney" or not isinstance(value, int | float) or not isinstance(limit, int | float):
                continue
            name = check.get("name", "")
            if name.startswith("route_") and value > 0:  # a p-value against its level: under the level fails
                ratio = limit / value
                shown = f"{ratio:.0%}" if ratio < 10 else "over 1000%"
                if ratio > best[0]:
                    where = f"({check['verdict']}) in step {data.get('step')}"
                    best = (ratio, f"{name} at {shown} of its level, p={value:.2g} {where}")
            elif limit > 0 and math.isfinite(value) and name.startswith("p"):
                ratio = value / limit
                if ratio > best[0]:
                    best = (ratio, f"{check['name']} at {ratio:.0%} of its limit ({check['verdict']}) in step {data.get('step')}")
    return best[1]


def spinners(count: int) -> list[subprocess.Popen[bytes]]:
    code = f"import time\nend = time.time() + {SPIN_SECONDS}\nwhile time.time() < end: pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def onset_to_zero(records: tuple[Record, ...], version: str, start: float, end: float) -> float | None:
    """From the first request ``version`` failed to the last one it answered (edge log), or None."""
    mine = sorted((r for r in records if r.version == version and start <= r.ts <= end), key=lambda r: r.ts)
    failed = [r for r in mine if r.failed]
    if not failed:
        return None
    return round(mine[-1].ts - failed[0].started, 2)


def to_previous(records: tuple[Record, ...], version: str, asked: float) -> tuple[float, float]:
    """Seconds from the rollback command to the arrival of the last request that ``version`` served,
    and to its answer (0: none after the command)."""
    after = [r for r in records if r.version == version and r.started >= asked]
    if not after:
        return 0.0, 0.0
    return round(max(r.started for r in after) - asked, 2), round(max(r.ts for r in after) - asked, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", default="local")
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--same", type=int, default=10, help="identical releases on a quiet host")
    parser.add_argument("--loaded", type=int, default=10, help="identical releases while both cores are kept busy")
    parser.add_argument("--vs-stable", type=int, default=0, help="identical releases on a busy host judged against stable")
    parser.add_argument("--rollout", type=int, default=0, help="identical releases promoted by a rolling update (before slots)")
    parser.add_argument("--rollback-bake", type=int, default=0, help="identical releases rolled back 5 s into the bake")
    parser.add_argument("--slow-bake", type=int, default=0, help="identical releases on a host that turns busy at the promotion")
    parser.add_argument("--bad-times", type=int, default=1, help="how many times each bad release is tried")
    parser.add_argument("--spin", type=int, default=2, help="spinning processes that keep the host busy in the loaded arms")
    parser.add_argument("--bake", type=float, default=None, help="bake seconds (default: the environment's)")
    parser.add_argument(
        "--metrics", choices=("edge", "both"), default="edge", help="both: judge each release on Prometheus too (agreement)"
    )
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    ctx = context(args.env)
    env = ctx.env
    if args.bake is not None:
        env = env.model_copy(update={"canary": env.canary.model_copy(update={"bake_seconds": args.bake})})
    if args.metrics == "both":
        if not env.observability.enabled:
            raise SystemExit(f"error: --metrics both reads Prometheus, which {args.env} does not run (hint: ENV=local or ci)")
        env = env.model_copy(update={"canary": env.canary.model_copy(update={"metrics": "both"})})
    policy = env.canary
    configured = len(policy.steps) * policy.step_seconds + policy.bake_seconds
    target = ctx.target
    if args.rollout and env.target.kind != "local":
        raise SystemExit("error: --rollout compares the local kind's two ways of promoting (hint: ENV=local)")
    if target.status().tracks["stable"].running == 0:
        raise SystemExit(f"error: nothing runs on {args.env}'s stable track (hint: make demo ENV={args.env})")
    head = Revision.from_git(ctx.project.root).version

    def built(suffix: str) -> str:
        """This commit's image with the suffix: the registry's when it has it (a second bench of one commit)."""
        version = head + (f"-{suffix}" if suffix else "")
        if registry.has_tag(env.image.registry, env.image.name, version):
            return version
        return build_image(ctx.ex, ctx.project, ctx.env, say, suffix=suffix)

    candidates = [built(s) for s in ("", "judge-a", "judge-b")]
    release = Release(env, ctx.project, target, say)
    stable = target.status().tracks["stable"].version
    if stable and not registry.has_tag(env.image.registry, env.image.name, stable):
        # the registry was replaced (a fresh CI run, say): a baseline of stable's version cannot
        # start, so stable gets this commit's build first, by a direct deploy
        say(f"stable's {stable} is not in the registry: stable gets {candidates[1]} first (a direct deploy)")
        raise_for_smoke(deploy_direct(release, "stable", candidates[1]))
    policy_vs_stable = env.canary.model_copy(update={"compare_with": "stable"})
    versus_stable = Release(env.model_copy(update={"canary": policy_vs_stable}), ctx.project, target, say)
    summary = ctx.project.writable_state_path("bench", "judge-k6.json")
    url = target.traffic_url()  # 127.0.0.1, or the stand-in cluster's virtual IP (its own network)
    none: list[str] = []
    plan: list[tuple[str, list[str]]] = [("same-quiet", none)] * args.same + [("same-loaded", none)] * args.loaded
    plan += [("vs-stable", none)] * args.vs_stable
    plan += [("rollout", none)] * args.rollout + [("rollback-bake", none)] * args.rollback_bake
    plan += [("slow-bake", none)] * args.slow_bake
    plan += [(name, list(bad.faults)) for name, bad in BAD_RELEASES.items() for _ in range(args.bad_times)]
    runs: list[Run] = []

    for name, faults in plan:
        if args.only and name not in args.only:
            continue
        stable = target.status().tracks["stable"].version
        bad = BAD_RELEASES.get(name)
        if bad is not None and bad.patch is not None:  # a real code change: its own build
            candidate = build_patched(ctx.ex, ctx.project, ctx.env, say, ctx.project.root / bad.patch)
        else:
            candidate = next(c for c in candidates if c != stable)
        say(f"{name}: {stable} -> {candidate} {' '.join(faults)}")
        busy = spinners(args.spin) if name in ("same-loaded", "vs-stable") else []
        load = BackgroundLoad(ctx.project.root / "perf" / "mixed.js", url, args.rate, 900, summary)
        time.sleep(3)
        start = time.time()
        asked: list[float] = []
        record = rollback_in_bake(args.env, asked) if name == "rollback-bake" else (lambda _k, _d: None)
        if name == "slow-bake":
            record = busy_from_promotion(2 * args.spin, busy)
        promote = target.promote
        if name == "rollout":  # the promotion as it was before slots, for the side-by-side overhead
            target.promote = cast(LocalTarget, target)._promote_by_update  # type: ignore[method-assign]
        judge = versus_stable if name == "vs-stable" else release
        second = SecondJudge(judge.env.canary, "baseline" if judge.env.canary.compare_with == "baseline" else "stable")
        judge.on_source = second.watch if args.metrics == "both" else None
        try:
            result = judge.canary(candidate, parse_faults(faults), f"bench judge {name}", record)
        finally:
            target.promote = promote  # type: ignore[method-assign]
            end = time.time()
            time.sleep(2)
            load.stop()
            for spinner in busy:
                spinner.kill()
        source = edge_history(env, target, 30_000_000)  # every edge replica's log on a cluster
        windows = source.window(start, end + 2)
        records = source.records
        wall = end - start
        switched, drained = to_previous(records, candidate, asked[0]) if asked else (None, None)
        runs.append(
            Run(
                name,
                result.outcome.value,
                round(wall, 1),
                round(wall - configured, 1) if result.outcome.value == "promoted" else None,
                None if result.seconds_to_zero is None else round(result.seconds_to_zero, 1),
                sum(w.requests for w in windows.values()),
                sum(w.errors for w in windows.values()),
                closest_call(result.timeline),
                result.reason[:200],
                onset_to_zero(records, candidate, start, end + 2) if bad is not None else None,
                switched,
                drained,
                {
                    **{k: d for _, k, d in result.timeline if k in ("promoted", "reverted")},
                    "beside": [d.get("share") for _, k, d in result.timeline if k == "beside"],
                    **(sources(second, result.timeline) if args.metrics == "both" else {}),
                },
            )
        )
        say(f"{name}: {runs[-1].outcome} in {runs[-1].wall_seconds} s ({runs[-1].failed}/{runs[-1].requests} failed)")
    report(runs, args.json, os.environ.get("COLUMNS"))


def sources(second: SecondJudge, timeline: list[tuple[float, str, dict[str, Any]]]) -> dict[str, Any]:
    """Both sources' verdicts at every decision, whether they agree, and the reads on which their
    counts disagreed (``sources_agree`` failed)."""
    verdicts = second.verdicts(timeline)
    checks = [c for _, k, d in timeline if k == "verdict" for c in d.get("checks", []) if c.get("name") == "sources_agree"]
    return {
        "verdicts": verdicts,
        "agree": verdicts["edge"] == verdicts["prometheus"],
        "counts_disagreed": sum(1 for c in checks if c.get("verdict") == "fail"),
    }


def busy_from_promotion(count: int, busy: list[subprocess.Popen[bytes]]) -> Any:
    """A journal hook that starts ``count`` spinners when the canary is promoted (the host turns slow
    in the bake, not in the walk); they join ``busy`` (stopped with the run's)."""

    def record(kind: str, _data: dict[str, Any]) -> None:
        if kind == "promoted":
            busy.extend(spinners(count))

    return record


def rollback_in_bake(env: str, asked: list[float]) -> Any:
    """A journal hook that, 5 s after the promotion, runs ``pipeline rollback`` (in a thread, with its
    own target, as another terminal would) and notes when it asked."""

    def rollback() -> None:
        time.sleep(5)
        other = context(env)
        asked.append(time.time())
        Release(other.env, other.project, other.target, say).rollback()

    def record(kind: str, _data: dict[str, Any]) -> None:
        if kind == "promoted":
            threading.Thread(target=rollback, daemon=True).start()

    return record


def report(runs: list[Run], as_json: bool, _columns: str | None) -> None:
    if as_json:
        print(json.dumps([{**asdict(r), "failed_share": r.failed_share} for r in runs], indent=2))
        return
    print(
        f"{'scenario':<13} {'outcome':<12} {'wall s':>7} {'overhead':>8} {'to w=0':>7} {'onset':>6} {'back':>5} "
        f"{'drained':>7} {'requests':>8} {'failed':>7}"
    )
    for r in runs:
        values = (r.overhead_seconds, r.seconds_to_zero, r.onset_to_zero, r.to_previous, r.drained)
        cells = ["-" if v is None else f"{v:g}" for v in values]
        print(
            f"{r.scenario:<13} {r.outcome:<12} {r.wall_seconds:>7} {cells[0]:>8} {cells[1]:>7} {cells[2]:>6} {cells[3]:>5} "
            f"{cells[4]:>7} {r.requests:>8} {r.failed:>7}"
        )
        print(f"              closest: {r.closest}; {r.reason}")
        if "verdicts" in r.extra:
            shown = {name: " ".join(v) or "-" for name, v in r.extra["verdicts"].items()}
            same = "agree" if r.extra["agree"] else "DISAGREE"
            print(f"              sources {same}: edge {shown['edge']} | prometheus {shown['prometheus']}")
    agreed, judged = agreement([r.extra["verdicts"] for r in runs if "verdicts" in r.extra])
    if judged:
        print(f"judge agreement: edge-log and Prometheus verdicts agree on {agreed} of {judged} releases")


if __name__ == "__main__":
    main()
