"""`make lint`'s check of .github/: it passes on a good copy and fails on each kind of mistake."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.commands.executor import SubprocessExecutor
from pipeline.gha.lint import Finding, check_workflow, lint, make_calls, makefile_targets, tool_commands

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of this project's .github/ and a Makefile that has every target the workflows call."""
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    makefile = (ROOT / "Makefile").read_text()
    for target in ("perf", "chaos"):  # added by other branches; stubbed so the copy is complete
        if f"\n{target}:" not in makefile:
            makefile += f"\n{target}:\n\t@true\n"
    (tmp_path / "Makefile").write_text(makefile)
    return tmp_path


def run_tool(root: Path, description: str) -> list[Finding]:
    ex = SubprocessExecutor()
    out = []
    for command in tool_commands(root):
        if description in command.description:
            result = ex.run(command)
            if not result.ok:
                out.append(Finding(command.description, (result.stdout + result.stderr).strip()))
    return out


def test_every_make_target_the_workflows_call_exists_in_the_makefile() -> None:
    targets = makefile_targets(ROOT / "Makefile")
    missing = [f for p in sorted((ROOT / ".github" / "workflows").glob("*.yml")) for f in check_workflow(p, p.name, targets)]
    assert missing == []


def test_makefile_targets_and_make_calls_are_parsed() -> None:
    assert {"lint", "test-unit", "provision", "rollback", "ci-verdict"} <= makefile_targets(ROOT / "Makefile")
    script = 'make deploy ENV="$X" VERSION=1\nsudo make -s lint && make\necho make-believe; FOO=1 make test-unit # make nope'
    assert make_calls(script) == ["deploy", "lint", "(default goal)", "test-unit"]


def test_a_workflow_calling_a_missing_make_target_fails(repo: Path) -> None:
    ci = repo / ".github" / "workflows" / "ci.yml"
    ci.write_text(ci.read_text().replace("run: make test-unit", "run: make test-unti"))
    findings = lint(repo, SubprocessExecutor(), run_tools=False)
    assert [str(f) for f in findings] == [
        ".github/workflows/ci.yml: jobs.test-unit.steps[1]: 'make test-unti': no such target in the Makefile"
    ]


def test_our_rules_unpinned_action_no_top_permissions_job_without_make(repo: Path) -> None:
    perf = repo / ".github" / "workflows" / "perf.yml"
    text = perf.read_text().replace("permissions: {}\n", "permissions: write-all\n", 1)
    text = text.replace("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", "actions/checkout@v7")
    perf.write_text(text.replace("make ", "echo "))
    messages = [f.message for f in lint(repo, SubprocessExecutor(), run_tools=False)]
    assert "permissions: must be {} at the top (grant per job)" in messages
    assert "actions/checkout@v7: pin to a full commit SHA" in messages
    assert "calls no make target (nothing may live only in YAML)" in messages


def test_a_broken_workflow_fails_the_schema(repo: Path) -> None:
    assert run_tool(repo, "workflows") == []
    ci = repo / ".github" / "workflows" / "ci.yml"
    ci.write_text(ci.read_text().replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04", 1))
    findings = run_tool(repo, "workflows")
    assert len(findings) == 1 and "ci.yml" in findings[0].message


def test_an_invalid_dependabot_file_fails_the_schema(repo: Path) -> None:
    assert run_tool(repo, "dependabot") == []
    dependabot = repo / ".github" / "dependabot.yml"
    dependabot.write_text(dependabot.read_text().replace("interval: weekly", "interval: fortnightly", 1))
    findings = run_tool(repo, "dependabot")
    assert len(findings) == 1 and "fortnightly" in findings[0].message


def test_cli_exits_80_on_a_zizmor_finding(repo: Path) -> None:
    """(`make lint` itself is the passing case, on this repository.)"""
    ci = repo / ".github" / "workflows" / "ci.yml"
    ci.write_text(
        ci.read_text().replace("run: make ci-verdict", 'run: make ci-verdict TITLE="${{ github.event.pull_request.title }}"')
    )
    bad = subprocess.run(
        [sys.executable, "-m", "pipeline", "gha", "lint", "--root", str(repo)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(repo)},
        timeout=120,
    )
    assert bad.returncode == 80
    assert "zizmor" in bad.stderr and "template-injection" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_chaos_dispatch_validates_the_environment_before_anything_else() -> None:
    import yaml

    chaos = yaml.safe_load((ROOT / ".github" / "workflows" / "chaos.yml").read_text())
    inputs = chaos[True]["workflow_dispatch"]["inputs"]  # YAML 1.1 reads the key `on` as True
    assert inputs["environment"]["required"] is True
    runs = [s["run"] for s in chaos["jobs"]["chaos"]["steps"] if "run" in s]
    assert runs[0] == 'make validate ENV="$PIPELINE_ENV"'
    unknown = subprocess.run(
        [sys.executable, "-m", "pipeline", "env", "validate", "no-such-env"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "PIPELINE_ROOT": str(ROOT)},
        timeout=60,
    )
    assert unknown.returncode == 3 and "unknown environment 'no-such-env'" in unknown.stderr


def test_every_uploaded_artifact_is_written_by_a_make_target_of_its_job(repo: Path) -> None:
    assert lint(repo, SubprocessExecutor(), run_tools=False) == []
    perf = repo / ".github" / "workflows" / "perf.yml"
    perf.write_text(perf.read_text().replace(".pipeline/gates/ci/\n", ".pipeline/perf/\n"))
    assert [str(f) for f in lint(repo, SubprocessExecutor(), run_tools=False)] == [
        ".github/workflows/perf.yml: jobs.perf.steps[4].with.path: '.pipeline/perf/': no make target this job calls "
        "writes it (.pipeline/gates/, .pipeline/journal.sqlite*)"
    ]


def test_an_upload_mismatch_exits_80_with_the_file_and_key_path(repo: Path) -> None:
    chaos = repo / ".github" / "workflows" / "chaos.yml"
    chaos.write_text(chaos.read_text().replace(".pipeline/chaos/\n", ".pipeline/chaos-results/\n"))
    bad = subprocess.run(
        [sys.executable, "-m", "pipeline", "gha", "lint", "--root", str(repo)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "300", "HOME": str(repo)},
        timeout=120,
    )
    assert bad.returncode == 80
    assert ".github/workflows/chaos.yml: jobs.chaos.steps[5].with.path: '.pipeline/chaos-results/'" in bad.stderr


def _dry_run(root: Path, *args: str) -> list[str]:
    """The argv words `pipeline ARGS --dry-run` prints for a project at ``root`` (nothing written)."""
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", *args, "--dry-run"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PIPELINE_ROOT": str(root), "COLUMNS": "400"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert not (root / ".pipeline").exists()
    return result.stdout.split()


def _after(words: list[str], flag: str) -> str:
    assert flag in words, words
    return words[words.index(flag) + 1]


def test_the_artifact_table_holds_where_the_gate_the_runner_and_the_journal_really_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload check trusts WRITES: each entry must be where the real code writes its files,
    read from the commands `--dry-run` prints, not restated by hand."""
    from fnmatch import fnmatch

    from pipeline.gha.lint import JOURNAL, WRITES
    from pipeline.records.journal import default_path

    (tmp_path / "environments" / "stage").mkdir(parents=True)
    (tmp_path / "environments" / "stage" / "env.yaml").write_text(
        "target:\n  stack: pl-unit-writes\nedge:\n  port: 18997\nchaos_allowed: true\n"
    )
    (tmp_path / "pipeline").mkdir()
    shutil.copytree(ROOT / "perf", tmp_path / "perf")
    shutil.copytree(ROOT / "chaos" / "chaosstack", tmp_path / "chaos" / "chaosstack")
    (tmp_path / "chaos" / "experiments").mkdir()
    shutil.copy(ROOT / "chaos" / "experiments" / "kill-app-task.yaml", tmp_path / "chaos" / "experiments")

    def written(path: str) -> str:
        return Path(path).relative_to(tmp_path).as_posix()

    summary = written(_after(_dry_run(tmp_path, "gate", "perf", "stage", "--script", "load"), "--summary-export"))
    assert summary.startswith(WRITES["perf"][0]), (summary, WRITES["perf"])
    chaos = _dry_run(tmp_path, "chaos", "run", "stage", "kill-app-task")
    for flag in ("--journal-path", "--summary-export"):
        assert written(_after(chaos, flag)).startswith(WRITES["chaos"][0]), (flag, WRITES["chaos"])
    monkeypatch.delenv("PIPELINE_JOURNAL", raising=False)
    assert fnmatch(written(str(default_path(tmp_path / ".pipeline"))), JOURNAL)
    assert all(JOURNAL in WRITES[target] for target in ("up", "deploy", "rollback", "perf", "chaos"))
