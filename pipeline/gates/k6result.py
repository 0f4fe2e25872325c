"""What a k6 run says, read so that none of k6's silent passes gets through.

k6 alone passes three things it should not:

- a threshold on a metric the script never emitted (no samples: never evaluated);
- an exception in the default function (k6 logs it and goes on: exit 0);
- nothing at all, when k6 crashed or the script did not load (no summary).

``evaluate`` turns an exit code, the ``--summary-export`` JSON and k6's JSON log into
one verdict with a line per problem.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pipeline.environment.perf import THRESHOLD

K6_OK = 0
K6_THRESHOLDS_CROSSED = 99
K6_EXIT_MEANING = {
    104: "invalid k6 configuration",
    105: "the test was aborted",
    107: "script error",
    108: "the test timed out",
}


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"


@dataclass(frozen=True)
class Crossed:
    metric: str
    expression: str
    observed: float | None

    def line(self) -> str:
        aggregation = THRESHOLD.match(self.expression)
        name = aggregation.group(1) if aggregation else "value"
        seen = "" if self.observed is None else f" (measured {name}={_fmt(self.observed)})"
        return f"threshold crossed: {self.metric} {self.expression}{seen}"


@dataclass
class K6Outcome:
    verdict: Verdict
    problems: list[str] = field(default_factory=list)
    crossed: list[Crossed] = field(default_factory=list)
    exceptions: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1 else f"{value:.1f}"


def samples(stats: dict[str, Any]) -> int | None:
    """How many samples a summary metric holds; None when k6's export does not say (gauges)."""
    if "passes" in stats and "fails" in stats:  # Rate
        return int(stats["passes"]) + int(stats["fails"])
    if "count" in stats:  # Counter, or a Trend with `count` in summaryTrendStats
        return int(stats["count"])
    return None


def _observed(stats: dict[str, Any], expression: str) -> float | None:
    match = THRESHOLD.match(expression)
    if match is None:
        return None
    key = match.group(1)
    if key == "rate" and "value" in stats and "passes" in stats:
        key = "value"
    value = stats.get(key)
    return float(value) if isinstance(value, int | float) else None


def exception_lines(log: str) -> list[str]:
    """The messages of script exceptions in k6's ``--log-format json`` output."""
    found = []
    for line in log.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(entry, dict) or entry.get("level") != "error":
            continue
        message = str(entry.get("msg", ""))
        if entry.get("source") == "stacktrace" or message.startswith("Uncaught"):
            found.append(message.strip().splitlines()[0] if message.strip() else "exception")
    return found


def first_error(log: str) -> str:
    """The first error k6 logged (JSON or text), for a one-line report."""
    for line in log.splitlines():
        text = line.strip()
        if not text:
            continue
        if text.startswith("{"):
            try:
                entry = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
                return str(entry.get("msg", "")).strip().splitlines()[0] if entry.get("msg") else "error"
        elif "level=error" in text or "level=fatal" in text:
            match = re.search(r'msg="((?:[^"\\]|\\.)*)"', text)
            return match.group(1) if match else text
    return ""


def evaluate(exit_code: int, summary: dict[str, Any] | None, log: str, thresholds: dict[str, list[str]]) -> K6Outcome:
    """The gate's verdict on one k6 run."""
    if exit_code not in (K6_OK, K6_THRESHOLDS_CROSSED):
        meaning = K6_EXIT_MEANING.get(exit_code, "k6 crashed" if exit_code < 0 or exit_code > 128 else "k6 failed")
        detail = first_error(log)
        return K6Outcome(Verdict.ERROR, [f"{meaning} (k6 exit {exit_code})" + (f": {detail}" if detail else "")])
    if summary is None:
        return K6Outcome(Verdict.ERROR, [f"k6 exited {exit_code} without writing its summary"])
    metrics: dict[str, Any] = summary.get("metrics", {})
    outcome = K6Outcome(Verdict.PASS, summary=summary)
    for metric in sorted(thresholds):
        stats = metrics.get(metric)
        count = samples(stats) if isinstance(stats, dict) else 0
        if count == 0:
            outcome.problems.append(
                f"threshold on '{metric}', but the script never emitted it: the threshold was never evaluated"
            )
            outcome.verdict = Verdict.ERROR
    for metric, stats in sorted(metrics.items()):
        for expression, crossed in sorted((stats.get("thresholds") or {}).items()):
            if crossed:
                outcome.crossed.append(Crossed(metric, expression, _observed(stats, expression)))
    exceptions = exception_lines(log)
    outcome.exceptions = len(exceptions)
    if exceptions:
        outcome.problems.append(f"{len(exceptions)} exception(s) in the script: {exceptions[0]}")
    if outcome.verdict != Verdict.ERROR:
        if outcome.crossed or exceptions:
            outcome.verdict = Verdict.FAIL
        elif exit_code == K6_THRESHOLDS_CROSSED:
            outcome.verdict = Verdict.FAIL
            outcome.problems.append("k6 reported crossed thresholds")
    outcome.problems = [c.line() for c in outcome.crossed] + outcome.problems
    return outcome
