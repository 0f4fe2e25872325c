"""`pipeline flags` on the `ci` environment with a temporary state dir: exit codes, dry run, journal."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.cli.main import run as pipeline_main

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> object:
    """The CLI in this process (its entry point, exit codes included), on a temporary state dir."""
    monkeypatch.setenv("PIPELINE_ROOT", str(ROOT))
    monkeypatch.setenv("PIPELINE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("PIPELINE_JOURNAL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")

    def call(*args: str) -> Ran:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["pipeline", *args])
        code = 0
        try:
            pipeline_main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return call


def _live(tmp_path: Path) -> Path:
    return tmp_path / "state" / "flags" / "pl-ci" / "flags.json"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("flags", "set", "ci", "nope", "on"), 52, "flags/nope: no such flag"),
        (("flags", "set", "ci", "notes-excerpt", "maybe"), 52, "no such variant"),
        (("flags", "set", "ci", "notes-page-size", "small", "--value", "ten"), 53, "the flag is number"),
        (("flags", "rollout", "ci", "new-notes-ui", "on=10", "off=80"), 54, "add up to 90, not 100"),
        (("flags", "kill", "ci", "greeting"), 53, "has no 'off' value"),
    ],
)
def test_bad_input_is_one_line_and_its_code(run: object, tmp_path: Path, args: tuple[str, ...], code: int, words: str) -> None:
    result = run(*args)  # type: ignore[operator]
    assert result.returncode == code, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("error:") == 1
    assert not _live(tmp_path).exists()


def test_apply_refuses_invalid_json_and_definitions(run: object, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    result = run("flags", "apply", "ci", str(bad))  # type: ignore[operator]
    assert result.returncode == 51 and "not valid JSON" in result.stderr
    bad.write_text(json.dumps({"flags": {"a": {"state": "ENABLED", "variants": {"x": 1, "y": "2"}, "defaultVariant": "x"}}}))
    assert run("flags", "apply", "ci", str(bad)).returncode == 53  # type: ignore[operator]


def test_dry_run_prints_the_diff_and_the_write(run: object, tmp_path: Path) -> None:
    result = run("flags", "set", "ci", "notes-excerpt", "on", "--dry-run")  # type: ignore[operator]
    assert result.returncode == 0, result.stderr
    assert "~ notes-excerpt" in result.stdout and 'defaultVariant: "off" -> "on"' in result.stdout
    assert "sh -c" in result.stdout and "dry run: nothing written" in result.stdout
    assert not _live(tmp_path).exists()


def test_set_writes_the_live_file_and_history_shows_it(run: object, tmp_path: Path) -> None:
    result = run("flags", "kill", "ci", "uploads-enabled", "--json")  # type: ignore[operator]
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["delivered"] and report["changes"][0]["flag"] == "uploads-enabled"
    live = json.loads(_live(tmp_path).read_text())
    assert live["flags"]["uploads-enabled"]["defaultVariant"] == "off"
    assert live["metadata"]["revision"] == report["revision"]
    listed = json.loads(run("flags", "list", "ci", "--json").stdout)  # type: ignore[operator]
    assert {r["flag"]: r["default"] for r in listed["flags"]}["uploads-enabled"] == "off"
    history = json.loads(run("history", "ci", "--json").stdout)  # type: ignore[operator]
    [event] = [e for e in history["events"] if e["kind"] == "flag"]
    assert event["data"]["action"] == "kill" and event["data"]["flag"] == "uploads-enabled"
