"""Flag propagation under k6 load, and the cost of one evaluation inside the app.

``python -m pipeline.bench.flags [ENV] [--toggles N] [--rate R] [--json]``:

1. k6 sends a constant rate to the edge on 127.0.0.1 (``/api/notes?limit=5``, which
   evaluates two flags, and ``/api/uploads`` is left alone);
2. a probe container on the overlay polls ``GET /flags`` of every app task directly,
   every 50 ms (one thread per task), and prints the moment each task first serves a new revision;
3. ``notes-excerpt`` is toggled N times through the same code as ``pipeline flags set``;
   propagation = (the moment the probe *received* the last task's first answer with the new
   revision) - (the moment ``set`` returned): an upper bound, request latency included.
   ``reloaded_in_task`` is the same from the tasks' own clock of the reload (``loaded_at``);
4. ``python3 -m refapp.flags_bench`` in the app's image times ``flags.value`` for a static
   flag, a targeting rule and a fractional rollout (microseconds).
Goals (issue 6): p100 propagation <= 1 s, 0 failed requests, static flag <= 25 us p50.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from pipeline.commands import docker
from pipeline.commands.k6 import BackgroundLoad
from pipeline.console import say
from pipeline.flags import change as ops
from pipeline.flags import state
from pipeline.flags.definition import FlagSet
from pipeline.flags.probe import Observation
from pipeline.flags.service import change as apply_change
from pipeline.records.journal import default_path
from pipeline.targets import flags
from pipeline.wiring import context

FLAG = "notes-excerpt"


class Watch:
    """The probe container in ``watch`` mode, its lines read on a thread into a queue."""

    def __init__(self, argv: tuple[str, ...]) -> None:
        self.name = argv[argv.index("--name") + 1]
        self.lines: queue.Queue[Observation] = queue.Queue()
        self.proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            found = Observation.parse(line)
            if found is not None:
                self.lines.put(found)

    def until(self, done: Any, timeout: float) -> list[Observation]:
        """Collect observations until ``done(seen)`` or the timeout."""
        seen: list[Observation] = []
        deadline = time.monotonic() + timeout
        while not done(seen) and time.monotonic() < deadline:
            try:
                seen.append(self.lines.get(timeout=0.05))
            except queue.Empty:
                continue
        return seen

    def stop(self) -> None:
        subprocess.run(list(docker.container_rm(self.name).argv), capture_output=True, check=False, timeout=60)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _serve(variant: str) -> Callable[[FlagSet], FlagSet]:
    return lambda flags: ops.set_variant(flags, FLAG, variant)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", default="local")
    parser.add_argument("--toggles", type=int, default=20)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--evaluations", type=int, default=20000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.toggles <= 200:
        raise SystemExit("error: --toggles between 1 and 200")

    ctx = context(args.env, needs=("flags",))
    target = flags(ctx.env, ctx.target)
    current = ctx.target.status()
    tasks = sum(t.running for t in current.tracks.values())
    if current.tracks["stable"].running == 0:
        raise SystemExit(f"error: nothing runs on {args.env}'s stable track (hint: make demo ENV={args.env})")
    delivery = target.flag_delivery()
    journal = default_path(ctx.project.state)
    base, _ = state.baseline(ctx.project.root, args.env)
    apply_change(delivery, ctx.project.root, args.env, "reset", None, lambda _: base, journal)

    seconds = args.toggles * 4 + 60
    summary = ctx.project.writable_state_path("bench", "flags-k6.json")
    say(f"k6: {args.rate} requests/s against {current.url}; probe on every one of {tasks} app tasks")
    load = BackgroundLoad(ctx.project.root / "perf" / "load.js", current.url, args.rate, seconds, summary, "/api/notes?limit=5")
    probe = target.flag_probe(mode="watch", timeout=seconds)
    watch = Watch(probe.argv)
    propagation: list[float] = []
    loaded: list[float] = []
    try:
        first = watch.until(lambda seen: len({o.task for o in seen if o.revision}) >= tasks, 60)
        if len({o.task for o in first if o.revision}) < tasks:
            raise SystemExit(f"error: the probe saw {len({o.task for o in first})} of {tasks} tasks")
        time.sleep(3)
        for i in range(args.toggles):
            variant = "on" if i % 2 == 0 else "off"
            result = apply_change(delivery, ctx.project.root, args.env, "set", FLAG, _serve(variant), journal)
            returned = time.time()

            def everywhere(seen: list[Observation], rev: str = result.after) -> bool:
                return len({o.task for o in seen if o.revision == rev}) >= tasks

            seen = watch.until(everywhere, 10)
            firsts: dict[str, Observation] = {}
            for o in seen:
                if o.revision == result.after:
                    firsts.setdefault(o.task, o)
            if not everywhere(seen):
                say(f"toggle {i + 1}: not every task served {result.after} within 10 s")
                propagation.append(float("inf"))
            else:
                propagation.append(max(o.t for o in firsts.values()) - returned)
                loads = [o.loaded_at for o in firsts.values() if o.loaded_at is not None]
                if len(loads) == len(firsts):
                    loaded.append(max(loads) - returned)
                say(f"toggle {i + 1}/{args.toggles} ({variant}): all tasks in {propagation[-1] * 1000:.0f} ms")
            time.sleep(1)
    finally:
        watch.stop()
        k6 = load.stop()
        apply_change(delivery, ctx.project.root, args.env, "reset", None, lambda _: base, journal)

    image = target.app_image("stable")
    if image is None:
        raise SystemExit("error: the evaluation benchmark needs the stable track's app image")
    say("evaluation cost: refapp.flags_bench in the app image")
    bench = ctx.ex.run(
        docker.run_once(
            image,
            None,
            ["python3", "-m", "refapp.flags_bench", "/flags/flags.json", str(args.evaluations)],
            mounts=[getattr(delivery, "mount", "")],
            description="time flag evaluations in the app",
        )
    )
    evaluation = json.loads(bench.stdout.strip().splitlines()[-1])["results"]

    ms = [p * 1000 for p in propagation]
    loaded_ms = [p * 1000 for p in loaded] or [float("nan")]
    report: dict[str, Any] = {
        "environment": args.env,
        "tasks": tasks,
        "toggles": args.toggles,
        "rate": args.rate,
        "propagation_ms": {
            "p50": round(statistics.median(ms), 1),
            "p95": round(_pct(ms, 0.95), 1),
            "p100": round(max(ms), 1),
            "min": round(min(ms), 1),
        },
        "reloaded_in_task_ms": {
            "p50": round(statistics.median(loaded_ms), 1),
            "p100": round(max(loaded_ms), 1),
        },
        "requests": k6.requests if k6 else None,
        "failed": k6.failed if k6 else None,
        "evaluation_us": evaluation,
        "goals": {
            "p100_le_1s": max(ms) <= 1000,
            "no_failed_requests": k6 is not None and k6.failed == 0,
            "static_p50_le_25us": evaluation["static"]["p50_us"] <= 25,
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:>15}: {value}")


if __name__ == "__main__":
    main()
