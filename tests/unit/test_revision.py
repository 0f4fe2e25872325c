from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipeline.build.revision import Revision, check_version, image_ref, tracked_app_files, untracked_app_files
from pipeline.errors import UserError


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.invalid")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "x.py").write_text("a = 1\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "one")
    return tmp_path


def test_clean_tree_tags_with_commit(repo: Path) -> None:
    release = Revision.from_git(repo)
    assert not release.dirty
    assert release.version == release.commit[:12]
    assert release.epoch > 0


def test_dirty_app_marks_version_and_digest_follows_content(repo: Path) -> None:
    (repo / "app" / "x.py").write_text("a = 2\n")
    first = Revision.from_git(repo)
    assert first.dirty
    assert first.version.startswith(first.commit[:12] + "-dirty-")
    (repo / "app" / "x.py").write_text("a = 3\n")
    assert Revision.from_git(repo).version != first.version


def test_change_outside_app_keeps_the_image_version(repo: Path) -> None:
    (repo / "README.md").write_text("docs\n")
    assert not Revision.from_git(repo).dirty


def test_not_a_git_checkout(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        Revision.from_git(tmp_path / "nowhere")


@pytest.mark.parametrize("bad", ["", "-x", "a b", "x" * 200, "v1/2"])
def test_bad_versions_are_refused(bad: str) -> None:
    with pytest.raises(UserError):
        check_version(bad)


def test_image_ref() -> None:
    assert image_ref("127.0.0.1:5000", "refapp", check_version("abc123")) == "127.0.0.1:5000/refapp:abc123"


def test_untracked_files_under_app_neither_ship_nor_change_the_version(repo: Path) -> None:
    """Finding 6: `app/.env` or `app/db.sqlite3` left in a checkout is not part of the release."""
    clean = Revision.from_git(repo)
    (repo / "app" / ".env").write_text("DJANGO_SECRET_KEY=left-behind\n")  # pragma: allowlist secret
    (repo / "app" / "db.sqlite3").write_bytes(b"SQLite format 3\0")
    release = Revision.from_git(repo)
    assert not release.dirty and release.version == clean.version
    assert untracked_app_files(repo) == ["app/.env", "app/db.sqlite3"]
    assert tracked_app_files(repo) == ["app/x.py"]


def test_the_dirty_digest_covers_exactly_the_tracked_files_that_are_built(repo: Path) -> None:
    (repo / "app" / "x.py").write_text("a = 2\n")
    first = Revision.from_git(repo)
    (repo / "app" / "notes.txt").write_text("scratch\n")
    assert Revision.from_git(repo).version == first.version  # untracked: not built, not hashed
    git(repo, "add", "app/notes.txt")
    assert Revision.from_git(repo).version != first.version  # staged: built, hashed
    assert tracked_app_files(repo) == ["app/notes.txt", "app/x.py"]
