"""From a Chaos Toolkit journal to one result row, and from rows to a run's resilience score. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

RECOVERY_FUNCS = ("wait_recovered", "wait_rescheduled", "weight_reset_within", "certificate_renewed")
DATA_FUNC = "acknowledged_writes_lost"
BUDGET_MARK = "error budget spent"


@dataclass(frozen=True)
class ExperimentResult:
    """What one experiment showed."""

    name: str
    weight: int
    status: str  # Chaos Toolkit's: completed, failed, aborted, interrupted
    deviated: bool
    fault_confirmed: bool
    checks: int  # steady-state hypothesis checks: before, every one during the method, after
    held: int  # ... of which met
    time_to_recover: float | None
    failed_requests: int | None  # what k6 saw fail (connection errors included)
    edge_failed: int | None  # 5xx the edge logged in the experiment's window
    requests: int | None
    lost_writes: int | None
    duration: float
    reason: str = ""
    recovered: bool = True  # every recovery probe of the method succeeded
    longest_outage: float | None = None  # seconds of the longest run of failed requests k6 saw (None: none failed)

    @property
    def held_share(self) -> float:
        """Share of hypothesis checks met; 0 when the fault was not confirmed, the stack did not
        recover or writes were lost."""
        if not self.fault_confirmed or not self.recovered or (self.lost_writes or 0) > 0 or self.checks == 0:
            return 0.0
        return self.held / self.checks

    @property
    def failed_share(self) -> float | None:
        """Share of the experiment's requests that failed, as k6 saw them (None: no load ran)."""
        if not self.requests or self.failed_requests is None:
            return None
        return self.failed_requests / self.requests

    def users_share(self, budget: float) -> float:
        """``held_share``, capped at the share of requests that did not fail when more than ``budget`` failed."""
        failed = self.failed_share
        if failed is None or failed <= budget:
            return self.held_share
        return min(self.held_share, 1.0 - failed)

    @property
    def aborted(self) -> bool:
        return BUDGET_MARK in self.reason

    @property
    def passed(self) -> bool:
        return (
            self.status == "completed"
            and not self.deviated
            and self.fault_confirmed
            and self.recovered
            and self.held == self.checks
            and (self.lost_writes or 0) == 0
        )

    def as_dict(self) -> dict[str, Any]:
        failed = self.failed_share
        return {
            **asdict(self),
            "passed": self.passed,
            "held_share": round(self.held_share, 4),
            "failed_share": round(failed, 5) if failed is not None else None,
        }


def longest_outage(failed_at: Sequence[float], gap: float = 1.0) -> float | None:
    """The longest stretch of failed requests (times they failed at), where failures less than
    ``gap`` seconds apart belong to one stretch: how long users were not served. None: none failed."""
    if not failed_at:
        return None
    times = sorted(failed_at)
    longest, start = 0.0, times[0]
    for before, now in pairwise(times):
        if now - before >= gap:
            longest, start = max(longest, before - start), now
    return round(max(longest, times[-1] - start), 2)


def _last_line(run: dict[str, Any]) -> str:
    lines = str((run.get("exception") or ["failed"])[-1]).strip().splitlines()
    return lines[-1] if lines else "failed"


def _func(activity: dict[str, Any]) -> str:
    return str((activity.get("provider") or {}).get("func", ""))


def _module(activity: dict[str, Any]) -> str:
    return str((activity.get("provider") or {}).get("module", ""))


def _steady_states(journal: dict[str, Any]) -> list[dict[str, Any]]:
    states = journal.get("steady_states") or {}
    found = [states.get("before"), *list(states.get("during") or []), states.get("after")]
    return [s for s in found if isinstance(s, dict)]


def from_journal(
    name: str,
    weight: int,
    journal: dict[str, Any],
    failed_requests: int | None = None,
    requests: int | None = None,
    edge_failed: int | None = None,
    reason: str = "",
    longest_outage: float | None = None,
) -> ExperimentResult:
    """Read one Chaos Toolkit journal (``--journal-path``) into a result row."""
    runs = [r for r in journal.get("run") or [] if isinstance(r, dict)]
    faults = [
        r for r in runs if r.get("activity", {}).get("type") == "action" and _module(r["activity"]).startswith("chaosstack.")
    ]
    # a fault reports ``confirmed: true``; its undo (start again, heal ...) reports what it did; all must succeed
    injected = [r for r in faults if isinstance(r.get("output"), dict) and r["output"].get("confirmed") is True]
    confirmed = bool(injected) and all(r.get("status") == "succeeded" for r in faults)
    recovery_runs = [r for r in runs if _func(r.get("activity", {})) in RECOVERY_FUNCS]
    recovery = [r.get("output") for r in recovery_runs if r.get("status") == "succeeded"]
    ttr = max((float(v) for v in recovery if isinstance(v, int | float)), default=None)
    lost_values = [r.get("output") for r in runs if _func(r.get("activity", {})) == DATA_FUNC]
    lost: int | None = None
    if lost_values:
        # a data probe that failed (no answer, nothing acknowledged) counts as a loss of 1: never a silent pass
        lost = sum(int(v) if isinstance(v, int) else 1 for v in lost_values)
    states = _steady_states(journal)
    held = sum(1 for s in states if s.get("steady_state_met"))
    problems = [reason] if reason else []
    unconfirmed = [r for r in faults if r.get("status") != "succeeded"]
    for r in unconfirmed:
        problems.append(f"{r['activity'].get('name')}: {_last_line(r)}")
    if not faults:
        problems.append("no fault ran")
    not_recovered = [r for r in recovery_runs if r.get("status") != "succeeded"]
    for r in not_recovered:
        problems.append(f"{r['activity'].get('name')}: not recovered: {_last_line(r)}")
    return ExperimentResult(
        name=name,
        weight=weight,
        status=str(journal.get("status") or "unknown"),
        deviated=bool(journal.get("deviated")) or held < len(states),
        fault_confirmed=confirmed,
        checks=len(states),
        held=held,
        time_to_recover=round(ttr, 2) if ttr is not None else None,
        failed_requests=failed_requests,
        edge_failed=edge_failed,
        requests=requests,
        lost_writes=lost,
        longest_outage=longest_outage,
        duration=round(float(journal.get("duration") or 0.0), 1),
        reason="; ".join(problems)[:300],
        recovered=not not_recovered,
    )


def score(results: Sequence[ExperimentResult], budget: float = 1.0) -> float:
    """The run's resilience score, 0-100: the weighted share of hypothesis checks held (as Litmus weighs
    probes), each experiment's capped at the share of its requests that did not fail when more than
    ``budget`` of them failed (``chaos.failed_share_budget``): a run that failed users never reads 100 %."""
    total = sum(r.weight for r in results)
    if total == 0:
        return 0.0
    return round(100.0 * sum(r.weight * r.users_share(budget) for r in results) / total, 1)


def failed_share(results: Sequence[ExperimentResult]) -> float | None:
    """Share of all the run's requests that failed (None: no experiment ran under load)."""
    requests = sum(r.requests or 0 for r in results if r.failed_requests is not None)
    if not requests:
        return None
    return sum(r.failed_requests or 0 for r in results if r.requests) / requests
