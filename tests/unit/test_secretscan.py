"""The secret-scan gate of `make lint`: a new secret fails with its file and line; the committed
baseline allows only candidates a person audited as not secret."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.secretscan import BASELINE, history_findings, load_history_allowlist, scan_history, scan_tree

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


def _allow(repo: Path, entries: list[dict[str, str]]) -> None:
    (repo / ".secrets.history").write_text(json.dumps({"allowed": entries}))


def _committed_then_removed(repo: Path) -> str:
    """A planted secret in one commit, gone in the next; returns the commit that added it."""
    (repo / "app" / "settings.py").write_text("DEBUG = False\n" + PLANTED + "\n")
    git(repo, "commit", "-qam", "oops")
    added = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    (repo / "app" / "settings.py").write_text("DEBUG = False\n")
    git(repo, "commit", "-qam", "remove it")
    return added


def test_a_secret_in_the_history_fails_with_commit_file_and_line(repo: Path) -> None:
    added = _committed_then_removed(repo)
    leaks = scan_history(repo)
    assert leaks and {(x.path, x.line) for x in leaks} == {(f"{added[:12]}:app/settings.py", 2)}
    assert all(x.commit == added and len(x.hashed_secret) == 40 for x in leaks)


def test_the_same_secret_allow_listed_passes_and_a_new_one_still_fails(repo: Path) -> None:
    added = _committed_then_removed(repo)
    found = history_findings(repo)
    _allow(
        repo,
        [
            {"commit": f.commit[:7], "file": f.file, "type": f.kind, "hashed_secret": f.hashed_secret, "reason": "fixture"}
            for f in found
        ],
    )
    assert scan_history(repo) == []
    assert PLANTED.split("'")[1] not in (repo / ".secrets.history").read_text()
    # the same secret committed again elsewhere is a new finding: the entry names its commit and file
    (repo / "app" / "other.py").write_text(PLANTED + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "again")
    git(repo, "rm", "-q", "app/other.py")
    git(repo, "commit", "-qm", "gone again")
    again = scan_history(repo)
    assert again and {x.path.split(":", 1)[1] for x in again} == {"app/other.py"}
    assert all(x.commit != added for x in again)


def test_an_allow_list_entry_that_matches_nothing_is_stale(repo: Path) -> None:
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    _allow(
        repo, [{"commit": head, "file": "app/settings.py", "type": "Secret Keyword", "hashed_secret": "0" * 40, "reason": "x"}]
    )
    leaks = scan_history(repo)
    assert [(x.path, x.why) for x in leaks] == [
        (f".secrets.history: {head[:12]}:app/settings.py", "stale: matches no finding; remove it")
    ]
    # an entry of a commit that is not in this history (another branch's) waits, it is not stale
    _allow(repo, [{"commit": "b" * 40, "file": "x.py", "type": "Secret Keyword", "hashed_secret": "0" * 40, "reason": "x"}])
    assert scan_history(repo) == []


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"commit": "abc1234", "file": "a", "type": "t", "hashed_secret": "0" * 40}, "needs exactly"),
        ({"commit": "abc1234", "file": "a", "type": "t", "hashed_secret": "0" * 40, "reason": " "}, "reason"),
        ({"commit": "abc1234", "file": "a", "type": "t", "hashed_secret": "hunter2", "reason": "r"}, "hashed_secret"),
        ({"commit": "abc1234", "file": "a", "type": "t", "hashed_secret": "0" * 40, "reason": "r", "secret": "s"}, "never"),
    ],
)
def test_an_allow_list_entry_is_checked_before_the_scan(repo: Path, entry: dict[str, str], words: str) -> None:
    from pipeline.errors import ConfigError

    _allow(repo, [entry])
    with pytest.raises(ConfigError) as info:
        load_history_allowlist(repo)
    assert words in info.value.message + (info.value.hint or "")


def test_the_project_history_allow_list_is_audited_entry_by_entry() -> None:
    data = json.loads((ROOT / ".secrets.history").read_text())
    entries = load_history_allowlist(ROOT)
    assert len(entries) == len(data["allowed"]) and all(len(e.reason) > 10 for e in entries)


def test_ci_scans_the_whole_history_once_and_requires_it() -> None:
    import yaml

    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]
    scan = jobs["scan-history"]
    checkout = next(s for s in scan["steps"] if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0 and checkout["with"]["persist-credentials"] is False
    assert [s["run"] for s in scan["steps"] if "run" in s] == ["make scan-history"]
    assert scan["permissions"] == {"contents": "read"}
    assert set(jobs["required"]["needs"]) == set(jobs) - {"required"}
