from __future__ import annotations

import os
from pathlib import Path

from pipeline.build.image import build_labels, normalise, wheel_commands
from pipeline.build.images import debootstrap_commands, host_mirror
from pipeline.build.revision import Revision
from pipeline.project import Project


def test_normalise_fixes_mtimes_and_drops_bytecode(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"x")
    (tmp_path / "pkg" / "m.py").write_text("x = 1\n")
    normalise(tmp_path, 1_700_000_000)
    assert not (tmp_path / "pkg" / "__pycache__").exists()
    for path in [tmp_path, tmp_path / "pkg", tmp_path / "pkg" / "m.py"]:
        assert int(os.stat(path).st_mtime) == 1_700_000_000
    assert oct(os.stat(tmp_path / "pkg" / "m.py").st_mode & 0o777) == "0o644"


def test_labels_come_from_the_commit_not_the_clock() -> None:
    labels = build_labels(Revision(commit="a" * 40, dirty=False, epoch=0))
    assert labels["org.opencontainers.image.created"] == "1970-01-01T00:00:00Z"
    assert labels["org.opencontainers.image.revision"] == "a" * 40
    assert labels["org.opencontainers.image.version"] == "a" * 12


def test_wheels_are_hash_checked_binary_only_and_installed_offline(tmp_path: Path) -> None:
    download, _, install = wheel_commands(Project(tmp_path, tmp_path / "state"), tmp_path / "context", python="py")
    assert "--require-hashes" in download.argv and "--only-binary=:all:" in download.argv
    assert "--no-index" in install.argv and "--no-compile" in install.argv and "--target" in install.argv


def test_host_mirror_reads_deb822_and_skips_security(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\n\nTypes: deb\nURIs: http://mirror.example/debian\n"
    )
    assert host_mirror(tmp_path) == "http://mirror.example/debian"
    assert host_mirror(tmp_path / "none") is None


def test_debootstrap_then_import(tmp_path: Path) -> None:
    commands = debootstrap_commands(Project(tmp_path, tmp_path / "s"), "bookworm", "pipeline/base:bookworm", None)
    argvs = [c.argv for c in commands]
    assert argvs[1][0] == "debootstrap" and "--variant=minbase" in argvs[1]
    assert argvs[3][:2] == ("docker", "import") and argvs[3][-1] == "pipeline/base:bookworm"


def test_public_base_image_from_the_environment_variable(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pipeline.build.images import base_ref
    from pipeline.environment.model import Environment

    env = Environment(name="x")
    monkeypatch.delenv("BASE_IMAGE", raising=False)
    assert base_ref(env) == "pipeline/base:bookworm"
    monkeypatch.setenv("BASE_IMAGE", "debian:bookworm-slim")
    assert base_ref(env) == "debian:bookworm-slim"


def test_the_image_gets_tracked_files_only_and_says_what_it_left_out(tmp_path: Path) -> None:
    """Finding 6: an untracked `app/.env` or `app/db.sqlite3`, or what a symlink points to, never
    reaches the build context."""
    import subprocess

    from pipeline.build.image import stage_sources

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.invalid")
    git("config", "user.name", "t")
    (tmp_path / "app" / "refapp").mkdir(parents=True)
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app" / "refapp" / "views.py").write_text("x = 1\n")
    (tmp_path / "host-secret").write_text("outside the app\n")
    (tmp_path / "app" / "leak").symlink_to(tmp_path / "host-secret")  # tracked, but points out
    git("add", "-A")
    git("commit", "-qm", "one")
    (tmp_path / "app" / ".env").write_text("DJANGO_SECRET_KEY=left-behind\n")  # pragma: allowlist secret
    (tmp_path / "app" / "db.sqlite3").write_bytes(b"SQLite format 3\0")
    said: list[str] = []
    context = tmp_path / "ctx"
    stage_sources(Project(tmp_path, tmp_path / "state"), context, said.append)
    staged = sorted(str(p.relative_to(context)) for p in context.rglob("*") if p.is_file())
    assert staged == ["Dockerfile", "layer-app/opt/refapp/app/Dockerfile", "layer-app/opt/refapp/app/refapp/views.py"]
    assert len(said) == 1 and "2 untracked files under app/" in said[0] and "app/.env" in said[0]
