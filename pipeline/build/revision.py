"""The revision of the app a build is made from: its commit, whether the tree differs, and its image tag (the version)."""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import UserError

APP_PATHS = ("app", "requirements/app.lock")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class Revision:
    """``version`` is the image tag: the commit's short hash, ``-dirty-<digest>`` when a tracked
    file of the app differs from the commit (the digest is of the tracked files, as built)."""

    commit: str
    dirty: bool
    epoch: int
    tree_digest: str = ""

    @property
    def version(self) -> str:
        if not self.dirty:
            return self.commit[:12]
        return f"{self.commit[:12]}-dirty-{self.tree_digest[:8]}"

    @classmethod
    def from_git(cls, root: Path) -> Revision:
        """The release the build would make of this checkout: tracked files only (untracked
        ones are never built, so they neither mark it dirty nor enter its digest)."""
        commit = _git(root, "rev-parse", "HEAD").strip()
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no", "--", *APP_PATHS).strip())
        epoch = int(_git(root, "log", "-1", "--format=%ct"))
        digest = ""
        if dirty:
            h = hashlib.sha256()
            for name in tracked_app_files(root, APP_PATHS):
                path = root / name
                if path.is_file():
                    h.update(name.encode() + b"\0" + path.read_bytes())
            digest = h.hexdigest()
        return cls(commit=commit, dirty=dirty, epoch=epoch, tree_digest=digest)


def _git(root: Path, *args: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        raise UserError(
            "cannot read the git commit of this checkout",
            hint="run inside a git clone with at least one commit",
        ) from exc


def tracked_app_files(root: Path, paths: tuple[str, ...] = ("app",)) -> list[str]:
    """The files of ``paths`` in git's index (committed or staged): what an image is built from."""
    return sorted(n for n in _git(root, "ls-files", "-z", "--cached", "--", *paths).split("\0") if n)


def untracked_app_files(root: Path, paths: tuple[str, ...] = ("app",)) -> list[str]:
    """Files under ``paths`` that git does not track and does not ignore: never built."""
    return sorted(n for n in _git(root, "ls-files", "-z", "--others", "--exclude-standard", "--", *paths).split("\0") if n)


def check_version(version: str) -> str:
    """A version given by the user must be a valid image tag."""
    if not TAG.fullmatch(version):
        raise UserError(
            f"'{version}' is not a valid version",
            hint="a version is an image tag: letters, digits, '.', '_' and '-', e.g. the output of `pipeline build`",
        )
    return version


def image_ref(registry: str, name: str, version: str) -> str:
    return f"{registry}/{name}:{version}"
