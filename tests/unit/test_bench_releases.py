"""The judge bench's bad releases: the table, the patches, and the patched build (no Docker)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.bench.releases import BAD_RELEASES, IDENTITY, BadRelease, build_patched, patch_name, worktree_path
from pipeline.canary.controller import Outcome
from pipeline.canary.run import parse_faults
from pipeline.commands import Command, Result
from pipeline.commands.executor import DryRunExecutor
from pipeline.environment import load_environment
from pipeline.errors import UserError
from pipeline.project import Project
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]
PATCH = """\
diff --git a/app/refapp/views.py b/app/refapp/views.py
--- a/app/refapp/views.py
+++ b/app/refapp/views.py
@@ -1 +1 @@
-ANSWER = 42
+ANSWER = 41
"""


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()


def really(command: Command) -> Result:
    """Run git and rm for real (on the temporary repository); everything else stays fake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | dict(command.env)
    done = subprocess.run(list(command.argv), capture_output=True, text=True, env=env)
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def repo(tmp_path: Path) -> Project:
    root = tmp_path / "repo"
    (root / "app" / "refapp").mkdir(parents=True)
    (root / "requirements").mkdir()
    (root / "perf" / "releases").mkdir(parents=True)
    (root / "app" / "refapp" / "views.py").write_text("ANSWER = 42\n")
    (root / "app" / "Dockerfile").write_text("FROM scratch\n")
    (root / "requirements" / "app.lock").write_text("")
    (root / ".gitignore").write_text(".pipeline/\n")
    (root / "perf" / "releases" / "answer-off-by-one.patch").write_text(PATCH)
    git(root.parent, "init", "-q", str(root))
    git(root, "add", ".")
    old = {"GIT_AUTHOR_DATE": "2020-01-02T03:04:05+00:00", "GIT_COMMITTER_DATE": "2020-01-02T03:04:05+00:00"}
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first"],
        env={**os.environ, **old},
        check=True,
    )
    return Project(root=root, state=root / ".pipeline")


def fake() -> FakeExecutor:
    return FakeExecutor().on("git", result=really).on("rm", result=really)


def build(ex: FakeExecutor, project: Project) -> str:
    env = load_environment(ROOT, "local")
    return build_patched(ex, project, env, lambda _m: None, project.root / "perf/releases/answer-off-by-one.patch")


def test_patched_build_tags_the_patched_commit_and_leaves_the_checkout_alone(
    repo: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BASE_IMAGE", raising=False)
    head = git(repo.root, "rev-parse", "HEAD")
    staged: dict[str, str] = {}

    def docker_build(command: Command) -> Result:  # what the build context holds when docker reads it
        context = Path(command.argv[-1])
        staged["views"] = (context / "layer-app" / "opt" / "refapp" / "app" / "refapp" / "views.py").read_text()
        staged["context"] = str(context)
        return Result(0)

    ex = fake().on("docker", "build", result=docker_build)
    version = build(ex, repo)

    commit, _, suffix = version.partition("-")
    assert suffix == "bad-answer-off-by-one"
    assert len(commit) == 12 and not head.startswith(commit)
    # the patched commit: HEAD's child, the fixed identity, HEAD's date
    assert git(repo.root, "rev-parse", f"{commit}^") == head
    assert git(repo.root, "log", "-1", "--format=%an <%ae>|%cn|%aI|%cI", commit) == (
        f"{IDENTITY['name']} <{IDENTITY['email']}>|{IDENTITY['name']}|2020-01-02T03:04:05+00:00|2020-01-02T03:04:05+00:00"
    )
    # the image got the patched code; the checkout did not
    assert staged["views"] == "ANSWER = 41\n"
    assert not Path(staged["context"]).exists()  # each build stages into its own context, removed after it
    assert (repo.root / "app" / "refapp" / "views.py").read_text() == "ANSWER = 42\n"
    assert git(repo.root, "status", "--porcelain") == "" and git(repo.root, "rev-parse", "HEAD") == head
    # docker build and push of that tag, and the worktree is gone afterwards
    docker = [c.argv for c in ex.calls if c.argv[0].endswith("docker") and c.argv[1] in ("build", "push")]
    assert [a[1] for a in docker] == ["build", "push"]
    assert f"127.0.0.1:5000/refapp:{version}" in docker[0] and f"VERSION={version}" in docker[0]
    assert not worktree_path(repo, "answer-off-by-one").exists()
    assert str(worktree_path(repo, "answer-off-by-one")) not in git(repo.root, "worktree", "list")


def test_the_same_head_and_patch_give_the_same_tag(repo: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BASE_IMAGE", raising=False)
    assert build(fake(), repo) == build(fake(), repo)


def test_a_patch_that_does_not_apply_fails_and_cleans_up(repo: Project) -> None:
    (repo.root / "app" / "refapp" / "views.py").write_text("ANSWER = 0\n")
    git(repo.root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "moved on")
    ex = fake()
    with pytest.raises(Exception, match="apply"):
        build(ex, repo)
    assert not any(c.argv[0].endswith("docker") and c.argv[1] == "build" for c in ex.calls)
    assert ex.calls[-1].argv[3:5] == ("worktree", "remove")
    assert not worktree_path(repo, "answer-off-by-one").exists()


def test_dry_run_reads_head_and_prints_the_rest(repo: Project) -> None:
    printed: list[str] = []
    ex = DryRunExecutor(fake(), printed.append)
    version = build(ex, repo)  # type: ignore[arg-type]
    assert version.endswith("-bad-answer-off-by-one")
    assert any(" worktree add " in line for line in printed)
    assert any(" apply --index " in line for line in printed)
    assert not any("docker" in line for line in printed)
    assert not (repo.state / "bench").exists()


@pytest.mark.parametrize("name", ["Bad.patch", "bad.diff", "-bad.patch", "bad_name.patch"])
def test_patch_names_must_make_a_tag(name: str) -> None:
    with pytest.raises(UserError):
        patch_name(Path(name))
    assert patch_name(Path("perf/releases/ok-name-2.patch")) == "ok-name-2"


def test_a_bad_release_is_either_faults_or_a_patch() -> None:
    with pytest.raises(ValueError, match="either"):
        BadRelease("x", "neither")
    with pytest.raises(ValueError, match="either"):
        BadRelease("x", "both", faults=("error_rate=1",), patch=Path("p.patch"))


def test_table_names_match_and_every_bad_release_must_be_rolled_back() -> None:
    assert all(name == release.name for name, release in BAD_RELEASES.items())
    assert all(release.expect == Outcome.ROLLED_BACK for release in BAD_RELEASES.values())
    assert sum(1 for r in BAD_RELEASES.values() if r.patch is not None) >= 3  # real code changes, not only knobs


@pytest.mark.parametrize("name", sorted(n for n, r in BAD_RELEASES.items() if r.faults))
def test_every_fault_release_parses(name: str) -> None:
    faults = parse_faults(list(BAD_RELEASES[name].faults))
    assert faults is not None and faults != type(faults)()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("name", sorted(n for n, r in BAD_RELEASES.items() if r.patch))
def test_every_patch_applies_to_the_current_tree(name: str) -> None:
    patch = BAD_RELEASES[name].patch
    assert patch is not None and patch.parts[:2] == ("perf", "releases")
    patch_name(patch)
    done = subprocess.run(["git", "apply", "--check", str(patch)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_patch_file_is_in_the_table() -> None:
    listed = {r.patch.name for r in BAD_RELEASES.values() if r.patch}
    assert {p.name for p in (ROOT / "perf" / "releases").glob("*.patch")} == listed
