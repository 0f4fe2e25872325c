"""The secret-scan gate of `make lint`: a new secret fails with its file and line; the committed
baseline allows only candidates a person audited as not secret."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.secretscan import BASELINE, scan_history, scan_tree

ROOT = Path(__file__).resolve().parents[2]
# Built at run time so that this file itself holds no candidate.
PLANTED = "AWS_SECRET_ACCESS_KEY = " + repr("wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzEXAMPLEKEY")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with this project's baseline settings and no candidates yet."""
    baseline = json.loads((ROOT / BASELINE).read_text())
    baseline["results"] = {}
    (tmp_path / BASELINE).write_text(json.dumps(baseline))
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "settings.py").write_text("DEBUG = False\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.invalid")
    git(tmp_path, "config", "user.name", "t")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "one")
    return tmp_path


def test_a_clean_tree_passes(repo: Path) -> None:
    assert scan_tree(repo) == []


def test_a_planted_secret_fails_with_its_file_and_line(repo: Path) -> None:
    (repo / "app" / "settings.py").write_text("DEBUG = False\n" + PLANTED + "\n")
    git(repo, "add", "-A")
    leaks = scan_tree(repo)
    assert leaks and {(x.path, x.line) for x in leaks} == {("app/settings.py", 2)}
    assert str(leaks[0]).startswith("app/settings.py:2: ")


def test_the_cli_exits_85_with_one_error_line(repo: Path) -> None:
    (repo / "app" / "settings.py").write_text(PLANTED + "\n")
    git(repo, "add", "-A")
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "secrets", "scan", "--root", str(repo)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "300", "HOME": str(repo)},
        timeout=120,
    )
    assert result.returncode == 85, result.stderr
    assert "error: possible secret: app/settings.py:1: " in result.stderr and "hint: " in result.stderr
    assert "Traceback" not in result.stderr


def test_an_audited_fixture_passes_and_an_unaudited_entry_fails(repo: Path) -> None:
    (repo / "app" / "settings.py").write_text(PLANTED + "\n")
    git(repo, "add", "-A")
    found = subprocess.run(
        [str(Path(sys.executable).parent / "detect-secrets"), "scan", "--baseline", BASELINE],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.returncode == 0
    baseline = json.loads((repo / BASELINE).read_text())
    assert list(baseline["results"]) == ["app/settings.py"]
    unaudited = scan_tree(repo)
    assert unaudited and {(x.path, x.line, x.why) for x in unaudited} == {
        ("app/settings.py", 1, "in .secrets.baseline but never audited")
    }
    for item in baseline["results"]["app/settings.py"]:
        item["is_secret"] = False
    (repo / BASELINE).write_text(json.dumps(baseline))
    assert scan_tree(repo) == []


def test_a_secret_committed_then_removed_is_still_found_in_the_history(repo: Path) -> None:
    (repo / "app" / "settings.py").write_text(PLANTED + "\n")
    git(repo, "commit", "-qam", "oops")
    (repo / "app" / "settings.py").write_text("DEBUG = False\n")
    git(repo, "commit", "-qam", "remove it")
    assert scan_tree(repo) == []
    leaks = scan_history(repo)
    assert leaks and all(x.path.endswith(":app/settings.py") and x.line == 1 for x in leaks)


def test_the_committed_baseline_is_audited_entry_by_entry() -> None:
    """Every candidate of the project's own baseline was looked at and found not secret."""
    baseline = json.loads((ROOT / BASELINE).read_text())
    entries = [(name, item) for name, items in baseline["results"].items() for item in items]
    assert entries, "the baseline lists the known fixtures"
    assert [name for name, item in entries if item.get("is_secret") is not False] == []


def test_the_lint_target_runs_the_scan() -> None:
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "$(PIPELINE) secrets scan" in lint
    assert "\nscan-history:" in makefile and "secrets scan --history" in makefile
    assert shutil.which("git")
