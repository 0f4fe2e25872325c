from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.environment import load_environment, load_file
from pipeline.errors import ConfigError, UnknownEnvironment

ROOT = Path(__file__).resolve().parents[2]


def test_local_environment_loads() -> None:
    env = load_environment(ROOT, "local")
    assert env.target.kind == "local"
    assert env.stack == "pl-local"
    assert env.edge.bind == "127.0.0.1"
    assert env.canary.steps == [5, 25, 50]
    assert env.canary.compare_with == "baseline"


def test_every_shipped_environment_is_valid() -> None:
    names = [p.parent.name for p in (ROOT / "environments").glob("*/env.yaml")]
    assert "local" in names
    for name in names:
        assert load_environment(ROOT, name).name == name


def test_annotated_example_loads_and_documents_every_default() -> None:
    example = load_file(ROOT / "environments" / "env.example.yaml")
    assert example.name == "example"
    assert example.stack == "pl-example"
    text = (ROOT / "environments" / "env.example.yaml").read_text()
    # every top-level section of the model is shown in the example
    for key in ("target:", "edge:", "image:", "tracks:", "app:", "canary:", "thresholds:", "chaos_allowed:"):
        assert key in text


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "environments" / "bad" / "env.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(body)
    return path


BAD = [
    # (yaml, key path expected in the message, a word of the hint or message)
    ("edge:\n  prot: 8080\n", "edge.prot: unknown key", "did you mean 'port'"),
    ("edge:\n  port: 70000\n", "edge.port:", "less than or equal to 65535"),
    ("edge:\n  port: http\n", "edge.port:", "integer"),
    ("canary:\n  steps: [5, 25, 25, 100]\n", "canary.steps:", "strictly increase"),
    ("canary:\n  steps: []\n", "canary.steps:", "at least one step"),
    ("canary:\n  step_seconds: 0\n", "canary.step_seconds:", "greater than 0"),
    ("canary:\n  thresholds:\n    max_error_rate: 1.5\n", "canary.thresholds.max_error_rate:", "less than or equal to 1"),
    (
        "canary:\n  thresholds:\n    max_latency_ratio: 0.5\n",
        "canary.thresholds.max_latency_ratio:",
        "greater than or equal to 1",
    ),
    ("target:\n  kind: k8s\n", "target.kind:", "'local'"),
    ("tracks:\n  canary:\n    faults:\n      error_rate: 2\n", "tracks.canary.faults.error_rate:", "less than or equal to 1"),
    ("edge:\n  sticky:\n    by: cookie\n", "edge.sticky:", "needs a name"),
    ("app:\n  env:\n    lower-case: x\n", "app.env:", "not an environment variable name"),
    ("bogus: 1\n", "bogus: unknown key", "known keys here"),
    ("- a\n- b\n", "top level must be a mapping", "example"),
    ("edge: [\n", "line", "YAML"),
]


@pytest.mark.parametrize(("body", "where", "words"), BAD)
def test_bad_env_file_names_file_key_and_hint(tmp_path: Path, body: str, where: str, words: str) -> None:
    write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_environment(tmp_path, "bad")
    text = str(caught.value)
    assert text.startswith("environments/bad/env.yaml: ")
    assert where in text
    assert words in text
    assert "\n" not in text
    assert caught.value.exit_code == 2


def test_unknown_environment_lists_known_ones() -> None:
    with pytest.raises(UnknownEnvironment) as caught:
        load_environment(ROOT, "prod-eu")
    assert "unknown environment 'prod-eu'" in caught.value.message
    assert caught.value.hint is not None and "local" in caught.value.hint
    assert caught.value.exit_code == 3


@pytest.mark.parametrize("name", ["../etc", "Local", "", "a b"])
def test_environment_name_is_checked(name: str) -> None:
    with pytest.raises(UnknownEnvironment):
        load_environment(ROOT, name)
