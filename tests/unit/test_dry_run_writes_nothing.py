"""A dry run writes nothing: the real CLI entry, its commands answered by a fake, against a copy of the project.

The fake says "the engine answers, nothing of the environment exists yet" (the first ``up`` on a
fresh checkout: the case that would create the most), and the test compares every file and
folder of the copy, the state dir and the journal's folder before and after.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline import registry
from pipeline.cli.main import run
from pipeline.commands import Result
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("environments", "images", "featureflags", "playbooks", "chaos", "perf")

Snapshot = dict[str, tuple[bool, int, int]]


def snapshot(*folders: Path) -> Snapshot:
    """Every entry under ``folders`` (and the folders themselves): is-dir, size, mtime."""
    seen: Snapshot = {}
    for folder in folders:
        for path in [folder, *folder.rglob("*")] if folder.exists() else []:
            stat = path.lstat()
            seen[str(path)] = (path.is_dir(), stat.st_size, stat.st_mtime_ns)
    return seen


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's tracked files that ``up`` reads, with the state dir and the journal moved inside."""
    listed = subprocess.run(["git", "ls-files", "-z", *COPIED], cwd=ROOT, capture_output=True, check=True).stdout
    root = tmp_path / "project"
    for name in filter(None, listed.decode().split("\0")):
        if (ROOT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)
    monkeypatch.setenv("PIPELINE_ROOT", str(root))
    monkeypatch.setenv("PIPELINE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PIPELINE_JOURNAL", str(tmp_path / "journal" / "journal.sqlite"))
    monkeypatch.delenv("BASE_IMAGE", raising=False)
    # this machine's ports and registry must not decide the plan: every port is free, the registry answers
    for module in ("pipeline.targets.local", "pipeline.targets.vmlocal", "pipeline.engine"):
        monkeypatch.setattr(f"{module}.port_free", lambda _host, _port: True)
    monkeypatch.setattr(registry, "answers", lambda _address: True)
    monkeypatch.setattr(registry, "has_tag", lambda _address, _repo, _tag: True)
    return tmp_path


def fresh_machine() -> FakeExecutor:
    """The engine answers and the base images exist; no service, container, volume, config or host yet."""
    missing = Result(1, "", "Error: No such object")
    return (
        FakeExecutor()
        .on("docker", "info", result=Result(0, "active"))
        .on("docker", "image", "inspect", result=Result(0, "sha256:0123456789ab"))
        .on("docker", "service", "inspect", result=missing)
        .on("docker", "container", "inspect", result=missing)
        .on("docker", "inspect", result=missing)
        .on("docker", "network", "inspect", result=missing)
        .on("docker", "volume", "inspect", result=missing)
        .on("docker", "config", "inspect", result=missing)
        .on("docker", "service", "ls", result=Result(0, ""))
        .on("ssh", result=Result(255, "", "ssh: connect to host 127.0.0.1 port 22022: Connection refused"))
    )


@pytest.mark.parametrize(
    "args",
    [
        ("up", "local"),
        ("up", "vm-local"),
        ("down", "local", "--volumes"),
        ("down", "vm-local", "--volumes"),
        ("weights", "local", "--canary", "10"),
        ("flags", "set", "local", "new-notes-ui", "on"),
        ("deploy", "local", "--version", "1.0.0-abc1234"),
        ("deploy", "vm-local", "--version", "1.0.0-abc1234"),
        ("chaos", "run", "local"),
    ],
    ids=" ".join,
)
def test_a_dry_run_writes_nothing_and_prints_the_commands(
    project: Path, args: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(project)
    fake = fresh_machine()
    run([*args, "--dry-run"], executor=fake)
    printed = capsys.readouterr()
    created = sorted(set(snapshot(project)) - set(before))
    changed = sorted(p for p, seen in before.items() if snapshot(project).get(p) != seen)
    assert created == [] and changed == [], printed.err
    assert printed.out.strip(), "a dry run prints the commands it would run"
    assert fake.mutating() == [], "a dry run hands only read-only probes to the executor"


def test_up_on_a_bare_machine_writes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No engine answers and no registry: the plan starts both, with their logs and storage in the state dir."""
    import pipeline.engine

    monkeypatch.setattr(registry, "answers", lambda _address: False)
    monkeypatch.setattr(pipeline.engine.shutil, "which", lambda name: f"/usr/bin/{name}")
    fake = fresh_machine().on("docker", "info", result=Result(1, "", "Cannot connect to the Docker daemon"))
    before = snapshot(project)
    run(["up", "local", "--dry-run"], executor=fake)
    printed = capsys.readouterr()
    assert snapshot(project) == before, printed.err
    state = project / "state"
    assert f"dockerd > {state / 'logs' / 'dockerd.log'}" in printed.out
    assert f"docker-registry serve {state / 'registry' / 'config.yml'}" in printed.out
    assert fake.mutating() == []


def test_the_vm_dry_run_says_what_it_would_create(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(["up", "vm-local", "--dry-run"], executor=fresh_machine())
    printed = capsys.readouterr()
    assert "ssh-keygen" in printed.out
    assert "would write" in printed.err and "inventory" in printed.err


def test_the_fake_executor_is_the_one_the_cli_uses(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = fresh_machine()
    run(["status", "local", "--json"], executor=fake)
    assert json.loads(capsys.readouterr().out)["environment"] == "local"
    assert any(call.argv[:3] == ("docker", "service", "ls") for call in fake.calls)
