"""The secret scan of ``make lint`` (the tree) and ``make scan-history`` (every blob ever committed).

detect-secrets finds candidates; ``.secrets.baseline`` holds the plugin settings and every
known candidate, each audited by a person (``"is_secret": false``: a test fixture, a
placeholder). A candidate that is not in the baseline, or one audited as a real secret, fails
the scan with its file and line; so does a baseline entry nobody audited (allow-listing is
explicit, never silent). A line may also carry ``# pragma: allowlist secret``.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detect_secrets.core import baseline as ds_baseline
from detect_secrets.core.secrets_collection import SecretsCollection

BASELINE = ".secrets.baseline"


@dataclass(frozen=True)
class Leak:
    """One candidate secret that the baseline does not allow."""

    path: str
    line: int
    kind: str
    why: str = "not in .secrets.baseline"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} ({self.why})"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout


def _load_baseline(root: Path) -> tuple[dict[str, Any], list[Leak]]:
    """The baseline (which also configures detect-secrets' plugins and filters) and its own problems."""
    path = root / BASELINE
    data = ds_baseline.load_from_file(str(path))
    ds_baseline.load(data, filename=str(path))
    problems = [
        Leak(name, int(item.get("line_number", 0)), item["type"], "in .secrets.baseline but never audited")
        for name, items in data.get("results", {}).items()
        for item in items
        if item.get("is_secret") is None
    ]
    return data, problems


def _audits(data: dict[str, Any]) -> dict[tuple[str, str, str], bool | None]:
    """(file, hashed secret, type) of every baseline entry -> its audit (None: not audited)."""
    return {
        (name, item["hashed_secret"], item["type"]): item.get("is_secret")
        for name, items in data.get("results", {}).items()
        for item in items
    }


def _scan(root: Path, files: list[str]) -> SecretsCollection:
    found = SecretsCollection(root=str(root))
    files = [f for f in files if Path(f).name != BASELINE and (root / f).is_file() and not (root / f).is_symlink()]
    if files:
        found.scan_files(*files)
    return found


def scan_tree(root: Path, files: list[str] | None = None) -> list[Leak]:
    """Candidates in ``files`` (default: every file git tracks) that the baseline does not allow."""
    data, leaks = _load_baseline(root)
    audits = _audits(data)
    names = files if files is not None else [n for n in _git(root, "ls-files", "-z").split("\0") if n]
    for name, secret in _scan(root, names):
        key = (name, secret.secret_hash, secret.type)
        if key not in audits:
            leaks.append(Leak(name, secret.line_number or 0, secret.type))
        elif audits[key]:
            leaks.append(Leak(name, secret.line_number or 0, secret.type, "audited as a real secret: remove and rotate it"))
    return sorted(leaks, key=lambda leak: (leak.path, leak.line))


def scan_history(root: Path) -> list[Leak]:
    """Candidates in any blob of any commit (all refs) whose secret the baseline does not allow
    anywhere; each named ``<commit>:<path>:<line>``, the commit being one that added the blob."""
    data, leaks = _load_baseline(root)
    allowed = {(secret, kind) for (_, secret, kind), audit in _audits(data).items() if audit is False}
    blobs: dict[str, str] = {}
    for line in _git(root, "rev-list", "--objects", "--all").splitlines():
        sha, _, path = line.partition(" ")
        if path and sha not in blobs:
            blobs[sha] = path
    kinds = dict(
        line.split(" ", 1)
        for line in subprocess.run(
            ["git", "-C", str(root), "cat-file", "--batch-check=%(objectname) %(objecttype)"],
            input="\n".join(blobs),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    )
    with tempfile.TemporaryDirectory(prefix="pipeline-history-") as tmp:
        base = Path(tmp)
        names: dict[str, str] = {}
        for sha, path in blobs.items():
            if kinds.get(sha) != "blob":
                continue
            dest = base / sha / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            blob = subprocess.run(["git", "-C", str(root), "cat-file", "blob", sha], capture_output=True, check=True)
            dest.write_bytes(blob.stdout)
            names[f"{sha}/{path}"] = sha
        for name, secret in _scan(base, sorted(names)):
            if (secret.secret_hash, secret.type) in allowed:
                continue
            sha, _, path = name.partition("/")
            commit = _git(root, "log", "--all", "--format=%h", f"--find-object={sha}", "--reverse").split()
            leaks.append(Leak(f"{commit[0] if commit else sha[:12]}:{path}", secret.line_number or 0, secret.type))
    return sorted(leaks, key=lambda leak: (leak.path, leak.line))
