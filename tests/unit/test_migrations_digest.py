"""A release whose migration files are stable's needs no migration job (a deploy's overhead)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipeline.build.image import MIGRATIONS_LABEL, migrations_digest
from pipeline.commands import Command, Result
from pipeline.edge import FRESH_SLOTS, Weights, render_split
from pipeline.environment import load_environment
from pipeline.project import Project
from pipeline.targets.base import TrackPlan
from pipeline.targets.local import LocalTarget
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]


def repo(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
    return tmp_path


def test_the_digest_follows_the_migration_files_only(tmp_path: Path) -> None:
    base = {"app/notes/migrations/0001_initial.py": "ops = 1\n", "app/notes/views.py": "a = 1\n"}
    one = migrations_digest(repo(tmp_path / "one", base))
    code_change = migrations_digest(repo(tmp_path / "two", {**base, "app/notes/views.py": "a = 2\n"}))
    new_migration = migrations_digest(repo(tmp_path / "three", {**base, "app/notes/migrations/0002_more.py": "ops = 2\n"}))
    assert one == code_change  # a code change needs no migration
    assert one != new_migration
    untracked = repo(tmp_path / "four", base)
    (untracked / "app/notes/migrations/0002_local.py").write_text("ops = 3\n")  # never built, so not counted
    assert migrations_digest(untracked) == one


def engine(digests: dict[str, str | None]) -> FakeExecutor:
    def inspect(command: Command) -> Result:
        digest = digests.get(command.argv[-1].rsplit(":", 1)[-1])
        return Result(0, json.dumps({MIGRATIONS_LABEL: digest} if digest else {}))

    labels = {"pipeline.version": "v1", "pipeline.track": "stable"}
    service = json.dumps([{"Spec": {"Labels": labels, "Mode": {"Replicated": {"Replicas": 2}}}}])
    return (
        FakeExecutor()
        .on("docker", "image", "inspect", result=inspect)
        .on("docker", "service", "inspect", result=Result(0, service))
        .on("docker", "exec", result=Result(0, render_split(load_environment(ROOT, "local"), Weights(0), FRESH_SLOTS)))
    )


@pytest.mark.parametrize(("canary", "migrates"), [("same", False), ("other", True), (None, True)])
def test_a_canary_with_stable_s_migrations_starts_without_a_migration_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary: str | None, migrates: bool
) -> None:
    fake = engine({"v1": "same", "v2": canary})
    target = LocalTarget(load_environment(ROOT, "local"), fake, Project(ROOT, tmp_path), lambda _m: None)
    monkeypatch.setattr(target, "require_version", lambda v: f"127.0.0.1:5000/refapp:{v}")
    monkeypatch.setattr(target, "wait_services", lambda *_a, **_k: None)
    monkeypatch.setattr(target, "wait_update", lambda *_a, **_k: None)
    monkeypatch.setattr(target, "_ensure_flags", lambda: None)
    monkeypatch.setattr(target, "_secret_mounts", lambda *_a, **_k: [])
    monkeypatch.setattr(target, "_ensure_service", lambda _spec: False)
    jobs: list[str] = []
    monkeypatch.setattr(target, "migrate", lambda version, _image: jobs.append(version))
    target.deploy_tracks([TrackPlan("canary", "v2", replicas=1), TrackPlan("baseline", "v1", replicas=1)])
    assert jobs == (["v2"] if migrates else [])


def test_byte_code_is_compiled_reproducibly_for_both_layers(tmp_path: Path) -> None:
    from pipeline.build.image import compile_commands

    commands = compile_commands(tmp_path, python="python3")
    assert [c.argv[-1] for c in commands] == [str(tmp_path / "layer-site"), str(tmp_path / "layer-app")]
    for command in commands:
        argv = list(command.argv)
        assert argv[argv.index("--invalidation-mode") + 1] == "unchecked-hash"  # no mtime in a .pyc
        assert argv[argv.index("-s") + 1] == argv[-1] and argv[argv.index("-p") + 1] == "/"  # image paths
        assert command.env == {"PYTHONHASHSEED": "0"}  # set constants marshal in one order


def test_compiled_byte_code_is_the_same_twice(tmp_path: Path) -> None:
    import sys

    from pipeline.build.image import compile_commands
    from pipeline.commands.executor import SubprocessExecutor

    trees = []
    for name in ("a", "b"):
        site = tmp_path / name / "layer-site" / "opt" / "refapp" / "site"
        site.mkdir(parents=True)
        (site / "m.py").write_text("X = {'a', 'b', 'c'}\ndef f():\n    return 'x' in X\n")
        (tmp_path / name / "layer-app").mkdir()
        for command in compile_commands(tmp_path / name, python=sys.executable):
            SubprocessExecutor().run(command)
        trees.append(next((site / "__pycache__").glob("m.*.pyc")).read_bytes())
    assert trees[0] == trees[1]
    assert b"/opt/refapp/site/m.py" in trees[0]  # the path the image has, not the build's
