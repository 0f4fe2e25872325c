"""Reading a Chaos Toolkit journal into a result row, and the resilience score."""

from __future__ import annotations

from typing import Any

from pipeline.chaos.results import ExperimentResult, from_journal, score


def activity(kind: str, module: str, func: str, status: str = "succeeded", output: Any = None) -> dict[str, Any]:
    run: dict[str, Any] = {
        "activity": {"type": kind, "name": func, "provider": {"type": "python", "module": module, "func": func}},
        "status": status,
        "output": output,
    }
    if status == "failed":
        run["exception"] = ["Traceback ...\n", "chaoslib.exceptions.ActivityFailed: kill_task: not so after 15 s\n"]
    return run


def journal(runs: list[dict[str, Any]], during: list[bool], status: str = "completed", deviated: bool = False) -> dict[str, Any]:
    return {
        "status": status,
        "deviated": deviated,
        "duration": 30.0,
        "run": runs,
        "steady_states": {
            "before": {"steady_state_met": True},
            "during": [{"steady_state_met": met} for met in during],
            "after": {"steady_state_met": True},
        },
    }


KILL = activity("action", "chaosstack.service.actions", "kill_task", output={"confirmed": True})
TTR = activity("probe", "chaosstack.service.probes", "wait_recovered", output=7.5)


def test_a_held_experiment() -> None:
    result = from_journal("kill", 3, journal([KILL, TTR], [True, True]), failed_requests=0, requests=600, edge_failed=0)
    assert result.passed and result.fault_confirmed and not result.deviated
    assert (result.checks, result.held, result.time_to_recover) == (4, 4, 7.5)
    assert result.held_share == 1.0


def test_an_unconfirmed_fault_fails_the_experiment_even_if_every_check_held() -> None:
    failed = activity("action", "chaosstack.service.actions", "kill_task", status="failed")
    result = from_journal("kill", 3, journal([failed, TTR], [True, True]))
    assert not result.fault_confirmed and not result.passed
    assert result.held_share == 0.0
    assert "not so after 15 s" in result.reason


def test_an_action_without_confirmation_in_its_output_is_not_confirmed() -> None:
    silent = activity("action", "chaosstack.service.actions", "kill_task", output={"killed": "c1"})
    assert not from_journal("kill", 1, journal([silent], [True])).fault_confirmed


def test_a_deviation_during_the_method_counts() -> None:
    result = from_journal("partition", 2, journal([KILL, TTR], [True, False, True], status="failed"))
    assert result.deviated and not result.passed
    assert (result.held, result.checks) == (4, 5)


def test_lost_writes_fail_and_a_failed_data_probe_counts_as_a_loss() -> None:
    lost = activity("probe", "chaosstack.data.probes", "acknowledged_writes_lost", output=2)
    assert from_journal("db", 3, journal([KILL, lost], [True])).lost_writes == 2
    broken = activity("probe", "chaosstack.data.probes", "acknowledged_writes_lost", status="failed")
    result = from_journal("db", 3, journal([KILL, broken], [True]))
    assert result.lost_writes == 1 and not result.passed


def test_a_stack_that_never_recovers_fails_even_if_every_check_held() -> None:
    stuck = activity("probe", "chaosstack.vm.probes", "wait_recovered", status="failed")
    result = from_journal("kill", 3, journal([KILL, stuck], [True, True]))
    assert not result.recovered and not result.passed
    assert result.held_share == 0.0 and result.time_to_recover is None
    assert "time" not in result.reason and "wait_recovered: not recovered" in result.reason


def row(weight: int, held: int, checks: int, confirmed: bool = True) -> ExperimentResult:
    return ExperimentResult("x", weight, "completed", held < checks, confirmed, checks, held, None, 0, 0, 0, None, 1.0)


def test_score_is_the_weighted_share_of_checks_held() -> None:
    assert score([row(3, 4, 4), row(1, 0, 4)]) == 75.0
    assert score([row(2, 5, 10), row(2, 10, 10)]) == 75.0
    assert score([row(1, 4, 4, confirmed=False)]) == 0.0
    assert score([]) == 0.0


def test_what_users_saw_caps_the_score_above_the_budget() -> None:
    """kill-edge held every check while 11 of 140 requests failed: not 100 %."""
    import dataclasses

    from pipeline.chaos.results import failed_share

    kill_edge = dataclasses.replace(row(2, 4, 4), failed_requests=11, requests=140)
    quiet = dataclasses.replace(row(2, 4, 4), failed_requests=0, requests=600)
    assert score([kill_edge, quiet]) == 100.0  # without a budget: the checks alone
    assert score([kill_edge, quiet], budget=0.005) == round(100 * (2 * (1 - 11 / 140) + 2) / 4, 1) < 100
    assert score([dataclasses.replace(kill_edge, failed_requests=0)], budget=0.005) == 100.0
    assert score([dataclasses.replace(kill_edge, failed_requests=1, requests=400)], budget=0.005) == 100.0  # within
    assert failed_share([kill_edge, quiet]) == 11 / 740
    assert failed_share([dataclasses.replace(kill_edge, requests=None, failed_requests=None)]) is None
    assert kill_edge.as_dict()["failed_share"] == round(11 / 140, 5)


def test_chaos_is_always_run_without_version_check_and_with_continuous_hypothesis(tmp_path: Any) -> None:
    from pathlib import Path

    from pipeline.chaos.runner import chaos_command

    command = chaos_command(Path("x.yaml"), tmp_path / "j.json", tmp_path / "c.log", {"PIPELINE_CHAOS_ENV": "ci"}, 2.0, 600)
    argv = command.argv
    assert argv[1] == "--no-version-check" and argv.index("run") > argv.index("--log-file")
    assert argv[argv.index("--hypothesis-strategy") + 1] == "continuously" and "--fail-fast" in argv
    assert argv[argv.index("--rollback-strategy") + 1] == "always"
    assert command.env["PIPELINE_CHAOS_ENV"] == "ci" and command.check is False and command.timeout == 600
