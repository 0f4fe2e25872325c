"""Experiments are validated (Chaos Toolkit's validation and ours) before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chaoslib.exceptions import InterruptExecution

from chaosstack.controls import safeguard
from pipeline.chaos.experiments import discover, for_kind, load, load_all, select
from pipeline.errors import ChaosInvalid, UnknownExperiment
from tests.unit.chaos.conftest import ROOT


def test_every_shipped_experiment_validates_and_there_are_at_least_ten() -> None:
    experiments = load_all(select(ROOT, []), ROOT, "ci")
    assert len(experiments) >= 10
    for e in experiments:
        assert e.actions, e.name
        assert e.rollbacks, e.name
        hypothesis = e.data["steady-state-hypothesis"]["probes"]
        assert all(p.get("tolerance") is not None for p in hypothesis), e.name


def test_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownExperiment, match="unknown experiment 'nope'") as info:
        select(ROOT, ["kill-app-task", "nope"])
    assert "kill-app-task" in str(info.value.hint)


def base() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "chaos/experiments/kill-app-task.yaml").read_text())
    return data


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["method"][1]["provider"].update(func="nope"), "does not expose a function called 'nope'"),
        (lambda d: d["method"][1]["provider"].update(arguments={"servic": "app-stable"}), "argument 'service' is missing"),
        (lambda d: d.pop("steady-state-hypothesis"), "needs at least one probe"),
        (lambda d: d.update(rollbacks=[]), "rollbacks"),
        (lambda d: d.update(controls=[]), "safeguard"),
        (lambda d: d.update(extensions=[{"name": "pipeline", "weight": 0}]), "weight: 1-10"),
        (lambda d: d.update(method=[d["method"][2]]), "chaosstack extension"),
        (lambda d: d.update(extensions=[{"name": "pipeline", "weight": 1, "targets": ["k8s"]}]), "pipeline.targets"),
        (lambda d: d.update(extensions=[{"name": "pipeline", "weight": 1, "targets": []}]), "pipeline.targets"),
    ],
)
def test_invalid_experiments_name_file_and_reason(tmp_path: Path, change: Any, words: str) -> None:
    data = base()
    change(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ChaosInvalid, match=r"broken\.yaml: ") as info:
        load(path, ROOT, "ci")
    assert words in str(info.value)


def test_not_yaml_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("title: [unclosed\n")
    with pytest.raises(ChaosInvalid, match="not readable YAML"):
        load(path, ROOT)


def test_discover_names_files() -> None:
    assert "kill-app-task" in discover(ROOT)


def test_safeguard_interrupts_on_an_unconfirmed_fault() -> None:
    context = {"type": "action", "name": "kill", "provider": {"type": "python", "module": "chaosstack.service.actions"}}
    with pytest.raises(InterruptExecution, match="fault not confirmed"):
        safeguard.after_activity_control(context, {"status": "failed", "exception": ["ActivityFailed: x"]})
    safeguard.after_activity_control(context, {"status": "succeeded"})  # no budget set: nothing to check


def test_safeguard_interrupts_when_the_budget_is_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(safeguard.BUDGET_VAR, "3")
    monkeypatch.setenv(safeguard.STARTED_VAR, "1000")
    monkeypatch.setattr(safeguard.Stack, "from_configuration", classmethod(lambda cls, c: object()))
    monkeypatch.setattr(safeguard, "failed_since", lambda stack, started: 4)
    with pytest.raises(InterruptExecution, match="error budget spent: 4 failed requests > 3"):
        safeguard.after_activity_control({"type": "probe"}, {"status": "succeeded"})
    monkeypatch.setattr(safeguard, "failed_since", lambda stack, started: 3)
    safeguard.after_activity_control({"type": "probe"}, {"status": "succeeded"})


def test_experiments_apply_to_the_target_kinds_they_name() -> None:
    every = load_all(select(ROOT, []), ROOT, "ci")
    local = {e.name for e in for_kind(every, "local", named=False)}
    vm = {e.name for e in for_kind(every, "vm", named=False)}
    assert {"vm-kill-canary-instance", "vm-kill-stable-instance", "vm-certificate-expiry"} == vm
    assert "kill-app-task" in local and not local & vm  # no targets: local only
    with pytest.raises(UnknownExperiment, match=r"no experiment .* applies to a ecs target"):
        for_kind(every, "ecs", named=False)


def test_a_named_experiment_for_another_kind_is_refused() -> None:
    chosen = load_all(select(ROOT, ["kill-app-task", "vm-certificate-expiry"]), ROOT, "ci")
    with pytest.raises(UnknownExperiment, match="'vm-certificate-expiry' is for vm targets, not local"):
        for_kind(chosen, "local", named=True)
