"""Build the app's image from one commit, reproducibly and with no network in the build.

Wheels come from the hash-locked ``requirements/app.lock`` and are installed on the
host into ``site/``; the app's files are copied into ``app/``; every mtime is set to
the commit time (SOURCE_DATE_EPOCH). The image's app layers are plain COPYs of that
tree, so the same commit gives the same layer content.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pipeline.build.images import ensure_base
from pipeline.build.revision import Revision, image_ref, tracked_app_files, untracked_app_files
from pipeline.commands import Command, docker
from pipeline.commands.executor import Executor
from pipeline.environment import Environment
from pipeline.project import Project

Say = Callable[[str], None]
# Each app layer is staged as a whole tree and copied onto "/" so that every directory
# in the layer (opt, opt/refapp, ...) carries the normalised mtime, not the build time.
SITE = "layer-site/opt/refapp/site"
SOURCES = "layer-app/opt/refapp"
MIGRATIONS_LABEL = "pipeline.migrations"  # a digest of the app's migration files: equal digests, same schema


def build_context(project: Project, version: str) -> Path:
    """This build's own context directory: two builds at once (a bench beside a test suite) never
    stage into each other's. The path does not reach the image (byte-code strips it)."""
    return project.state / "build" / f"context-{version}-{os.getpid()}"


def wheel_commands(project: Project, context: Path, python: str = sys.executable) -> list[Command]:
    wheels = project.state / "cache" / "wheels"
    site = context / SITE
    lock = str(project.root / "requirements" / "app.lock")
    return [
        Command(
            (
                python,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--only-binary=:all:",
                "--require-hashes",
                "--no-deps",
                "-r",
                lock,
                "-d",
                str(wheels),
            ),
            description="fetch the app's locked wheels",
            timeout=900,
        ),
        Command(("rm", "-rf", str(site)), description="clear the staged site-packages"),
        Command(
            (
                python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-index",
                "--find-links",
                str(wheels),
                "--require-hashes",
                "--no-deps",
                "--no-compile",
                "--only-binary=:all:",
                "--target",
                str(site),
                "-r",
                lock,
            ),
            description="install the wheels into the build context",
            timeout=900,
            env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        ),
    ]


def stage_sources(project: Project, context: Path, say: Say) -> None:
    """Copy the app's tracked files into the context; untracked ones (a local ``app/.env``,
    ``app/db.sqlite3``) never ship, and ``say`` names them."""
    ignored = untracked_app_files(project.root)
    if ignored:
        shown = ", ".join(ignored[:5]) + (f" and {len(ignored) - 5} more" if len(ignored) > 5 else "")
        files = "file" if len(ignored) == 1 else "files"
        say(f"build: {len(ignored)} untracked {files} under app/ left out of the image (tracked files only): {shown}")
    shutil.rmtree(context / "layer-app", ignore_errors=True)
    for name in tracked_app_files(project.root):
        source = project.root / name
        if source.is_symlink() or not source.is_file() or "__pycache__" in name:
            continue
        dest = context / SOURCES / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        dest.chmod(0o644)
    shutil.copyfile(project.root / "app" / "Dockerfile", context / "Dockerfile")


def normalise(tree: Path, epoch: int, clean: bool = True) -> None:
    """Fixed mtimes and modes: what COPY puts into a layer then depends on content alone.
    ``clean``: stray ``__pycache__`` directories go first (the build compiles its own)."""
    for pycache in list(tree.rglob("__pycache__")) if clean else []:
        shutil.rmtree(pycache, ignore_errors=True)
    for path in sorted(tree.rglob("*"), reverse=True):
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if os.access(path, os.X_OK) and path.suffix != ".py" else 0o644)
        os.utime(path, (epoch, epoch), follow_symlinks=False)
    os.utime(tree, (epoch, epoch))


def compile_commands(context: Path, python: str = sys.executable) -> list[Command]:
    """Byte-code for the staged site-packages and sources, so that a task does not compile Django on
    every start (seen: 8 s from container start to the first log line on a loaded 2-core host).
    Reproducible: hash-based ``.pyc`` (no mtimes), paths as in the image (``-s``/``-p``), a fixed
    hash seed. Written by this Python; an image whose Python differs ignores them (and compiles)."""
    return [
        Command(
            (
                python,
                "-m",
                "compileall",
                "-q",
                "-j",
                "0",
                "--invalidation-mode",
                "unchecked-hash",
                "-s",
                str(context / layer),
                "-p",
                "/",
                str(context / layer),
            ),
            env={"PYTHONHASHSEED": "0"},
            description=f"compile the byte-code of {layer}",
            timeout=600,
        )
        for layer in (SITE.split("/")[0], SOURCES.split("/")[0])
    ]


def migrations_digest(root: Path) -> str:
    """A digest of every tracked migration file (path and content): two releases with the same digest
    need the same database schema, so a release whose digest stable already has needs no migration."""
    digest = hashlib.sha256()
    for name in sorted(tracked_app_files(root)):
        if "/migrations/" in name and name.endswith(".py") and (root / name).is_file():
            digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def build_labels(release: Revision) -> dict[str, str]:
    created = datetime.fromtimestamp(release.epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "org.opencontainers.image.revision": release.commit,
        "org.opencontainers.image.version": release.version,
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.title": "refapp",
        "org.opencontainers.image.source": "pipeline",
    }


def build_image(
    ex: Executor, project: Project, env: Environment, say: Say, push: bool = True, no_cache: bool = False, suffix: str = ""
) -> str:
    """Build and push the image of the current commit; returns its version (the tag)."""
    release = Revision.from_git(project.root)
    version = release.version + (f"-{suffix}" if suffix else "")
    ref = image_ref(env.image.registry, env.image.name, version)
    base = ensure_base(ex, project, env, say)
    context = build_context(project, version)
    say(f"build: {ref}")
    try:
        for command in wheel_commands(project, context):
            ex.run(command)
        if not ex.dry_run:
            stage_sources(project, context, say)
            normalise(context, release.epoch)
        for command in compile_commands(context):
            ex.run(command)
        if not ex.dry_run:
            normalise(context, release.epoch, clean=False)
        labels = build_labels(release)
        ex.run(
            docker.build(
                str(context),
                ref,
                dockerfile=str(context / "Dockerfile"),
                no_cache=no_cache,
                build_args={
                    "BASE_IMAGE": base,
                    "VERSION": version,
                    "REVISION": release.commit,
                    "CREATED": labels["org.opencontainers.image.created"],
                },
                labels={MIGRATIONS_LABEL: migrations_digest(project.root)},
            )
        )
    finally:
        ex.run(Command(("rm", "-rf", str(context)), check=False, description="remove this build's context"))
    if push:
        ex.run(docker.push(ref))
    return version
