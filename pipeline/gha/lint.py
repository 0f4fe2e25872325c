"""The offline check of ``.github/``: schemas, a workflow linter, and our own rules.

- every workflow against GitHub's schema and ``dependabot.yml`` against dependabot's
  (``check-jsonschema --builtin-schema``: the schemas ship inside the package, no network);
- ``zizmor --offline`` (template injection, credential persistence, dangerous triggers ...);
- our rules: ``permissions: {}`` at the top and granted per job, every third-party action
  pinned by a full commit SHA with a version comment, every job calls a make target, and
  every ``make X`` the workflows call exists in the Makefile, and every path an
  ``actions/upload-artifact`` step uploads is one that a make target of its job writes.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.commands import Command, cmd
from pipeline.commands.executor import Executor

PINNED = re.compile(r"^\s*-?\s*uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>\S.*))?$")
SHA = re.compile(r"^[0-9a-f]{40}$")
RULE = re.compile(r"^(?P<names>[A-Za-z0-9][A-Za-z0-9_.%/ -]*?)\s*:(?![=:])")
SPLIT = re.compile(r"&&|\|\||[;|()]")
UPLOAD = "actions/upload-artifact"
JOURNAL = ".pipeline/journal.sqlite*"
# What each make target writes below the checkout: an artifact a workflow uploads must be one
# of the paths that the make targets called before it in the same job write.
WRITES: dict[str, tuple[str, ...]] = {
    "up": (JOURNAL,),
    "deploy": (JOURNAL,),
    "rollback": (JOURNAL,),
    "perf": (".pipeline/gates/", JOURNAL),  # pipeline/gates/perf.py: gates/<env>/<stamp>-<script>/
    "chaos": (".pipeline/chaos/", JOURNAL),  # pipeline/chaos/runner.py: chaos/<run>/<experiment>/
}


@dataclass(frozen=True)
class Finding:
    """One problem: where (file, and a key path inside it) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def tool(name: str) -> str:
    """The tool from this interpreter's venv, else from PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def workflow_files(root: Path) -> list[Path]:
    base = root / ".github" / "workflows"
    return sorted([*base.glob("*.yml"), *base.glob("*.yaml")])


def makefile_targets(makefile: Path) -> set[str]:
    """Targets defined by rules of a Makefile (``a b: deps``); variables and recipes are skipped."""
    targets: set[str] = set()
    for line in makefile.read_text(encoding="utf-8").splitlines():
        if line.startswith(("\t", "#", " ")):
            continue
        match = RULE.match(line)
        if match:
            targets.update(n for n in match["names"].split() if not n.startswith("."))
    return targets


def make_calls(script: str) -> list[str]:
    """The targets of every ``make`` command in a shell script (flags and VAR=value skipped)."""
    found: list[str] = []
    for line in script.splitlines():
        for part in SPLIT.split(line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                words = part.split()
            while words and (words[0] in ("sudo", "env", "time", "exec") or "=" in words[0]):
                words = words[1:]
            if not words or words[0] != "make":
                continue
            goals = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
            found.extend(goals[:1] or ["(default goal)"])
    return found


def _load(path: Path, shown: str) -> tuple[dict[str, Any] | None, list[Finding]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        return None, [Finding(shown, f"{where}not valid YAML")]
    if not isinstance(data, dict):
        return None, [Finding(shown, "the top level must be a mapping")]
    return data, []


def check_workflow(path: Path, shown: str, targets: set[str]) -> list[Finding]:
    """Our own rules for one workflow file."""
    data, findings = _load(path, shown)
    if data is None:
        return findings
    if data.get("permissions") != {}:
        findings.append(Finding(shown, "permissions: must be {} at the top (grant per job)"))
    jobs = data.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        return [*findings, Finding(shown, "jobs: none defined")]
    for name, job in jobs.items():
        where = f"{shown}: jobs.{name}"
        if not isinstance(job, dict):
            findings.append(Finding(where, "must be a mapping"))
            continue
        if "permissions" not in job and "uses" not in job:
            findings.append(Finding(where, "permissions: missing (grant what this job needs, or {})"))
        steps = job.get("steps") or []
        calls = [(i, t) for i, step in enumerate(steps) if isinstance(step, dict) for t in make_calls(str(step.get("run", "")))]
        if "uses" not in job and not calls:
            findings.append(Finding(where, "calls no make target (nothing may live only in YAML)"))
        for index, target in calls:
            if target not in targets:
                findings.append(Finding(f"{where}.steps[{index}]", f"'make {target}': no such target in the Makefile"))
        findings.extend(check_uploads(where, steps, calls))
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = PINNED.match(line)
        if not match or match["ref"].startswith(("./", "docker://")):
            continue
        action, _, ref = match["ref"].partition("@")
        if not SHA.fullmatch(ref):
            findings.append(Finding(f"{shown}: line {number}", f"{action}@{ref or '?'}: pin to a full commit SHA"))
        elif not match["comment"]:
            findings.append(Finding(f"{shown}: line {number}", f"{action}: add the version as a comment (# vX.Y.Z)"))
    return findings


def check_uploads(where: str, steps: list[Any], calls: list[tuple[int, str]]) -> list[Finding]:
    """Every path an ``actions/upload-artifact`` step uploads is written by a make target that
    an earlier step of the job calls (see ``WRITES``); otherwise the artifact is always empty."""
    findings: list[Finding] = []
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or not str(step.get("uses", "")).startswith(f"{UPLOAD}@"):
            continue
        written = sorted({w for i, target in calls if i < index for w in WRITES.get(target, ())})
        paths = str((step.get("with") or {}).get("path", "")).splitlines()
        for path in (p.strip() for p in paths):
            if not path or path.startswith("!"):
                continue
            if not any(path.startswith(w) or w.startswith(path.rstrip("/") + "/") for w in written):
                made = ", ".join(written) or "nothing"
                findings.append(
                    Finding(f"{where}.steps[{index}].with.path", f"'{path}': no make target this job calls writes it ({made})")
                )
    return findings


def tool_commands(root: Path) -> list[Command]:
    """The offline linters, as commands run from ``root``."""
    github = root / ".github"
    commands: list[Command] = []
    workflows = workflow_files(root)
    if workflows:
        commands.append(
            cmd(
                tool("check-jsonschema"),
                "--builtin-schema",
                "vendor.github-workflows",
                *(str(p) for p in workflows),
                description="workflows against GitHub's schema",
                mutates=False,
                check=False,
            )
        )
    if (github / "dependabot.yml").is_file():
        commands.append(
            cmd(
                tool("check-jsonschema"),
                "--builtin-schema",
                "vendor.dependabot",
                str(github / "dependabot.yml"),
                description="dependabot.yml against dependabot's schema",
                mutates=False,
                check=False,
            )
        )
    commands.append(
        cmd(tool("zizmor"), "--offline", "--quiet", str(github), description="zizmor --offline", mutates=False, check=False)
    )
    return commands


def lint(root: Path, ex: Executor, run_tools: bool = True) -> list[Finding]:
    """Every problem found in ``root/.github``; empty when all is well."""
    findings: list[Finding] = []
    makefile = root / "Makefile"
    targets = makefile_targets(makefile) if makefile.is_file() else set()
    for path in workflow_files(root):
        findings.extend(check_workflow(path, str(path.relative_to(root)), targets))
    if not (root / ".github" / "dependabot.yml").is_file():
        findings.append(Finding(".github/dependabot.yml", "missing"))
    if run_tools:
        for command in tool_commands(root):
            result = ex.run(command)
            if not result.ok:
                lines = [ln.strip() for ln in (result.stdout + "\n" + result.stderr).splitlines() if ln.strip()]
                detail = " | ".join(lines[:6]).replace(f"{root}/", "") or f"exit {result.returncode}"
                findings.append(Finding(command.description, detail))
    return findings
