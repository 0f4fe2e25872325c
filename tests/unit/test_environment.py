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
    ("target:\n  kind: k8s\n", "target.kind: 'k8s' is not a target kind", "available kinds: local"),
    ("tracks:\n  canary:\n    faults:\n      error_rate: 2\n", "tracks.canary.faults.error_rate:", "less than or equal to 1"),
    ("edge:\n  sticky:\n    by: cookie\n", "edge.sticky:", "needs a name"),
    ("app:\n  env:\n    lower-case: x\n", "app.env:", "not an environment variable name"),
    ("app:\n  secrets: [A, A]\n", "app.secrets: 'A' is listed twice", "secrets set"),  # pragma: allowlist secret
    ("app:\n  secrets: [a_key]\n", "app.secrets: 'a_key' is not a secret name", "set"),  # pragma: allowlist secret
    ("app:\n  secrets: [REDIS_URL]\n", "app.secrets: 'REDIS_URL' is a name the", "set"),  # pragma: allowlist secret
    ("app:\n  secrets: [APP_X]\n", "app.secrets: 'APP_X' is a name the pipeline", "set"),  # pragma: allowlist secret
    ("app:\n  secrets: [K]\n  env:\n    K_FILE: /x\n", "app.env sets K_FILE", "set"),  # pragma: allowlist secret
    (
        "target:\n  kind: ecs\necs:\n  region: eu-west-1\n  account_id: '123456789012'\ncanary:\n  compare_with: stable\n"
        "app:\n  secrets: [K]\n",
        "app.secrets: the ecs kind has no store of the app's own secrets",
        "kind local or swarm has it",
    ),
    (
        "canary:\n  metrics: both\n",
        "canary.metrics: both reads the stack's Prometheus, but observability.enabled is false",
        "set observability.enabled: true (kind local), or canary.metrics: edge",
    ),
    ("canary:\n  metrics: prometheus\n", "canary.metrics: prometheus reads", "observability.enabled: true"),
    ("canary:\n  metrics: loki\n", "canary.metrics:", "'edge', 'prometheus' or 'both'"),
    ("canary:\n  metrics_tolerance: 0\n", "canary.metrics_tolerance:", "greater than 0"),
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


# Issue 17, finding 8: input that used to be accepted, or to end as "internal error" (exit 70).
STRICT = [
    ("tracks:\n  stable:\n    replicas: true\n", "tracks.stable.replicas:", "valid integer"),
    ("tracks:\n  canary:\n    replicas: 1.5\n", "tracks.canary.replicas:", "valid integer"),
    ("edge:\n  port: '8080'\n", "edge.port:", "valid integer"),
    ("app:\n  upload_max_bytes: 1e18\n", "app.upload_max_bytes:", "valid integer"),
    ("app:\n  upload_max_bytes: 1000000000000000000\n", "app.upload_max_bytes:", "less than or equal to 1073741824"),
    ("chaos:\n  load_rps: true\n", "chaos.load_rps:", "valid integer"),
    ("vm:\n  instances: 2.0\n", "vm.instances:", "valid integer"),
    ("canary:\n  thresholds:\n    max_error_rate: true\n", "canary.thresholds.max_error_rate:", "valid number"),
    ("edge:\n  port: 80\n  port: 8080\n", "edge.port: duplicate key", "each key may appear once"),
    ("app: {}\nedge: {}\napp: {}\n", "app: duplicate key", "line 3"),
    (
        "perf:\n  paths: ['/a']\n  thresholds:\n    checks: ['rate>=0.99']\n    checks: []\n",
        "perf.thresholds.checks: duplicate",
        "once",
    ),
    ("app:\n  env: " + "[" * 500 + "]" * 500 + "\n", "nested deeper than", "env.example.yaml"),
    ("a:\n" + "".join("  " * i + "b:\n" for i in range(1, 500)), "nested deeper than", "line"),
]


@pytest.mark.parametrize(("body", "where", "words"), STRICT)
def test_strict_values_duplicates_and_depth_are_user_errors(tmp_path: Path, body: str, where: str, words: str) -> None:
    test_bad_env_file_names_file_key_and_hint(tmp_path, body, where, words)


def test_a_file_that_is_not_utf8_is_a_user_error(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    path.write_bytes("app:\n  env:\n    GREETING: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_environment(tmp_path, "bad")
    assert (
        str(caught.value) == "environments/bad/env.yaml: not UTF-8 text (byte 0xe9 at offset 29) (hint: save the file as UTF-8)"
    )


def test_integers_written_as_integers_still_load_into_float_fields(tmp_path: Path) -> None:
    write(tmp_path, "canary:\n  step_seconds: 10\n  thresholds:\n    max_p95_ms: 300\napp:\n  upload_max_bytes: 1073741824\n")
    env = load_environment(tmp_path, "bad")
    assert env.canary.step_seconds == 10.0 and env.canary.thresholds.max_p95_ms == 300.0
    assert env.app.upload_max_bytes == 1 << 30


def test_anchors_and_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    write(tmp_path, "tracks:\n  stable: &t {replicas: 2}\n  canary:\n    <<: *t\n    replicas: 1\n")
    assert load_environment(tmp_path, "bad").tracks.canary.replicas == 1
