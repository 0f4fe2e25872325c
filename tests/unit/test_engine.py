from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import engine as engine_module
from pipeline.commands import Result
from pipeline.engine import Engine
from pipeline.errors import EngineUnavailable
from pipeline.project import Project
from pipeline.testing import FakeExecutor


def test_no_engine_and_not_installable_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeExecutor().on("docker", "info", result=Result(1, "", "Cannot connect to the Docker daemon"))
    monkeypatch.setattr(engine_module.shutil, "which", lambda _name: None)
    monkeypatch.setattr(engine_module, "can_install", lambda: False)
    with pytest.raises(EngineUnavailable) as caught:
        Engine(fake, Project(tmp_path, tmp_path / "state"), lambda _m: None).ensure()
    assert caught.value.exit_code == 6
    assert "apt-get install docker.io" in (caught.value.hint or "")
    assert fake.mutating() == []


def test_missing_engine_is_installed_and_started_on_debian(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([Result(1), Result(0, "20.10")])
    fake = FakeExecutor().on("docker", "info", result=lambda _c: next(answers))
    monkeypatch.setattr(engine_module.shutil, "which", lambda _name: None)
    monkeypatch.setattr(engine_module, "can_install", lambda: True)
    Engine(fake, Project(tmp_path, tmp_path / "state"), lambda _m: None).ensure()
    changed = [c.argv for c in fake.mutating()]
    assert changed[0][:2] == ("apt-get", "update")
    assert changed[1][:3] == ("apt-get", "install", "-y") and "docker.io" in changed[1]
    assert changed[2] == ("dockerd",)
    assert fake.mutating()[2].background


def test_running_engine_is_left_alone(tmp_path: Path) -> None:
    fake = FakeExecutor().on("docker", "info", result=Result(0, "20.10"))
    Engine(fake, Project(tmp_path, tmp_path / "state"), lambda _m: None).ensure()
    assert fake.mutating() == []


def test_swarm_is_initialised_only_when_inactive(tmp_path: Path) -> None:
    inactive = FakeExecutor().on("docker", "info", result=Result(0, "inactive"))
    Engine(inactive, Project(tmp_path, tmp_path / "s"), lambda _m: None).ensure_swarm()
    assert [c.argv[:3] for c in inactive.mutating()] == [("docker", "swarm", "init")]
    active = FakeExecutor().on("docker", "info", result=Result(0, "active"))
    Engine(active, Project(tmp_path, tmp_path / "s"), lambda _m: None).ensure_swarm()
    assert active.mutating() == []


def test_a_dry_run_of_the_engine_and_the_registry_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pipeline up --dry-run` on a machine with no engine and no registry: the plan names the log
    and storage paths, and not one file or directory is created."""
    from pipeline.commands.executor import DryRunExecutor

    fake = FakeExecutor().on("docker", "info", result=Result(1, "", "Cannot connect to the Docker daemon"))
    monkeypatch.setattr(engine_module.shutil, "which", lambda _name: "/usr/bin/" + _name)
    monkeypatch.setattr(engine_module.registry, "answers", lambda _address: False)
    monkeypatch.setattr(engine_module, "port_free", lambda _host, _port: True)
    planned: list[str] = []
    engine = Engine(DryRunExecutor(fake, planned.append), Project(tmp_path, tmp_path / "state"), lambda _m: None)
    before = sorted(tmp_path.rglob("*"))
    engine.ensure()
    engine.ensure_registry("127.0.0.1:5000")
    assert sorted(tmp_path.rglob("*")) == before == []
    assert any("dockerd" in line for line in planned) and any("docker-registry" in line for line in planned)
