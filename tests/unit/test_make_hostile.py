"""Nothing given to make reaches a shell as code (issue 17, finding 1).

The real Makefile runs in a sandbox whose ``.venv/bin/python`` is a stub that records its
arguments, so even a broken guard could run nothing heavier than the stub: no bootstrap, no
Docker. Each hostile value must stop make at parse time (exit 2, one ``error: ... hint:`` line),
before any recipe, stub or shell runs, and the marker file it tries to create never appears.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="GNU make is not installed")

STUB = """#!{python}
import json, os, sys
with open(os.environ["STUB_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """The real Makefile beside a stub venv whose .ready stamp is newer than its inputs."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "bootstrap").write_text("#!/bin/sh\ntouch BOOTSTRAP_RAN\n")
    (tmp_path / "scripts" / "bootstrap").chmod(0o755)
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "dev.lock").write_text("")
    for path in (tmp_path / "scripts" / "bootstrap", tmp_path / "requirements" / "dev.lock"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    stub = tmp_path / ".venv" / "bin" / "python"
    stub.write_text(STUB.format(python=sys.executable))
    stub.chmod(0o755)
    (tmp_path / ".venv" / ".ready").write_text("")
    return tmp_path


def make(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert MAKE is not None
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "STUB_LOG": str(root / "calls.jsonl"), **(env or {})}
    return subprocess.run(
        [MAKE, "--no-print-directory", "-C", str(root), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=30,
    )


def calls(root: Path) -> list[list[str]]:
    log = root / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


# (target, variable, value); {m} is the marker file the value tries to create.
HOSTILE = [
    ("validate", "ENV", "ci; echo X > {m}"),
    ("validate", "ENV", "ci && touch {m}"),
    ("validate", "ENV", "ci`touch {m}`"),
    ("validate", "ENV", "ci$$(touch {m})"),
    ("validate", "ENV", "$(shell touch {m})"),
    ("validate", "ENV", "ci\ntouch {m}"),
    ("validate", "ENV", "ci | tee {m}"),
    ("validate", "BASE_IMAGE", "$(shell touch {m})"),
    ("release-version", "VERSION", 'x"; touch "{m}'),
    ("release-version", "VERSION", "`touch {m}`x"),
    ("release-version", "VERSION", "x\ntouch {m}"),
    ("chaos", "EXPERIMENT", "x; touch {m}"),
    ("chaos", "EXPERIMENT", "x`touch {m}`"),
    ("perf", "SCRIPT", "load; touch {m}"),
    ("weights", "CANARY", "10 > {m}"),
    ("flags", "ARGS", "set notes-excerpt on; touch {m}"),
    ("flags", "ARGS", "list`touch {m}`"),
    ("flags", "ARGS", "list $$(touch {m})"),
    ("flags", "ARGS", "list\ntouch {m}"),
    ("status", "ARGS", "--json > {m}"),
]


@pytest.mark.parametrize(("target", "variable", "value"), HOSTILE)
def test_a_hostile_value_stops_make_before_any_shell(sandbox: Path, target: str, variable: str, value: str) -> None:
    marker = sandbox / "PWNED"
    result = make(sandbox, target, f"{variable}={value.format(m=marker)}")
    assert not marker.exists()
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"error: {variable} " in lines[0] and "hint: " in lines[0], result.stderr
    assert "PWNED" not in lines[0]  # the hostile value is never echoed
    assert calls(sandbox) == [] and not (sandbox / "BOOTSTRAP_RAN").exists()


@pytest.mark.parametrize(("variable", "target"), [("EXPERIMENT", "chaos"), ("VERSION", "release-version"), ("SCRIPT", "perf")])
def test_a_hostile_value_from_the_environment_is_stopped_too(sandbox: Path, variable: str, target: str) -> None:
    """The workflows hand their inputs to make through `env:`; make reads the environment too."""
    marker = sandbox / "PWNED"
    result = make(sandbox, target, env={variable: f"x; touch {marker}", "PIPELINE_ENV": "ci"})
    assert not marker.exists()
    assert result.returncode == 2 and f"error: {variable} " in result.stderr
    assert calls(sandbox) == []


def test_good_values_arrive_as_the_words_they_are(sandbox: Path) -> None:
    assert make(sandbox, "chaos", "ENV=ci").returncode == 0
    assert make(sandbox, "chaos", "ENV=ci", "EXPERIMENT=kill-canary").returncode == 0
    assert make(sandbox, "flags", "ENV=ci", "ARGS=rollout notes-excerpt on=10 off=90").returncode == 0
    assert make(sandbox, "perf", "ENV=ci").returncode == 0
    assert make(sandbox, "weights", "ENV=ci", "CANARY=10", "ARGS=--dry-run").returncode == 0
    released = make(sandbox, "release-version", "ENV=aws-ecs", "VERSION=0.1.0-abc1234-dirty-0f3a")
    assert released.returncode == 0 and released.stdout == "version=0.1.0-abc1234-dirty-0f3a\n"
    assert calls(sandbox) == [
        ["-m", "pipeline", "chaos", "run", "ci"],
        ["-m", "pipeline", "chaos", "run", "ci", "kill-canary"],
        ["-m", "pipeline", "flags", "rollout", "ci", "notes-excerpt", "on=10", "off=90"],
        ["-m", "pipeline", "gate", "perf", "ci", "--script", "load"],
        ["-m", "pipeline", "weights", "ci", "--canary", "10", "--dry-run"],
    ]
    assert not (sandbox / "BOOTSTRAP_RAN").exists()


def test_the_real_tree_validates_a_good_environment_and_refuses_a_hostile_one(tmp_path: Path) -> None:
    """The project's own make and CLI: `-o .venv/.ready` so a stale stamp never bootstraps."""
    assert MAKE is not None
    marker = tmp_path / "PWNED"
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PIPELINE_ROOT": str(ROOT)}
    run = [MAKE, "--no-print-directory", "-s", "-C", str(ROOT), "-o", ".venv/.ready", "validate"]
    good = subprocess.run([*run, "ENV=ci"], capture_output=True, text=True, env=environ, timeout=60)
    assert good.returncode == 0 and "environments/ci/env.yaml: valid" in good.stdout
    bad = subprocess.run([*run, f"ENV=ci; touch {marker}"], capture_output=True, text=True, env=environ, timeout=60)
    assert bad.returncode == 2 and "error: ENV " in bad.stderr and not marker.exists()


def test_no_recipe_pastes_a_user_variable_into_its_shell_line() -> None:
    """Recipes read ENV, VERSION, EXPERIMENT, SCRIPT and CANARY from their environment ("$$ENV"):
    make never writes their text into a line the shell parses (the guard is a second line of defence)."""
    makefile = (ROOT / "Makefile").read_text()
    recipes = [line for line in makefile.splitlines() if line.startswith("\t")]
    pasted = [line for line in recipes for name in ("ENV", "VERSION", "EXPERIMENT", "SCRIPT", "CANARY") if f"$({name})" in line]
    assert recipes and pasted == []


def test_lint_runs_ansible_lint_with_the_production_profile_over_every_playbook(sandbox: Path) -> None:
    """What `make lint` would run (make -n expands the recipe without running it): ansible-lint's
    strictest profile over the playbooks directory, beside the secret scan."""
    result = make(sandbox, "-n", "lint")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    ansible = [line for line in lines if "-m ansiblelint" in line]
    assert len(ansible) == 1, lines
    assert ansible[0].startswith("cd playbooks && ")
    assert ansible[0].split("-m ansiblelint", 1)[1].split() == ["--profile", "production", "."]
    assert any(line.endswith("-m pipeline secrets scan") for line in lines), lines
    assert not (sandbox / "calls.jsonl").exists()  # -n ran nothing
