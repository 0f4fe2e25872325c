"""Evaluation cost of a flag inside the app's process: ``python3 -m refapp.flags_bench FILE``.

Times ``flags.value`` (the OpenFeature client call the views make) for a static flag, a
targeting rule and a fractional rollout, over many distinct user keys; prints JSON with
p50/p95/p99 in microseconds. Used by ``make bench-flags`` inside a task's image.
"""

from __future__ import annotations

import json
import sys
import time

from openfeature.evaluation_context import EvaluationContext

from refapp import flags

CASES = {"static": "notes-excerpt", "targeting": "greeting", "fractional": "new-notes-ui"}


def _pct(sorted_us: list[float], q: float) -> float:
    return round(sorted_us[min(len(sorted_us) - 1, int(q * len(sorted_us)))], 2)


def measure(n: int = 20000) -> dict[str, dict[str, float]]:
    contexts = [EvaluationContext(targeting_key=f"user-{i}@example.{'com' if i % 2 else 'org'}") for i in range(n)]
    results: dict[str, dict[str, float]] = {}
    for name, key in CASES.items():
        for ctx in contexts[:500]:  # warm up
            flags.value(key, ctx)
        samples: list[float] = []
        clock = time.perf_counter_ns
        for ctx in contexts:
            start = clock()
            flags.value(key, ctx)
            samples.append((clock() - start) / 1000)
        samples.sort()
        results[name] = {"n": n, "p50_us": _pct(samples, 0.5), "p95_us": _pct(samples, 0.95), "p99_us": _pct(samples, 0.99)}
    return results


def main(argv: list[str]) -> int:
    flags.configure(argv[0] if argv else None, poll_ms=1000)
    n = int(argv[1]) if len(argv) > 1 else 20000
    print(json.dumps({"revision": flags.revision(), "results": measure(n)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
