"""A release: the version of the app built from one commit, and its image tag."""

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
class Release:
    """``version`` is the image tag: the commit's short hash, ``-dirty`` when the tree is."""

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
    def from_git(cls, root: Path) -> Release:
        def git(*args: str) -> str:
            try:
                return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()
            except (subprocess.CalledProcessError, FileNotFoundError) as exc:
                raise UserError(
                    "cannot read the git commit of this checkout",
                    hint="run inside a git clone with at least one commit",
                ) from exc

        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=normal", "--", *APP_PATHS))
        epoch = int(git("log", "-1", "--format=%ct"))
        digest = ""
        if dirty:
            files = git("ls-files", "--cached", "--others", "--exclude-standard", "--", *APP_PATHS).splitlines()
            h = hashlib.sha256()
            for name in sorted(files):
                path = root / name
                if path.is_file():
                    h.update(name.encode() + b"\0" + path.read_bytes())
            digest = h.hexdigest()
        return cls(commit=commit, dirty=dirty, epoch=epoch, tree_digest=digest)


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
