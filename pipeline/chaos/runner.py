"""Run validated experiments against an environment, each under bounded k6 load, and record them.

For each experiment: start k6 on the edge (where the target takes users' requests), let it warm up, run
``chaos --no-version-check run`` with the steady-state hypothesis checked continuously
(``--hypothesis-strategy continuously --fail-fast``) and rollbacks always played, stop
k6, and read the journal, the k6 summary and the edge's log into one result row.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.chaos.experiments import Experiment, extension_path
from pipeline.chaos.results import BUDGET_MARK, ExperimentResult, failed_share, from_journal, longest_outage, score
from pipeline.commands import Command
from pipeline.commands.executor import Executor
from pipeline.commands.k6 import BackgroundLoad, run_command
from pipeline.environment import Environment
from pipeline.errors import ChaosForbidden, NotReady
from pipeline.project import Project
from pipeline.records.journal import Journal, default_path
from pipeline.targets import edge_history
from pipeline.targets.base import Target

Say = Callable[[str], None]
LOAD_PATHS = "/api/notes?limit=5,/version"
WARMUP_SECONDS = 4.0
CLIENT_GAVE_UP = 499  # nginx: the client closed the connection first; users saw a failure


def require_chaos_allowed(env: Environment) -> None:
    """The guard: chaos only where env.yaml says ``chaos_allowed: true``."""
    if not env.chaos_allowed:
        raise ChaosForbidden(
            f"environments/{env.name}/env.yaml: chaos_allowed is false: no fault may be injected into {env.name}",
            hint="set chaos_allowed: true in that env.yaml if this environment may be broken on purpose",
        )


def chaos_binary() -> str:
    beside = Path(sys.executable).parent / "chaos"
    return str(beside) if beside.exists() else "chaos"


def chaos_command(
    experiment: Path,
    journal: Path,
    log: Path,
    env: dict[str, str],
    hypothesis_seconds: float,
    timeout: float,
) -> Command:
    """``chaos run`` of one experiment: hypothesis checked continuously, fail fast, rollbacks always."""
    argv = (
        chaos_binary(),
        "--no-version-check",
        "--log-file",
        str(log),
        "run",
        "--journal-path",
        str(journal),
        "--hypothesis-strategy",
        "continuously",
        "--hypothesis-frequency",
        f"{hypothesis_seconds:g}",
        "--fail-fast",
        "--rollback-strategy",
        "always",
        str(experiment),
    )
    return Command(argv, description=f"chaos run {experiment.stem}", env=env, check=False, timeout=timeout)


@dataclass
class RunReport:
    """One ``pipeline chaos run``: its rows, score and the score before it."""

    env: str
    run_id: str
    results: list[ExperimentResult] = field(default_factory=list)
    previous_score: float | None = None
    budget: float = 1.0  # chaos.failed_share_budget: above it an experiment's score is capped

    @property
    def score(self) -> float:
        return score(self.results, self.budget)

    @property
    def failed_share(self) -> float | None:
        return failed_share(self.results)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.env,
            "run": self.run_id,
            "score": self.score,
            "failed_share": round(self.failed_share, 5) if self.failed_share is not None else None,
            "failed_share_budget": self.budget,
            "previous_score": self.previous_score,
            "passed": self.passed,
            "experiments": [r.as_dict() for r in self.results],
        }


class ChaosRunner:
    def __init__(self, env: Environment, project: Project, ex: Executor, target: Target, say: Say) -> None:
        self.env = env
        self.project = project
        self.ex = ex
        self.target = target
        self.say = say

    def preflight(self) -> None:
        """The stack must be up and serving before it is broken on purpose."""
        require_chaos_allowed(self.env)
        if self.ex.dry_run:
            return
        status = self.target.status()
        stable = status.tracks["stable"]
        if not status.edge_running or stable.running == 0 or stable.running < stable.desired:
            raise NotReady(
                f"{self.env.name} is not serving (edge running: {status.edge_running}, "
                f"stable {stable.running}/{stable.desired}): nothing to test",
                hint=f"make up ENV={self.env.name} && make deploy ENV={self.env.name}",
            )
        if status.crowded:  # a cluster whose track one node's loss takes whole measures less than it claims
            track, nodes = next(iter(status.crowded.items()))
            raise NotReady(
                f"{self.env.name}: {track} is crowded onto {', '.join(nodes)}, fewer nodes than it could use: "
                "not the steady state to break",
                hint=f"pipeline node rebalance {self.env.name}",
            )

    def run(self, experiments: list[Experiment]) -> RunReport:
        run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        report = RunReport(
            self.env.name, run_id, previous_score=self._previous_score(), budget=self.env.chaos.failed_share_budget
        )
        for experiment in experiments:
            if self.ex.dry_run:
                self._plan(experiment, run_id)
                continue
            self.say(f"chaos: {experiment.name}: {experiment.title}")
            result = self._run_one(experiment, run_id)
            verdict = "held" if result.passed else f"did not hold ({result.reason or 'hypothesis deviated'})"
            self.say(f"chaos: {experiment.name}: {verdict}")
            report.results.append(result)
            if result.aborted:
                self.say("chaos: the error budget was spent; the remaining experiments are not run")
                break
        if not self.ex.dry_run:
            self._record(report)
        return report

    # --- one experiment -------------------------------------------------------
    def _dirs(self, experiment: Experiment, run_id: str) -> Path:
        folder = self.project.state_path("chaos", run_id, experiment.name)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _budget(self, experiment: Experiment) -> int:
        return self.env.chaos.error_budget if experiment.error_budget is None else experiment.error_budget

    def _env(self, folder: Path, started: float, budget: int, offset: int = 0, load_started: float = 0.0) -> dict[str, str]:
        paths = [str(extension_path(self.project.root)), str(self.project.root), os.environ.get("PYTHONPATH", "")]
        return {
            "PYTHONPATH": os.pathsep.join(p for p in paths if p),
            "PIPELINE_ROOT": str(self.project.root),
            "PIPELINE_CHAOS_ENV": self.env.name,
            "PIPELINE_CHAOS_RUN_DIR": str(folder),
            "PIPELINE_CHAOS_STARTED": f"{started:.3f}",
            "PIPELINE_CHAOS_ERROR_BUDGET": str(budget),
            "PIPELINE_CHAOS_LOG_OFFSET": str(offset),
            "PIPELINE_CHAOS_LOAD_STARTED": f"{load_started:.3f}",
        }

    def _command(
        self, experiment: Experiment, folder: Path, started: float, offset: int = 0, load_started: float = 0.0
    ) -> Command:
        return chaos_command(
            experiment.path,
            folder / "journal.json",
            folder / "chaostoolkit.log",
            self._env(folder, started, self._budget(experiment), offset, load_started),
            self.env.chaos.hypothesis_seconds,
            float(self.env.chaos.experiment_timeout),
        )

    def _plan(self, experiment: Experiment, run_id: str) -> None:
        folder = self.project.state / "chaos" / run_id / experiment.name
        for line in experiment.plan():
            self.say(line)
        load = run_command(
            self.project.root / "perf" / "load.js",
            folder / "k6.json",
            {"BASE_URL": self._url, "RATE": str(self.env.chaos.load_rps), "DURATION": f"{self.env.chaos.experiment_timeout}s"},
        )
        self.ex.run(load)
        self.ex.run(self._command(experiment, folder, 0.0))

    @property
    def _url(self) -> str:
        return self.target.traffic_url()

    def _run_one(self, experiment: Experiment, run_id: str) -> ExperimentResult:
        folder = self._dirs(experiment, run_id)
        offset = self.target.log_size()
        load_started = time.time()
        load = BackgroundLoad(
            self.project.root / "perf" / "load.js",
            self._url,
            self.env.chaos.load_rps,
            self.env.chaos.experiment_timeout,
            folder / "k6.json",
            paths=LOAD_PATHS,
        )
        try:
            time.sleep(WARMUP_SECONDS)
            started = time.time()
            ran = self.ex.run(self._command(experiment, folder, started, offset, load_started))
            ended = time.time()  # before k6 stops: its interrupted requests are not the experiment's
        finally:
            summary = load.stop()
        failures = load.failures()
        edge_failed = self._edge_failed(offset, started, ended)
        journal_path = folder / "journal.json"
        log = (
            (folder / "chaostoolkit.log").read_text(encoding="utf-8", errors="replace")
            if (folder / "chaostoolkit.log").exists()
            else ""
        )
        reason = ""
        if BUDGET_MARK in log:
            reason = f"{BUDGET_MARK}: aborted and rolled back (budget {self._budget(experiment)} failed requests)"
        elif "fault not confirmed" in log:
            reason = "fault not confirmed: interrupted and rolled back"
        if not journal_path.exists():
            tail = (ran.stderr or ran.stdout).strip().splitlines()[-1:] or ["no output"]
            return ExperimentResult(
                experiment.name,
                experiment.weight,
                "error",
                True,
                False,
                0,
                0,
                None,
                None,
                edge_failed,
                None,
                None,
                0.0,
                f"chaos exited {ran.returncode} without a journal: {tail[0]}",
            )
        journal = json.loads(journal_path.read_text(encoding="utf-8"))
        return from_journal(
            experiment.name,
            experiment.weight,
            journal,
            failed_requests=summary.failed if summary else None,
            requests=summary.requests if summary else None,
            edge_failed=edge_failed,
            reason=reason,
            longest_outage=longest_outage([float(f["t"]) for f in failures if started <= float(f.get("t", 0)) < ended]),
        )

    def _edge_failed(self, offset: int, started: float, ended: float) -> int | None:
        try:
            source = edge_history(self.env, self.target, 8 << 20, offset)
            source.pull()
            return sum(1 for r in source.records if started <= r.ts < ended and (r.failed or r.status == CLIENT_GAVE_UP))
        except Exception:  # the edge may be the thing that broke; the count is then unknown
            return None

    # --- the journal ------------------------------------------------------------
    def _previous_score(self) -> float | None:
        path = default_path(self.project.state)
        if not path.exists():  # no journal yet, so no earlier run (and none is created to find that out)
            return None
        with Journal(path) as journal:
            last = journal.env_events(self.env.name, kinds=["chaos"], limit=1)
        value = last[0].data.get("score") if last else None
        return float(value) if isinstance(value, int | float) else None

    def _record(self, report: RunReport) -> None:
        with Journal(default_path(self.project.state)) as journal:
            for result in report.results:
                path = self.project.state / "chaos" / report.run_id / result.name / "journal.json"
                chaos_journal = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
                journal.event(
                    self.env.name,
                    "chaos_experiment",
                    {"run": report.run_id, **result.as_dict(), "chaostoolkit_journal": chaos_journal},
                )
            journal.event(
                self.env.name,
                "chaos",
                {
                    "run": report.run_id,
                    "score": report.score,
                    "previous_score": report.previous_score,
                    "trend": None if report.previous_score is None else round(report.score - report.previous_score, 1),
                    "held": sum(1 for r in report.results if r.passed),
                    "experiments": len(report.results),
                },
            )
