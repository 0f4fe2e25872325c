"""The canary's fault knobs in env.yaml and on the command line (``--fault key=value``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.canary.run import parse_faults
from pipeline.environment import load_environment, load_file
from pipeline.environment.model import Faults
from pipeline.errors import ConfigError, UserError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_emit_every_knob_switched_off() -> None:
    assert Faults().as_env() == {
        "FAULT_ERROR_RATE": "0.0",
        "FAULT_LATENCY_MS": "0",
        "FAULT_LATENCY_SHARE": "1.0",
        "FAULT_PATHS": "",
        "FAULT_METHODS": "",
        "FAULT_AFTER_SECONDS": "0.0",
        "FAULT_READINESS_FAIL": "0",
        "FAULT_EXIT_AT_START": "0",
    }


def test_scoped_faults_from_the_command_line() -> None:
    faults = parse_faults(
        ["error_rate=0.2", "paths=/api/notes,/api/uploads", "methods=post,PUT", "latency_share=0.1", "after_seconds=40"]
    )
    assert faults is not None
    assert faults.paths == ["/api/notes", "/api/uploads"]
    assert faults.methods == ["POST", "PUT"]
    env = faults.as_env()
    assert env["FAULT_PATHS"] == "/api/notes,/api/uploads"
    assert env["FAULT_METHODS"] == "POST,PUT"
    assert env["FAULT_LATENCY_SHARE"] == "0.1"
    assert env["FAULT_AFTER_SECONDS"] == "40.0"
    assert env["FAULT_ERROR_RATE"] == "0.2"


def test_lists_from_yaml_are_lists() -> None:
    faults = Faults.model_validate({"paths": ["/api/notes"], "methods": ["post"], "after_seconds": 12.5})
    assert faults.paths == ["/api/notes"] and faults.methods == ["POST"] and faults.after_seconds == 12.5


@pytest.mark.parametrize(
    "item",
    [
        "paths=api/notes",
        "paths=/api/notes?limit=5",
        "methods=WRITE",
        "latency_share=1.5",
        "latency_share=-0.1",
        "after_seconds=-1",
        "after_seconds=later",
    ],
)
def test_bad_scoped_fault_is_one_user_error(item: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_faults([item])
    assert caught.value.message.startswith(f"--fault: {item.partition('=')[0]}")


def test_model_rejects_bad_paths_directly() -> None:
    assert Faults.model_validate({"paths": ["/ok"]}).paths == ["/ok"]
    with pytest.raises(ValidationError, match="not a path prefix"):
        Faults.model_validate({"paths": ["/ok", "no-slash"]})


def test_bad_scoped_faults_in_env_yaml_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "environments" / "bad" / "env.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("tracks:\n  canary:\n    faults:\n      methods: [FETCH]\n")
    with pytest.raises(ConfigError) as caught:
        load_environment(tmp_path, "bad")
    assert "tracks.canary.faults.methods" in str(caught.value)
    assert "'POST'" in str(caught.value)  # the message lists the methods it knows


def test_annotated_example_shows_every_fault_knob() -> None:
    example = load_file(ROOT / "environments" / "env.example.yaml")
    assert example.tracks.canary.faults == Faults()
    text = (ROOT / "environments" / "env.example.yaml").read_text()
    block = text[text.index("  canary:\n    replicas:") :].split("\napp:")[0]
    for key in Faults.model_fields:
        assert f"      {key}:" in block, key
