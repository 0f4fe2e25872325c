"""A release, start to end: lock, journal, controller, live view; and the operator's verbs.

The controller (``controller.py``) decides; this module wires it to one environment's
target, the edge log, the journal and the terminal, and guarantees that the lock is
released and the split is stopped whatever happens to the run.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError

from pipeline.analysis.source import MetricsSource
from pipeline.canary.controller import Controller, Outcome, Result
from pipeline.canary.probe import BackgroundProbes
from pipeline.commands.k6 import BackgroundLoad
from pipeline.edge import Weights
from pipeline.environment import Environment
from pipeline.environment.model import Faults
from pipeline.errors import Aborted, DeployFailed, Locked, NothingToDo, PipelineError, RolledBack, UnknownVersion, UserError
from pipeline.project import Project
from pipeline.records.journal import Journal, actor, default_path
from pipeline.records.lock import LockInfo
from pipeline.targets import metrics_source
from pipeline.targets.base import DEPLOY_LABEL, PREVIOUS_LABEL, WARM_LABEL, Target

LEASE_SECONDS = 15.0
Say = Callable[[str], None]


class WallClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def parse_faults(items: list[str]) -> Faults | None:
    """``--fault error_rate=0.3`` (repeatable) into the canary's fault knobs, validated."""
    if not items:
        return None
    values: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in Faults.model_fields:
            raise UserError(
                f"--fault: '{item}' is not KEY=VALUE with a known key", hint=f"keys: {', '.join(Faults.model_fields)}"
            )
        values[key] = value
    try:
        return Faults.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise UserError(f"--fault: {key}: {first['msg']}", hint="e.g. --fault error_rate=0.3 --fault latency_ms=200") from None


@dataclass
class Release:
    """One environment's release machinery."""

    env: Environment
    project: Project
    target: Target
    say: Say
    # told of the metrics source each canary run judges on, before the run (a bench's second judge)
    on_source: Callable[[MetricsSource], None] | None = None

    def journal(self) -> Journal:
        return Journal(default_path(self.project.state))

    # --- the lock -------------------------------------------------------------
    @contextmanager
    def locked(self, version: str, reason: str, take_over: bool = False) -> Iterator[LockInfo]:
        info = LockInfo.mine(actor(), version, reason)
        try:
            self.target.acquire_lock(info)
        except Locked:
            if not take_over:
                raise
            held = self.target.read_lock()
            if held is None or self.controller_alive(held):
                raise
            self.say(f"taking over the stale lock of {held.describe()}")
            self.target.release_lock()
            with self.journal() as j:
                j.event(self.env.name, "lock", {"action": "broken", "holder": held.describe(), "by": info.holder})
            self.target.acquire_lock(info)
        try:
            yield info
        finally:
            self.target.release_lock()

    @contextmanager
    def locked_journal(self, version: str, reason: str, take_over: bool = False) -> Iterator[Journal]:
        """The environment's lock (see ``locked``) and its journal, open for the block; the journal
        is closed before the lock is released, whatever happens in the block."""
        with self.locked(version, reason, take_over=take_over), self.journal() as journal:
            yield journal

    def controller_alive(self, held: LockInfo) -> bool:
        """Is somebody watching? The holder's process when it ran here; otherwise its lease."""
        alive = held.alive()
        if alive is not None:
            return alive
        lease = self.target.lease()
        return lease == "forever" or (isinstance(lease, float) and lease > time.time())

    # --- deploy with the canary policy --------------------------------------------
    def canary(
        self,
        version: str,
        faults: Faults | None,
        reason: str,
        record: Callable[[str, dict[str, Any]], None],
        resume: bool = False,
    ) -> Result:
        status = self.target.status()
        stable = status.tracks["stable"].version
        labels = self.target.track_labels("canary")
        start_step, deploy = 0, True
        if resume:
            canary_version = status.tracks["canary"].version
            if canary_version is None or DEPLOY_LABEL not in labels:
                raise NothingToDo(f"no canary to resume on {self.env.name}", hint=f"pipeline canary status {self.env.name}")
            version, deploy = canary_version, False
            weight = status.weights.canary if status.weights else 0
            start_step = max((i for i, w in enumerate(self.env.canary.steps) if w <= weight), default=0)
        elif stable == version:
            raise NothingToDo(f"{version} already runs on the stable track of {self.env.name}", hint="nothing to deploy")
        self.check_readiness_path(status.tracks["stable"].running)
        self.check_baseline_image(stable)
        with self.locked_journal(version, reason, take_over=resume) as journal:
            deploy_id = int(labels[DEPLOY_LABEL]) if resume and labels.get(DEPLOY_LABEL, "").isdigit() else None
            if deploy_id is None or journal.deploy(deploy_id) is None:
                deploy_id = journal.start_deploy(
                    self.env.name, version, stable, actor(), reason, self.env.canary.model_dump(mode="json")
                )
            if resume:
                journal.event(self.env.name, "resume", {"step": start_step + 1}, deploy_id=deploy_id)
            self.target.clear_command()

            def both(kind: str, data: dict[str, Any]) -> None:
                journal.event(self.env.name, kind, data, deploy_id=deploy_id)
                record(kind, data)

            source = metrics_source(self.env, self.target)  # the edge's log from now on (or the kind's own)
            if self.on_source is not None:
                self.on_source(source)
            controller = Controller(
                self.env.canary,
                self.target,
                source,
                WallClock(),
                both,
                lease_seconds=LEASE_SECONDS,
                stable_faults=self.env.tracks.stable.faults,
                stable_replicas=self.env.tracks.stable.replicas,
                canary_replicas=self.env.tracks.canary.replicas,
                gate=StepGate(self) if self.env.canary.perf_gate_at is not None else None,
                readiness_path=self.env.app.readiness_path,
                # probed off the loop: an operator's rollback in the bake never waits for an exec
                probes=BackgroundProbes(self.target.readiness),
            )
            synthetic = self._synthetic_load()
            with _signals_interrupt():
                try:
                    result = controller.run(
                        version,
                        stable,
                        faults=faults,
                        labels={DEPLOY_LABEL: str(deploy_id)},
                        start_step=start_step,
                        deploy=deploy,
                    )
                except (KeyboardInterrupt, Exception) as exc:
                    why = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"error: {exc}"
                    result = controller.abort(f"the run was {why}; the split was stopped")
                    journal.finish_deploy(deploy_id, result.outcome.value, result.reason)
                    raise
                finally:
                    if synthetic is not None:
                        summary = synthetic.stop()
                        if summary is not None:
                            journal.event(self.env.name, "synthetic", asdict(summary), deploy_id=deploy_id)
            journal.finish_deploy(deploy_id, result.outcome.value, result.reason)
            result.timeline.append((time.time(), "deploy_id", {"id": deploy_id}))
            return result

    def check_baseline_image(self, stable: str | None) -> None:
        """Before anything is touched: the baseline is stable's version started afresh, so its image
        must still be in the registry (a registry wiped or pruned since stable was deployed)."""
        if stable is None or self.env.canary.compare_with != "baseline":
            return
        try:
            self.target.require_version(stable)
        except UnknownVersion as exc:
            raise UnknownVersion(
                f"the baseline is stable's version {stable}, and {exc.message.removeprefix(f'version {stable!r} ')}",
                hint=f"push {stable} again (make build at that commit), or set canary.compare_with: stable in env.yaml",
            ) from exc

    def check_readiness_path(self, stable_tasks: int) -> None:
        """Before anything is touched: the readiness path must exist on the running release (a path
        that answers 404 there would hold every canary back; that is a typo in env.yaml, not a bad release)."""
        if stable_tasks <= 0 or self.env.canary.compare_with not in ("baseline", "stable"):
            return
        try:
            probes = self.target.readiness(("stable",))
        except PipelineError:
            return  # the edge cannot probe now; the canary's own readiness wait will say why
        if probes and all(p.status == 404 for p in probes):
            raise UserError(
                f"app.readiness_path: {self.env.app.readiness_path} answers 404 on every stable task of {self.env.name}",
                hint="set app.readiness_path in env.yaml to the app's readiness endpoint (e.g. /readyz)",
            )

    def _synthetic_load(self) -> BackgroundLoad | None:
        """Bounded k6 traffic on 127.0.0.1 for environments with too little real traffic."""
        policy = self.env.canary
        if policy.synthetic_rps <= 0:
            return None
        longest = len(policy.steps) * policy.step_seconds * (1 + policy.max_step_extensions) + policy.bake_seconds + 300
        self.say(
            f"synthetic traffic: {policy.synthetic_rps} requests/s to 127.0.0.1:{self.env.edge.port} (at most {longest:.0f} s)"
        )
        return BackgroundLoad(
            self.project.root / "perf" / "load.js",
            f"http://127.0.0.1:{self.env.edge.port}",
            policy.synthetic_rps,
            int(longest),
            self.project.writable_state_path("k6", f"synthetic-{self.env.name}.json"),
        )

    # --- the operator's verbs -------------------------------------------------
    def operate(self, command: str) -> str:
        """``promote`` or ``abort`` the canary: through the running controller, or directly for an orphan."""
        status = self.target.status()
        canary = status.tracks["canary"].version
        labels = self.target.track_labels("canary")
        if canary is None or labels.get(WARM_LABEL) == "previous":
            raise NothingToDo(f"no canary is running on {self.env.name}", hint=f"pipeline canary status {self.env.name}")
        held = self.target.read_lock()
        if held is not None and self.controller_alive(held):
            self.target.send_command(command)
            self.say(f"asked the running controller ({held.describe()}) to {command}")
            deadline = time.monotonic() + 600
            while self.target.read_lock() is not None and time.monotonic() < deadline:
                time.sleep(1)
            return f"{command}: done by the running controller"
        with self.locked_journal(canary, f"canary {command}", take_over=True) as journal:
            stable = status.tracks["stable"].version
            baseline = status.tracks.get("baseline")
            if baseline is not None and baseline.desired:  # the orphan's baseline: its share back to stable, then gone
                self.target.set_weights(Weights(status.weights.canary if status.weights else 0, 0))
                self.target.remove_track("baseline")
            if command == "promote":
                self.target.promote(canary, stable)
                self.target.remove_track("canary")
            else:
                self.target.set_weights(Weights(0))
                self.target.remove_track("canary")
            deploy_id = labels.get(DEPLOY_LABEL, "")
            if deploy_id.isdigit() and (row := journal.deploy(int(deploy_id))) is not None and row.running:
                outcome = "promoted" if command == "promote" else "aborted"
                journal.finish_deploy(row.id, outcome, f"{command} by {actor()} (orphaned canary)")
            journal.event(self.env.name, "decision", {"action": command, "reason": f"operator on an orphaned canary {canary}"})
        return f"{command}: {canary} {'is now stable' if command == 'promote' else 'removed, weight 0'}"

    def rollback(self) -> str:
        """Back to the previous release in one step: the warm one if it is still there. During a bake
        the running controller does it (asked through the target), as one swap at the edge."""
        # labels only (not a whole status): during a bake every tenth of a second counts
        labels = self.target.track_labels("canary")
        stable_labels = self.target.track_labels("stable")
        stable = stable_labels.get("pipeline.version")
        warm = labels.get("pipeline.version") if labels.get(WARM_LABEL) == "previous" else None
        previous = warm or stable_labels.get(PREVIOUS_LABEL)
        if not previous or previous == stable:
            raise NothingToDo(f"no previous release is known for {self.env.name}", hint=f"pipeline history {self.env.name}")
        held = self.target.read_lock()
        if warm and held is not None and self.controller_alive(held):
            started = time.time()
            self.target.send_command("rollback")
            self.say(f"asked the running controller ({held.describe()}) to roll back to the warm {previous}")
            deadline = time.monotonic() + 120
            now = stable
            while time.monotonic() < deadline:
                time.sleep(0.5)
                now = self.target.status().tracks["stable"].version
                if now == previous:
                    break
            if now != previous:
                raise DeployFailed(
                    f"the running controller did not roll back to {previous} within 120 s (stable runs {now})",
                    hint=f"pipeline canary status {self.env.name}",
                )
            took = time.time() - started
            return f"rolled back {self.env.name}: {stable} -> {previous} by the running controller ({took:.1f} s)"
        with self.locked_journal(previous, "rollback") as journal:
            started = time.time()
            self.target.revert_to_previous(previous)
            journal.event(
                self.env.name,
                "rollback",
                {"from": stable, "to": previous, "warm": warm is not None, "seconds": round(time.time() - started, 1)},
            )
        return f"rolled back {self.env.name}: {stable} -> {previous}" + (" (from the warm previous release)" if warm else "")


@dataclass(frozen=True)
class GateBroken:
    """A gate that could not even start (no canary, edge unreachable): it never passes."""

    reason: str
    passed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"gate": "perf", "verdict": "error", "lines": [self.reason]}


class StepGate:
    """The policy's perf gate at a step: the canary against its baseline (else stable) in one k6 run (perf/compare.js)."""

    def __init__(self, release: Release) -> None:
        from pipeline.commands.executor import SubprocessExecutor
        from pipeline.gates.perf import PerfGate

        self.perf = PerfGate(release.env, release.project, release.target, SubprocessExecutor(), release.say)
        # every run the gate may take: a latency-only failure is confirmed by fresh runs
        self.seconds = float((release.env.perf.duration_seconds + 15) * release.env.perf.relative.latency_runs)

    def __call__(self) -> Any:
        try:
            return self.perf.judge(self.perf.plan("compare"))
        except PipelineError as exc:
            return GateBroken(exc.message)


def raise_for(result: Result) -> None:
    if result.outcome == Outcome.ROLLED_BACK:
        raise RolledBack(f"rolled back: {result.reason}")
    if result.outcome == Outcome.ABORTED:
        raise Aborted(f"aborted: {result.reason}")
    if result.outcome == Outcome.FAILED:
        raise DeployFailed(f"deploy failed: {result.reason}", hint="pipeline status; the edge log is the ground truth")


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM (a CI runner cancelling the job) stops the canary like Ctrl-C does."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
