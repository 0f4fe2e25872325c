"""Issue 17, finding 8: what the CLI prints is strict JSON and safe for a terminal."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import output
from pipeline.records.journal import Journal


def strict_loads(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_json_output_has_no_infinity_or_nan(capsys: pytest.CaptureFixture[str]) -> None:
    output.emit_json({"ratio": math.inf, "low": -math.inf, "p95": math.nan, "rows": [1.5, (math.inf,)], "n": 2})
    data = strict_loads(capsys.readouterr().out)
    assert data == {"low": None, "n": 2, "p95": None, "ratio": None, "rows": [1.5, [None]]}


def test_journal_stores_non_finite_numbers_as_null(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite") as journal:
        journal.event("ci", "snapshot", {"tracks": {"canary": {"p95_ms": math.inf, "error_rate": 0.5}}})
        (row,) = journal.env_events("ci")
    assert row.data == {"tracks": {"canary": {"error_rate": 0.5, "p95_ms": None}}}


@pytest.mark.parametrize(
    ("echoed", "shown"),
    [
        ("\x1b[31mRED", "\\x1b[31mRED"),
        ("v1\nerror: forged", "v1\\nerror: forged"),
        ("a\rb\x07\x08", "a\\rb\\x07\\x08"),
        ("abc\u202edef", "abc\\u202edef"),
        ("plain café", "plain café"),
    ],
)
def test_errors_escape_control_characters_of_echoed_input(capsys: pytest.CaptureFixture[str], echoed: str, shown: str) -> None:
    output.error(f"'{echoed}' is not a valid version", hint=f"got {echoed}")
    err = capsys.readouterr().err
    assert err == f"error: '{shown}' is not a valid version\nhint: got {shown}\n"


def test_journal_never_stores_a_registered_secret(tmp_path: Path) -> None:
    from pipeline import redact

    redact.register("jr-secret-9")
    with Journal(tmp_path / "journal.sqlite") as journal:
        deploy = journal.start_deploy("ci", "v1", None, "me", "retry after jr-secret-9 failed", {"db": "pg://u:pw@db"})
        journal.event("ci", "gate", {"summary": "k6 with token jr-secret-9"}, deploy_id=deploy)
        journal.finish_deploy(deploy, "failed", "login jr-secret-9 refused")
    raw = (tmp_path / "journal.sqlite").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("journal.sqlite-*"))
    assert b"jr-secret-9" not in raw and b":pw@" not in raw
