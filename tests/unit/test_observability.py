"""observability: the model's section, Prometheus's configuration rendered from an environment and
checked by promtool, the repository's rules merged into the one file the container reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.cli.main import run
from pipeline.environment import Environment, load_environment
from pipeline.errors import ConfigError
from pipeline.observability import alertmanager, prometheus
from pipeline.project import Project
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = ROOT / "scripts" / "promtool"
AMTOOL = ROOT / "scripts" / "amtool"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PROMTOOL), *args], capture_output=True, text=True, timeout=120, check=False)


def test_the_configuration_finds_every_app_slot_by_dns_and_promtool_accepts_it(tmp_path: Path) -> None:
    env = load_environment(ROOT, "ci")
    config = yaml.safe_load(prometheus.render_config(env, env.app.port))
    assert config["global"]["scrape_interval"] == "5s" and config["global"]["external_labels"] == {"environment": "ci"}
    app = next(job for job in config["scrape_configs"] if job["job_name"] == "app")
    names = app["dns_sd_configs"][0]["names"]
    assert "tasks.pl-ci-app-blue" in names and "tasks.pl-ci-app-green" in names and "tasks.pl-ci-app-baseline" in names
    assert app["dns_sd_configs"][0]["port"] == 8000
    # promtool reads the rules the configuration names: point it at the merged file written here
    (tmp_path / "rules.yml").write_text(prometheus.render_rules(ROOT))
    config["rule_files"] = [str(tmp_path / "rules.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr


def test_a_broken_configuration_is_caught_by_the_same_check(tmp_path: Path) -> None:
    env = load_environment(ROOT, "ci")
    config = yaml.safe_load(prometheus.render_config(env, env.app.port))
    config["rule_files"] = []
    config["scrape_configs"][0]["dns_sd_configs"][0]["type"] = "TXT"  # not a record Prometheus resolves
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    assert promtool("check", "config", str(tmp_path / "prometheus.yml")).returncode != 0


def test_the_rules_are_every_rule_file_merged_in_one() -> None:
    merged = yaml.safe_load(prometheus.render_rules(ROOT))
    names = [g["name"] for g in merged["groups"]]
    assert names == ["pipeline-hosts-alerts", "pipeline-tracks", "pipeline-tracks-alerts"]
    alerts = {r["alert"] for g in merged["groups"] for r in g["rules"] if "alert" in r}
    assert {"TrackErrorRateHigh", "TrackLatencyHigh", "TasksRestarting", "DiskFilling", "CertificateExpiring"} <= alerts


def test_the_container_keeps_samples_for_the_retention_asked() -> None:
    env = load_environment(ROOT, "local")
    args = prometheus.command(env)
    assert "--storage.tsdb.retention.time=7d" in args and f"--config.file={prometheus.CONF_DIR}/prometheus.yml" in args


def _env_with(tmp_path: Path, name: str, section: str) -> Path:
    """Environment ``name`` with its observability: section replaced by ``section``."""
    data = yaml.safe_load((ROOT / "environments" / name / "env.yaml").read_text())
    data["observability"] = yaml.safe_load(section)["observability"]
    path = tmp_path / "environments" / "bad" / "env.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("name", "section", "words"),
    [
        ("local", "observability:\n  retention: 7 days\n", "observability.retention: '7 days' is not a duration"),
        ("local", "observability:\n  retention: 0d\n", "observability.retention"),
        ("local", "observability:\n  webhook: ftp://x/alerts\n", "observability.webhook: 'ftp://x/alerts' is not an http(s) URL"),
        ("local", "observability:\n  otlp_endpoint: collector:4318\n", "observability.otlp_endpoint: 'collector:4318' is not"),
        ("swarm-local", "observability:\n  otlp_endpoint: http://\n", "observability.otlp_endpoint: 'http://' is not"),
        ("vm-local", "observability:\n  otlp_endpoint: http://x:port\n", "observability.otlp_endpoint: 'http://x:port'"),
        ("local", "observability:\n  otlp_endpoint: [http://x]\n", "observability.otlp_endpoint"),
        ("local", "observability:\n  scrape_seconds: 0\n", "observability.scrape_seconds"),
        ("local", "observability:\n  port: 70000\n", "observability.port"),
        ("local", "observability:\n  interval: 5\n", "observability.interval"),
        ("local", "observability:\n  alert_repeat: 2 hours\n", "observability.alert_repeat: '2 hours' is not a duration"),
        (
            "local",
            "observability:\n  enabled: true\n  port: 9093\n",
            "observability.alertmanager_port: 9093 is observability.port too",
        ),
        ("vm-local", "observability:\n  enabled: true\n", "observability.enabled: the vm kind runs no Prometheus"),
    ],
)
def test_an_observability_mistake_is_one_line_with_its_key(tmp_path: Path, name: str, section: str, words: str) -> None:
    _env_with(tmp_path, name, section)
    with pytest.raises(ConfigError) as caught:
        load_environment(tmp_path, "bad")
    assert words in caught.value.message and "\n" not in caught.value.message


def test_local_and_ci_run_prometheus_and_the_other_kinds_do_not() -> None:
    assert load_environment(ROOT, "local").observability.enabled
    assert load_environment(ROOT, "ci").observability.port == 19090
    for name in ("vm-local", "swarm-local", "aws-ecs"):
        assert not load_environment(ROOT, name).observability.enabled


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(AMTOOL), *args], capture_output=True, text=True, timeout=120, check=False)


def test_alertmanagers_configuration_routes_to_the_webhook_and_amtool_accepts_it(tmp_path: Path) -> None:
    env = load_environment(ROOT, "ci")
    config = yaml.safe_load(alertmanager.render_config(env))
    assert config["receivers"] == [
        {"name": "webhook", "webhook_configs": [{"url": "http://pl-ci-alert-receiver:9099/alerts", "send_resolved": True}]}
    ]
    assert config["route"]["group_by"] == ["alertname", "environment", "track"]
    assert config["inhibit_rules"][0]["source_matchers"] == ['alertname="TrackFailing"']
    (tmp_path / "alertmanager.yml").write_text(alertmanager.render_config(env))
    checked = amtool("check-config", str(tmp_path / "alertmanager.yml"))
    assert checked.returncode == 0 and "SUCCESS" in checked.stdout, checked.stdout + checked.stderr
    # Prometheus sends its alerts there, and the rules page TrackFailing's alert name
    sent = yaml.safe_load(prometheus.render_config(env, env.app.port))["alerting"]["alertmanagers"]
    assert sent == [{"static_configs": [{"targets": ["pl-ci-alertmanager:9093"]}]}]
    assert "TrackFailing" in prometheus.render_rules(ROOT)


def test_a_broken_alertmanager_configuration_is_caught_by_the_same_check(tmp_path: Path) -> None:
    config = yaml.safe_load(alertmanager.render_config(load_environment(ROOT, "ci")))
    config["route"]["receiver"] = "nobody"  # a route to a receiver that is not defined
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    assert amtool("check-config", str(tmp_path / "alertmanager.yml")).returncode != 0


def test_an_otlp_endpoint_that_is_not_a_url_stops_up_with_one_line_exit_2_and_nothing_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env_with(tmp_path, "local", "observability:\n  otlp_endpoint: otel collector\n")
    (tmp_path / "pipeline").mkdir()
    monkeypatch.setenv("PIPELINE_ROOT", str(tmp_path))
    fake = FakeExecutor()
    with pytest.raises(SystemExit) as stopped:
        run(["up", "bad"], executor=fake)
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert fake.calls == [], "nothing is started, not even a probe"
    first, *rest = err.strip().splitlines()
    assert "observability.otlp_endpoint: 'otel collector' is not an http(s) URL" in first
    assert [line.split(":")[0] for line in rest] == ["hint"] and "OTLP over HTTP" in rest[0]


@pytest.mark.parametrize("endpoint", ["http://otel-collector:4318", "https://traces.example.org", "http://10.0.0.5:4318/otlp"])
def test_an_otlp_endpoint_reaches_the_app_as_the_sdks_own_variables(tmp_path: Path, endpoint: str) -> None:
    _env_with(tmp_path, "local", f"observability:\n  otlp_endpoint: {endpoint}\n")
    env = load_environment(tmp_path, "bad")
    assert env.observability.app_env(env.name) == {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=bad",
    }


def test_without_an_otlp_endpoint_the_app_is_told_nothing_of_traces() -> None:
    for name in ("local", "ci", "vm-local", "swarm-local", "aws-ecs"):
        env = load_environment(ROOT, name)
        assert env.observability.otlp_endpoint == "" and env.observability.app_env(name) == {}


ENDPOINT = "http://otel-collector:4318"
TRACE_ENV = {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}


def _with_endpoint(name: str, **app_env: str) -> Environment:
    env = load_environment(ROOT, name)
    return env.model_copy(
        update={
            "observability": env.observability.model_copy(update={"otlp_endpoint": ENDPOINT}),
            "app": env.app.model_copy(update={"env": {**env.app.env, **app_env}}),
        }
    )


def _app_env_of(env: Environment, tmp_path: Path) -> dict[str, str]:
    """The environment an app task of ``env`` starts with, as its target builds it."""
    if env.target.kind == "vm":
        from pipeline.targets.vm import VmTarget

        pebble = tmp_path / "vm" / env.name / "pebble"  # vm-local's stand-in CA, made by its up
        pebble.mkdir(parents=True, exist_ok=True)
        (pebble / "api-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
        common: dict[str, str] = VmTarget(env, FakeExecutor(), Project(ROOT, tmp_path), lambda _m: None).variables()[
            "app_common_env"
        ]
        return common
    if env.target.kind == "ecs":
        from pipeline.targets.ecs import EcsTarget

        ecs = EcsTarget(env, FakeExecutor(), lambda _m: None)  # type: ignore[arg-type]
        ecs.require_version = lambda version: f"img:{version}"  # type: ignore[method-assign]
        listed = ecs.task_definition("canary", "v2", None)["containerDefinitions"][0]["environment"]
        return {item["name"]: item["value"] for item in listed}
    from pipeline.targets import target_for

    target = target_for(env, FakeExecutor(), Project(ROOT, tmp_path), lambda _m: None)
    target._secret_mounts = lambda keys, uid: []  # type: ignore[attr-defined]
    spec = target.app_spec("canary", "v2", "img:v2")  # type: ignore[attr-defined]
    return dict(spec.env)


@pytest.mark.parametrize("name", ["local", "swarm-local", "vm-local", "aws-ecs"])
def test_every_kind_tells_its_app_tasks_the_otlp_endpoint_and_only_when_one_is_set(tmp_path: Path, name: str) -> None:
    told = _app_env_of(_with_endpoint(name), tmp_path)
    assert told["OTEL_EXPORTER_OTLP_ENDPOINT"] == ENDPOINT
    assert told["OTEL_RESOURCE_ATTRIBUTES"] == f"deployment.environment.name={name}"
    assert not any(key.startswith("OTEL_") for key in _app_env_of(load_environment(ROOT, name), tmp_path))
    # the app's own env (app.env) has the last word, as for every other variable
    overridden = _app_env_of(_with_endpoint(name, OTEL_RESOURCE_ATTRIBUTES="team=web"), tmp_path)
    assert overridden["OTEL_RESOURCE_ATTRIBUTES"] == "team=web"
