"""The perf gate: a k6 script from perf/ against the environment's edge, judged.

Absolute thresholds come from the environment's ``perf.thresholds`` (k6 syntax) and are
enforced by k6 itself; ``compare`` sends the same load to the canary and its reference at
once (each request pinned with the environment's secret token) and the canary is judged
against the reference by ``perf.relative``. The reference is the release's baseline when one
serves (stable's version started with the canary, as old and as many tasks: inside a canary
walk with ``compare_with: baseline``), else stable. Every run leaves its summary, raw points and an HTML page
under ``.pipeline/gates/<env>/`` and a ``gate`` event in the journal.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import jsontext
from pipeline.commands import Command
from pipeline.commands.executor import Executor
from pipeline.commands.k6 import k6_binary
from pipeline.environment import Environment
from pipeline.environment.kinds import kind_of
from pipeline.environment.perf import THRESHOLD
from pipeline.errors import GateError, GateFailed, NothingToDo, UnknownScript, Unreachable
from pipeline.gates.k6result import Crossed, Verdict, evaluate
from pipeline.gates.tracks import Point, compare, latency_check, per_second, percentile, read_points, track_stats
from pipeline.project import Project
from pipeline.targets import has_part, pinning

COMPARE = "compare"


def scripts(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "perf").glob("*.js"))


@dataclass(frozen=True)
class PerfPlan:
    """Everything about one gate run, decided before anything runs."""

    env: str
    script: str
    url: str
    rate: int
    seconds: int
    thresholds: dict[str, list[str]]
    run_dir: Path
    command: Command

    @property
    def summary_path(self) -> Path:
        return self.run_dir / "summary.json"

    @property
    def points_path(self) -> Path:
        return self.run_dir / "points.json.gz"


@dataclass
class GateResult:
    gate: str
    env: str
    script: str
    verdict: Verdict
    lines: list[str] = field(default_factory=list)
    tracks: dict[str, Any] = field(default_factory=dict)
    relative: list[dict[str, Any]] = field(default_factory=list)
    k6: dict[str, Any] = field(default_factory=dict)
    report: str | None = None
    rate: int = 0
    seconds: int = 0
    latency_only: bool = False  # failed on latency ratios vs the reference alone: a fresh run may confirm it
    runs: int = 1
    reference: str | None = None  # compare: the track the canary was judged against
    host: list[str] = field(default_factory=list)  # compare: latency thresholds the reference broke too

    @property
    def passed(self) -> bool:
        return self.verdict == Verdict.PASS

    @property
    def reason(self) -> str:
        return "; ".join(self.lines) if self.lines else "all thresholds held"

    def as_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "env": self.env,
            "script": self.script,
            "verdict": self.verdict.value,
            "lines": self.lines,
            "tracks": self.tracks,
            "relative": self.relative,
            "rate": self.rate,
            "seconds": self.seconds,
            "runs": self.runs,
            "reference": self.reference,
            "host": self.host,
            "report": self.report,
        }

    def raise_for(self) -> None:
        if self.verdict == Verdict.ERROR:
            raise GateError(f"perf gate ({self.script}) could not judge the release: {self.reason}")
        if self.verdict == Verdict.FAIL:
            raise GateFailed(f"perf gate ({self.script}) failed: {self.reason}")


def edge_answers(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def split_rate(rate: int, reference_tasks: int, canary_tasks: int) -> tuple[int, int]:
    """Twice ``rate`` shared by the tracks in proportion to their tasks (each track at least 1/s),
    so a canary with fewer tasks is not judged under more load per task than its reference."""
    total = 2 * rate
    reference = round(total * reference_tasks / (reference_tasks + canary_tasks))
    reference = min(max(reference, 1), total - 1)
    return reference, total - reference


def reference_track(tracks: dict[str, Any]) -> str:
    """What compare judges the canary against: a serving baseline (as young and as many tasks as
    the canary, so a cold canary is not held to warm stable's tails), else stable."""
    baseline = tracks.get("baseline")
    return "baseline" if baseline is not None and baseline.serving > 0 else "stable"


LATENCY_METRICS = ("http_req_duration", "track_duration")


def track_value(values: list[float], expression: str) -> float | None:
    """A k6 latency aggregation (``p(95)``, ``med``, ``avg``, ``max``) of one track's durations."""
    match = THRESHOLD.match(expression)
    if match is None or not values:
        return None
    name = match.group(1)
    if match.group(2) is not None:
        return percentile(values, float(match.group(2)))
    if name == "med":
        return percentile(values, 50)
    if name == "avg":
        return sum(values) / len(values)
    return max(values) if name == "max" else None


def crossed_by(crossed: Crossed, values: list[float]) -> float | None:
    """The reference's own value when it crossed the same latency threshold (else None): then the
    host was too slow for the threshold, whatever the canary runs."""
    match = THRESHOLD.match(crossed.expression)
    if crossed.metric.split("{")[0] not in LATENCY_METRICS or match is None or match.group(4) not in ("<", "<="):
        return None
    value = track_value(values, crossed.expression)
    limit = float(match.group(5))
    if value is None:
        return None
    return value if (value >= limit if match.group(4) == "<" else value > limit) else None


class PerfGate:
    def __init__(
        self,
        env: Environment,
        project: Project,
        target: Any,
        ex: Executor,
        say: Callable[[str], None] = lambda _m: None,
        reachable: Callable[[str], bool] = edge_answers,
    ) -> None:
        self.env = env
        self.project = project
        self.target = target
        self.ex = ex
        self.say = say
        self.reachable = reachable

    @property
    def url(self) -> str:
        """Where the target takes users' requests (its ``traffic_url``)."""
        return str(self.target.traffic_url()).rstrip("/")

    @property
    def health_path(self) -> str:
        return "/edge/healthz" if kind_of(self.env.target.kind).edge == "nginx" else "/healthz"

    def plan(self, script: str, rate: int | None = None, seconds: int | None = None, attempt: int = 1) -> PerfPlan:
        """Validate and describe the run; raises before anything happens."""
        known = scripts(self.project.root)
        if script not in known:
            raise UnknownScript(f"unknown perf script '{script}'", hint=f"one of {', '.join(known)} (files in perf/)")
        perf = self.env.perf
        rate = rate or perf.rate
        seconds = seconds or perf.duration_seconds
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        run_dir = self.project.state / "gates" / self.env.name / f"{stamp}-{script}{'' if attempt == 1 else f'-{attempt}'}"
        params = {
            "BASE_URL": self.url,
            "RATE": str(rate),
            "DURATION": f"{seconds}s",
            "PATHS": ",".join(perf.paths),
            "THRESHOLDS": json.dumps(perf.thresholds, sort_keys=True, separators=(",", ":")),
        }
        argv = [k6_binary(), "run", "--no-usage-report", "--quiet", "--log-format", "json"]
        argv += ["--summary-export", str(run_dir / "summary.json"), "--out", f"json={run_dir / 'points.json.gz'}"]
        for key, value in params.items():
            argv += ["-e", f"{key}={value}"]
        argv.append(str(self.project.root / "perf" / f"{script}.js"))
        command = Command(
            tuple(argv),
            description=f"k6 {script}: {rate} requests/s{' per track' if script == COMPARE else ''} for {seconds} s",
            check=False,
            timeout=seconds + 120,
        )
        return PerfPlan(self.env.name, script, self.url, rate, seconds, perf.thresholds, run_dir, command)

    def check_ready(self, plan: PerfPlan) -> dict[str, str]:
        """The edge answers (and for compare a canary runs); returns the k6 process environment."""
        if not self.reachable(plan.url + self.health_path):
            raise Unreachable(
                f"environment '{self.env.name}' does not answer at {plan.url}", hint=f"bring it up: make up ENV={self.env.name}"
            )
        if plan.script != COMPARE:
            return {}
        status = self.target.status()
        canary = status.tracks.get("canary")
        if canary is None or canary.serving == 0:
            raise NothingToDo(
                f"no canary is running in '{self.env.name}' to compare with stable",
                hint=f"deploy one: pipeline deploy {self.env.name} --track canary --version <tag>",
            )
        if not has_part(self.env, "pinning"):
            raise GateError(
                f"the {self.env.target.kind} target cannot pin a request to a track, so compare cannot run there",
                hint="use --script load (absolute thresholds); compare runs on targets with the nginx edge",
            )
        pin = pinning(self.env, self.target).track_pin_token
        reference = reference_track(status.tracks)
        ref = status.tracks.get(reference)
        ref_tasks = ref.serving if ref is not None and ref.serving else 1
        ref_rate, canary_rate = split_rate(plan.rate, ref_tasks, canary.serving)
        self.say(
            f"compare: {ref_rate} requests/s to {ref_tasks} {reference} task(s), "
            f"{canary_rate} to {canary.serving} canary task(s): the same load per task"
        )
        return {"PIN_TOKEN": str(pin()), "REFERENCE": reference, "REFERENCE_RATE": str(ref_rate), "CANARY_RATE": str(canary_rate)}

    def judge(self, plan: PerfPlan, record: Callable[[str, dict[str, Any]], None] | None = None) -> GateResult:
        """Run the plan; a failure on latency ratios alone is confirmed by fresh runs, up to
        ``perf.relative.latency_runs`` in all (the last run's verdict stands)."""
        result = self.run(plan, record)
        limit = self.env.perf.relative.latency_runs
        while result.latency_only and result.runs < limit:
            self.say(f"compare: {result.reason}; confirming with a fresh run ({result.runs + 1}/{limit})")
            runs = result.runs + 1
            result = self.run(self.plan(plan.script, plan.rate, plan.seconds, attempt=runs), record, runs)
        return result

    def _excuse_slow_host(self, result: GateResult, crossed: list[Crossed], points: list[Point], reference: str) -> None:
        """A latency threshold that the reference crossed too, in the same run, says the host was
        too slow for it, not that the canary is: with the canary within its ratios of the reference,
        such a crossing is reported (``host``) but does not fail the gate. Errors, exceptions and
        any other threshold still do. ``result.lines`` are k6's problems: the crossings first."""
        others = len(result.lines) - len(crossed)  # exceptions and the like, never excused
        values = [p.value for p in points if p.metric == "track_duration" and p.track == reference]
        excused = [(c, v) for c in crossed if (v := crossed_by(c, values)) is not None]
        if not excused:
            return
        for c, value in excused:
            result.host.append(f"{c.line()}: the {reference} crossed it too ({value:.1f} ms): the host, not the release")
        forgiven = {c for c, _ in excused}
        kept = [c for c in crossed if c not in forgiven]
        result.lines = [c.line() for c in kept] + result.lines[len(crossed) :]
        if not kept and others == 0 and result.verdict == Verdict.FAIL:
            result.verdict = Verdict.PASS

    def run(self, plan: PerfPlan, record: Callable[[str, dict[str, Any]], None] | None = None, runs: int = 1) -> GateResult:
        extra_env = self.check_ready(plan)
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        self.say(plan.command.description)
        command = Command(
            plan.command.argv,
            description=plan.command.description,
            env=extra_env,
            check=False,
            timeout=plan.command.timeout,
        )
        done = self.ex.run(command)
        summary = json.loads(plan.summary_path.read_text()) if plan.summary_path.exists() else None
        outcome = evaluate(done.returncode, summary, done.stderr, plan.thresholds)
        result = GateResult(
            "perf",
            plan.env,
            plan.script,
            outcome.verdict,
            list(outcome.problems),
            rate=plan.rate,
            seconds=plan.seconds,
            runs=runs,
            reference=extra_env.get("REFERENCE"),
        )
        if summary is not None:
            result.k6 = summary
        if plan.points_path.exists():
            points = list(read_points(plan.points_path))
            stats = track_stats(points)
            result.tracks = {k: v.as_dict() for k, v in stats.items()}
            if plan.script == COMPARE and result.verdict != Verdict.ERROR:
                reference = result.reference or "stable"
                comparisons, errors = compare(stats, self.env.perf.relative, reference)
                result.relative = [c.as_dict() for c in comparisons]
                if errors:
                    result.verdict = Verdict.ERROR
                    result.lines += errors
                failed = [c for c in comparisons if not c.passed]
                if not failed and not errors:
                    self._excuse_slow_host(result, outcome.crossed, points, reference)
                if failed:
                    result.lines += [f"regression vs {reference}: {c.detail}" for c in failed]
                    if result.verdict == Verdict.PASS:
                        result.verdict = Verdict.FAIL
                        result.latency_only = all(latency_check(c.check) for c in failed)
            from pipeline.gates.report import write_perf_report

            result.report = str(write_perf_report(plan.run_dir / "report.html", plan, result, per_second(points)))
        (plan.run_dir / "result.json").write_text(jsontext.dumps(result.as_dict(), indent=2, sort_keys=True))
        if record is not None:
            record("gate", {**result.as_dict(), "k6_summary": result.k6})
        return result
