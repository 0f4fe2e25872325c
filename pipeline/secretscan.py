"""The secret scan of ``make lint`` (the tree) and ``make scan-history`` (every blob ever committed).

detect-secrets finds candidates; ``.secrets.baseline`` holds the plugin settings and every
known candidate of the tree, each audited by a person (``"is_secret": false``: a test fixture, a
placeholder); ``.secrets.history`` holds the audited candidates that only the history still has
(per finding: commit, file, type, hashed secret and a one-line reason; never the secret).
A candidate that neither allows, or one audited as a real secret, fails the scan with its file
and line (and commit); so does a baseline entry nobody audited and a history entry that matches
nothing (allow-listing is explicit, never silent). A line may also carry
``# pragma: allowlist secret``.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detect_secrets.core import baseline as ds_baseline
from detect_secrets.core.secrets_collection import SecretsCollection

from pipeline.errors import ConfigError

BASELINE = ".secrets.baseline"
HISTORY = ".secrets.history"  # audited findings of the history only (secrets no longer in the tree)
HEX = re.compile(r"[0-9a-f]{7,40}")
HEX40 = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Leak:
    """One candidate secret that the baseline does not allow."""

    path: str
    line: int
    kind: str
    why: str = "not in .secrets.baseline"
    commit: str = ""  # history findings: the commit that added the blob (full hash)
    hashed_secret: str = ""  # history findings: what an audited .secrets.history entry names

    def __str__(self) -> str:
        return f"{self.path}{f':{self.line}' if self.line else ''}: {self.kind} ({self.why})"


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
    files = [f for f in files if Path(f).name not in (BASELINE, HISTORY) and (root / f).is_file() and not (root / f).is_symlink()]
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


@dataclass(frozen=True)
class HistoryFinding:
    """A candidate in a blob of the history: the commit that added the blob, its file and line."""

    commit: str  # full hash
    file: str
    line: int
    kind: str
    hashed_secret: str  # as detect-secrets reports it (SHA-1 of the secret): never the secret itself

    def leak(self, why: str = f"not in {BASELINE} nor {HISTORY}") -> Leak:
        return Leak(f"{self.commit[:12]}:{self.file}", self.line, self.kind, why, self.commit, self.hashed_secret)


@dataclass(frozen=True)
class Allowed:
    """One audited finding of ``.secrets.history``: where it was committed, what it is, and why it is no secret."""

    commit: str
    file: str
    type: str
    hashed_secret: str
    reason: str

    def matches(self, found: HistoryFinding) -> bool:
        return found.commit.startswith(self.commit) and (found.file, found.kind, found.hashed_secret) == (
            self.file,
            self.type,
            self.hashed_secret,
        )


def load_history_allowlist(root: Path) -> list[Allowed]:
    """``.secrets.history`` (JSON: ``{"allowed": [{commit, file, type, hashed_secret, reason}, ...]}``); none: empty."""
    path = root / HISTORY
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{HISTORY}: not JSON: {exc}", hint="see the file's own example entries") from None
    if not isinstance(data, dict) or set(data) - {"comment", "allowed"} or not isinstance(data.get("allowed"), list):
        raise ConfigError(f"{HISTORY}: must be an object with a list 'allowed' (and an optional 'comment')")
    fields = ("commit", "file", "type", "hashed_secret", "reason")
    entries: list[Allowed] = []
    for i, item in enumerate(data["allowed"]):
        where = f"{HISTORY}: allowed[{i}]"
        if not isinstance(item, dict) or set(item) != set(fields):
            keys = sorted(item) if isinstance(item, dict) else type(item).__name__
            raise ConfigError(f"{where}: needs exactly {', '.join(fields)} (got {keys})", hint="never the secret itself")
        bad = [k for k in fields if not isinstance(item[k], str) or not item[k].strip()]
        if bad:
            raise ConfigError(f"{where}.{bad[0]}: must be a non-empty string")
        if not HEX.fullmatch(item["commit"]) or not HEX40.fullmatch(item["hashed_secret"]):
            raise ConfigError(
                f"{where}: commit must be 7-40 hex digits and hashed_secret 40 (detect-secrets' hash)",
                hint="copy both from `pipeline secrets scan --history --json`",
            )
        entries.append(Allowed(**{k: item[k].strip() for k in fields}))
    return entries


def history_findings(root: Path, rev: str = "HEAD") -> list[HistoryFinding]:
    """Candidates in any blob of ``rev``'s history whose secret the baseline does not allow anywhere."""
    data, _ = _load_baseline(root)
    allowed = {(secret, kind) for (_, secret, kind), audit in _audits(data).items() if audit is False}
    blobs: dict[str, str] = {}
    for line in _git(root, "rev-list", "--objects", rev).splitlines():
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
    found: list[HistoryFinding] = []
    added: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="pipeline-history-") as tmp:
        base = Path(tmp)
        names: list[str] = []
        for sha, path in blobs.items():
            if kinds.get(sha) != "blob":
                continue
            dest = base / sha / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            blob = subprocess.run(["git", "-C", str(root), "cat-file", "blob", sha], capture_output=True, check=True)
            dest.write_bytes(blob.stdout)
            names.append(f"{sha}/{path}")
        for name, secret in _scan(base, sorted(names)):
            if (secret.secret_hash, secret.type) in allowed:
                continue
            sha, _, path = name.partition("/")
            if sha not in added:  # the first commit of rev's history that has the blob
                commits = _git(root, "log", rev, "--format=%H", f"--find-object={sha}", "--reverse").split()
                added[sha] = commits[0] if commits else sha
            found.append(HistoryFinding(added[sha], path, secret.line_number or 0, secret.type, secret.secret_hash))
    return sorted(found, key=lambda f: (f.commit, f.file, f.line))


def scan_history(root: Path, rev: str = "HEAD") -> list[Leak]:
    """Candidates in any blob of ``rev``'s history (every commit it descends from) that neither the
    baseline nor ``.secrets.history`` allows, each named ``<commit>:<path>:<line>``; and every
    ``.secrets.history`` entry of a commit in that history that matches nothing (stale)."""
    _, leaks = _load_baseline(root)
    entries = load_history_allowlist(root)
    findings = history_findings(root, rev)
    used: set[Allowed] = set()
    for found in findings:
        entry = next((e for e in entries if e.matches(found)), None)
        if entry is None:
            leaks.append(found.leak())
        else:
            used.add(entry)
    history = set(_git(root, "rev-list", rev).split())
    for entry in entries:
        in_history = any(c.startswith(entry.commit) for c in history)
        if entry not in used and in_history:  # an entry of a commit not in this history waits for its branch
            where = f"{HISTORY}: {entry.commit[:12]}:{entry.file}"
            leaks.append(Leak(where, 0, entry.type, "stale: matches no finding; remove it"))
    return sorted(leaks, key=lambda leak: (leak.path, leak.line))
