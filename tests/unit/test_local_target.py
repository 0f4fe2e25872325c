from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import registry
from pipeline.commands import Command, Result
from pipeline.edge import Weights, render_split
from pipeline.environment import load_environment
from pipeline.environment.model import Faults
from pipeline.errors import PortTaken, UnknownVersion, UserError
from pipeline.project import Project
from pipeline.targets.local import LocalTarget
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env_and_port() -> Iterator[tuple[object, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = load_environment(ROOT, "local").model_copy(
        update={"edge": load_environment(ROOT, "local").edge.model_copy(update={"port": port})}
    )
    yield env, port


def target(env: object, fake: FakeExecutor, tmp_path: Path) -> LocalTarget:
    return LocalTarget(env, fake, Project(ROOT, tmp_path), lambda _m: None)  # type: ignore[arg-type]


def test_port_taken_by_a_stranger_is_refused_before_anything_changes(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, port = env_and_port
    fake = FakeExecutor().on("docker", "container", "inspect", result=Result(1, "", "No such container"))
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(PortTaken) as caught:
            target(env, fake, tmp_path).up()
    assert f"127.0.0.1:{port}" in caught.value.message
    assert caught.value.exit_code == 5
    assert fake.mutating() == []


def test_unknown_version_changes_nothing(env_and_port, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    env, _ = env_and_port
    monkeypatch.setattr(registry, "answers", lambda _a: True)
    monkeypatch.setattr(registry, "has_tag", lambda _a, _r, _t: False)
    monkeypatch.setattr(registry, "tags", lambda _a, _r: ["aaa", "bbb"])
    fake = FakeExecutor()
    with pytest.raises(UnknownVersion) as caught:
        target(env, fake, tmp_path).deploy_track("stable", "nope")
    assert "'nope' is not in the registry" in caught.value.message
    assert caught.value.hint is not None and "bbb" in caught.value.hint
    assert fake.calls == []


def test_malformed_version_is_a_user_error(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = env_and_port
    with pytest.raises(UserError):
        target(env, FakeExecutor(), tmp_path).require_version("no spaces allowed")


def services_ls(rows: list[tuple[str, str]]) -> Result:
    return Result(0, "".join(json.dumps({"Name": n, "Replicas": r}) + "\n" for n, r in rows))


def inspect_for(versions: dict[str, str]) -> object:
    def answer(command: Command) -> Result:
        name = command.argv[-1]
        track = name.rsplit("-", 1)[-1]
        labels = {"pipeline.track": track, "pipeline.version": versions.get(track, "")}
        return Result(0, json.dumps([{"Spec": {"Labels": labels}, "UpdateStatus": {"State": "completed"}}]))

    return answer


def test_status_is_read_back_from_the_engine(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = env_and_port
    fake = (
        FakeExecutor()
        .on(
            "docker",
            "service",
            "ls",
            result=services_ls(
                [
                    ("pl-local-app-stable", "2/2"),
                    ("pl-local-app-canary", "0/1"),
                    ("pl-local-db", "1/1"),
                    ("pl-local-cache", "1/1"),
                ]
            ),
        )
        .on("docker", "service", "inspect", result=inspect_for({"stable": "v1", "canary": "v2"}))  # type: ignore[arg-type]
        .on("docker", "container", "inspect", result=Result(0, json.dumps([{"State": {"Running": True}}])))
        .on("docker", "exec", result=Result(0, render_split(env, Weights(25))))
        .on("docker", "config", "inspect", result=Result(1, "", "no such config"))
    )
    status = target(env, fake, tmp_path).status()
    assert status.tracks["stable"].version == "v1"
    assert status.tracks["stable"].health == "healthy"
    assert status.tracks["canary"].health == "down"
    assert status.weights == Weights(25)
    assert status.services["db"].running == 1
    data = status.as_dict()
    assert data["weights"] == {"stable": 75, "canary": 25, "baseline": 0}
    assert data["tracks"]["canary"]["health"] == "down"
    # a canary with weight but nobody holding the lock is an orphan
    assert status.canary_state == "orphaned"
    assert data["lock"] is None
    assert fake.mutating() == []


def test_set_weights_goes_through_edge_apply(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = env_and_port
    fake = FakeExecutor().on("docker", "container", "inspect", result=Result(0, json.dumps([{"State": {"Running": True}}])))
    target(env, fake, tmp_path).set_weights(Weights(10))
    apply = fake.mutating()[-1]
    assert apply.argv == ("docker", "exec", "-i", "pl-local-edge", "edge-apply", "split.conf")
    assert apply.stdin is not None and "10% canary;" in apply.stdin


def test_existing_up_to_date_service_is_left_alone(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = env_and_port
    t = target(env, FakeExecutor(), tmp_path)
    spec = t._cache_spec("img:1")
    current = {
        "Spec": {
            "TaskTemplate": {"ContainerSpec": {"Image": "img:1@sha256:abc", "Env": []}},
            "Mode": {"Replicated": {"Replicas": 1}},
        }
    }
    fake = FakeExecutor().on("docker", "service", "inspect", result=Result(0, json.dumps([current])))
    target(env, fake, tmp_path)._ensure_service(spec)
    assert fake.mutating() == []
    changed = spec.__class__(**{**spec.__dict__, "image": "img:2"})
    target(env, fake, tmp_path)._ensure_service(changed)
    assert fake.mutating()[-1].argv[:3] == ("docker", "service", "update")


def test_app_env_carries_track_faults_and_no_plain_secret_in_display(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = env_and_port
    secrets = {"db_password": "pw1", "django_secret_key": "sk", "docs_password": "dp"}
    import base64

    data = json.dumps(base64.b64encode(json.dumps(secrets).encode()).decode())
    fake = FakeExecutor().on("docker", "config", "inspect", result=Result(0, data))
    t = target(env, fake, tmp_path)
    spec = t.app_spec("canary", "v9", "img:v9")
    assert spec.env["APP_TRACK"] == "canary"
    assert spec.env["FAULT_ERROR_RATE"] == "0.0"
    assert spec.env["DATABASE_URL"] == "postgres://refapp@pl-local-db:5432/refapp"
    assert spec.env["DATABASE_PASSWORD_FILE"] == "/run/secrets/db-password"
    assert spec.labels["pipeline.version"] == "v9"
    shown = spec.create().shell()
    assert "pw1" not in shown and "sk" not in shown.replace("task", "")
    assert spec.env["FORWARDED_ALLOW_IPS"] == "*"  # the edge sets X-Forwarded-For to the client's address


def test_the_baseline_runs_as_stable_does(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Stable's faults, stable's APP_TRACK (older releases know no other), its own service and size."""
    env, _ = env_and_port
    env = env.model_copy(
        update={
            "tracks": env.tracks.model_copy(
                update={"stable": env.tracks.stable.model_copy(update={"faults": Faults(latency_ms=5)})}
            )
        }
    )
    fake = FakeExecutor().on("docker", "config", "inspect", result=Result(0, _config_data(SECRET_VALUES)))
    spec = target(env, fake, tmp_path).app_spec("baseline", "v1", "img:v1", replicas=3)
    assert spec.name == "pl-local-app-baseline" and spec.replicas == 3
    assert spec.env["APP_TRACK"] == "stable" and spec.env["FAULT_LATENCY_MS"] == "5"
    assert spec.labels["pipeline.track"] == "baseline"


# --- secrets are swarm secrets mounted as files, never --env (issue 17, finding 4) -----------------
SECRET_VALUES = {"db_password": "pw-AAAA1111", "django_secret_key": "sk-BBBB2222", "docs_password": "dp-CCCC3333"}


def _config_data(values: dict[str, str]) -> str:
    import base64

    return json.dumps(base64.b64encode(json.dumps(values).encode()).decode())


def _secrets_fake(existing: list[str] = ()) -> FakeExecutor:  # type: ignore[assignment]
    job_done = json.dumps({"ID": "t1", "CurrentState": "Complete 1 second ago", "DesiredState": "Complete"})
    return (
        FakeExecutor()
        .on("docker", "config", "inspect", result=Result(0, _config_data(SECRET_VALUES)))
        .on("docker", "secret", "ls", result=Result(0, "\n".join(existing)))
        .on("docker", "run", "--rm", "--network", "none", "--entrypoint", "id", result=Result(0, "105\n"))
        .on("docker", "service", "ps", result=Result(0, job_done))
    )


def _no_value_outside_secret_stdin(fake: FakeExecutor) -> None:
    for command in fake.calls:
        joined = " ".join(command.argv)
        for value in SECRET_VALUES.values():
            assert value not in joined, command.argv
            if command.stdin and value in command.stdin:
                assert command.secret_stdin and command.argv[:3] == ("docker", "secret", "create"), command.argv


def test_no_secret_value_reaches_a_service_or_job_argv(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = env_and_port
    fake = _secrets_fake()
    t = target(env, fake, tmp_path)
    db = t._db_spec("pg:1", SECRET_VALUES)
    app = t.app_spec("stable", "v1", "img:v1")
    fake.run(db.create())
    fake.run(app.create())
    fake.run(app.update(current_env=dict(app.env)))
    t.migrate("v1", "img:v1")
    _no_value_outside_secret_stdin(fake)

    assert db.env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db-password" and "POSTGRES_PASSWORD" not in db.env
    assert [m.target for m in db.secrets] == ["db-password"] and db.secrets[0].uid == 105
    assert {m.target for m in app.secrets} == {"db-password", "django-secret-key", "docs-password"}
    assert all(m.uid == 10001 and m.mode == 0o400 for m in app.secrets)
    for variable in ("DJANGO_SECRET_KEY", "APP_DOCS_PASSWORD", "DATABASE_PASSWORD", "POSTGRES_PASSWORD"):
        assert variable not in app.env
    job = next(c for c in fake.calls if "replicated-job" in c.argv)
    assert any(a.startswith("source=pl-local-django-secret-key-") for a in job.argv)
    assert fake.calls[-1].argv[:3] == ("docker", "service", "rm")  # the job's service does not linger
    created = [c for c in fake.calls if c.argv[:3] == ("docker", "secret", "create")]
    assert {c.stdin for c in created} == set(SECRET_VALUES.values())  # (this fake forgets what was created)


def test_secrets_are_created_once(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = env_and_port
    names = target(env, _secrets_fake(), tmp_path)._secret_names()
    fake = _secrets_fake(existing=sorted(names.values()))
    assert target(env, fake, tmp_path)._secret_names() == names
    assert [c for c in fake.mutating() if c.argv[:2] == ("docker", "secret")] == []


def test_a_rotated_value_gets_a_new_secret_and_the_old_one_goes(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = env_and_port
    names = target(env, _secrets_fake(), tmp_path)._secret_names()
    old = "pl-local-docs-password-000000000000"
    fake = _secrets_fake(existing=[*names.values(), old])
    target(env, fake, tmp_path)._secret_names()
    assert [c.argv for c in fake.mutating()] == [("docker", "secret", "rm", old)]


def test_an_environment_with_env_secrets_is_migrated(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = env_and_port
    fake = _secrets_fake()
    t = target(env, fake, tmp_path)
    old_env = ["POSTGRES_USER=refapp", f"POSTGRES_PASSWORD={SECRET_VALUES['db_password']}", "POSTGRES_DB=refapp"]
    current = {
        "Spec": {
            "TaskTemplate": {"ContainerSpec": {"Image": "pg:1@sha256:abc", "Env": old_env}},
            "Mode": {"Replicated": {"Replicas": 1}},
        }
    }
    fake.on("docker", "service", "inspect", result=Result(0, json.dumps([current])))
    assert t._ensure_service(t._db_spec("pg:1", SECRET_VALUES)) is True
    created = [c for c in fake.calls if c.argv[:3] == ("docker", "secret", "create")]
    assert sorted(c.stdin for c in created) == sorted(SECRET_VALUES.values())  # from the old config, once
    update = fake.mutating()[-1]
    assert update.argv[:3] == ("docker", "service", "update")
    assert "POSTGRES_PASSWORD" in update.argv and update.argv[update.argv.index("POSTGRES_PASSWORD") - 1] == "--env-rm"
    assert any(a.startswith("source=pl-local-db-password-") and "uid=105" in a for a in update.argv)
    _no_value_outside_secret_stdin(fake)


def test_an_up_to_date_service_with_its_secrets_is_left_alone(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = env_and_port
    t = target(env, _secrets_fake(), tmp_path)
    spec = t._db_spec("pg:1", SECRET_VALUES)
    current = {
        "Spec": {
            "TaskTemplate": {
                "ContainerSpec": {
                    "Image": "pg:1@sha256:abc",
                    "Env": [f"{k}={v}" for k, v in spec.env.items()],
                    "Secrets": [{"SecretName": m.source, "File": {"Name": m.target}} for m in spec.secrets],
                }
            },
            "Mode": {"Replicated": {"Replicas": 1}},
        }
    }
    fake = _secrets_fake(existing=[m.source for m in spec.secrets]).on(
        "docker", "service", "inspect", result=Result(0, json.dumps([current]))
    )
    assert target(env, fake, tmp_path)._ensure_service(spec) is False


def test_down_with_volumes_removes_the_secrets(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = env_and_port
    fake = _secrets_fake(existing=["pl-local-db-password-1", "pl-local-docs-password-2"])
    fake.on("docker", "network", "inspect", result=Result(1)).on("docker", "volume", "inspect", result=Result(1))
    target(env, fake, tmp_path).down(volumes=True)
    assert ("docker", "secret", "rm", "pl-local-db-password-1", "pl-local-docs-password-2") in [c.argv for c in fake.calls]


def test_prometheus_gets_its_configuration_then_starts_on_loopback_or_reads_it_again(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pipeline.observability import prometheus

    env, _ = env_and_port
    fake = FakeExecutor().on("docker", "container", "inspect", result=Result(1, "", "No such container"))
    target(env, fake, tmp_path)._ensure_prometheus("127.0.0.1:5000/pipeline/prometheus:abc")
    write = next(c for c in fake.calls if c.argv[:3] == ("docker", "run", "--rm"))
    assert write.argv[3:5] == ("--entrypoint", "")  # the script runs, not Prometheus
    assert any(a.startswith("FILE0=") and "tasks.pl-local-app-blue" in a for a in write.argv)
    assert any(a.startswith("FILE1=") and "TrackErrorRateHigh" in a for a in write.argv)
    script = write.argv[-1]
    assert "> /etc/prometheus/pipeline/prometheus.yml" in script and "> /etc/prometheus/pipeline/rules.yml" in script
    started = next(c for c in fake.calls if c.argv[:3] == ("docker", "run", "--detach")).argv
    assert started[started.index("--publish") + 1] == "127.0.0.1:9090:9090"  # loopback only
    assert started[started.index("127.0.0.1:5000/pipeline/prometheus:abc") + 1 :] == tuple(prometheus.command(env))
    # already running this image with these arguments: told to read its files again, not restarted
    image = "127.0.0.1:5000/pipeline/prometheus:abc"
    info = {"Config": {"Image": image, "Cmd": prometheus.command(env)}, "State": {"Running": True}}
    again = FakeExecutor().on("docker", "container", "inspect", result=Result(0, json.dumps([info])))
    again.on("docker", "exec", result=Result(0, "an older configuration"))
    target(env, again, tmp_path)._ensure_prometheus(image)
    written = [c for c in again.calls if c.argv[:3] == ("docker", "exec", "-i")]
    assert [c.argv[-1] for c in written] == [
        f"cat > {prometheus.CONF_DIR}/prometheus.yml",
        f"cat > {prometheus.CONF_DIR}/rules.yml",
    ]
    assert ("docker", "kill", "--signal", "HUP", "pl-local-prometheus") in [c.argv for c in again.calls]
    assert not [c for c in again.calls if c.argv[:3] == ("docker", "run", "--detach")]
    # the same files: nothing written, nothing signalled (a second `up` changes nothing)
    files = {
        "prometheus.yml": prometheus.render_config(env, env.app.port),
        "rules.yml": prometheus.render_rules(ROOT),
    }
    same = FakeExecutor().on("docker", "container", "inspect", result=Result(0, json.dumps([info])))
    same.on("docker", "exec", result=lambda command: Result(0, files[command.argv[-1].rsplit("/", 1)[1]]))
    target(env, same, tmp_path)._ensure_prometheus(image)
    assert same.mutating() == []


def test_alertmanager_starts_on_loopback_before_prometheus_which_sends_it_its_alerts(env_and_port, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from pipeline.observability import alertmanager, prometheus

    plain, _ = env_and_port
    watch = plain.observability.model_copy(update={"webhook": "https://hooks.example.com/services/T0/B0/secret"})
    env = plain.model_copy(update={"observability": watch})
    fake = FakeExecutor().on("docker", "container", "inspect", result=Result(1, "", "No such container"))
    said: list[str] = []
    LocalTarget(env, fake, Project(ROOT, tmp_path), said.append)._ensure_alertmanager("127.0.0.1:5000/pipeline/alertmanager:abc")
    write = next(c for c in fake.calls if c.argv[:3] == ("docker", "run", "--rm"))
    conf = yaml.safe_load(next(a for a in write.argv if a.startswith("FILE0=")).removeprefix("FILE0="))
    hook = {"url": "https://hooks.example.com/services/T0/B0/secret", "send_resolved": True}
    assert conf["receivers"] == [{"name": "webhook", "webhook_configs": [hook]}]
    assert conf["route"]["receiver"] == "webhook" and conf["route"]["repeat_interval"] == "4h"
    started = next(c for c in fake.calls if c.argv[:3] == ("docker", "run", "--detach")).argv
    assert started[started.index("--publish") + 1] == "127.0.0.1:9093:9093"  # loopback only
    assert started[started.index("--name") + 1] == "pl-local-alertmanager"
    assert started[-len(alertmanager.command(env)) :] == tuple(alertmanager.command(env))
    assert not any("secret" in line for line in said) and any("hooks.example.com" in line for line in said)
    # Prometheus sends to it by its name on the network
    sent = yaml.safe_load(prometheus.render_config(env, env.app.port))["alerting"]["alertmanagers"]
    assert sent == [{"static_configs": [{"targets": ["pl-local-alertmanager:9093"]}]}]
    # no webhook: a receiver that sends nothing, the alerts kept and shown
    quiet = yaml.safe_load(alertmanager.render_config(plain))
    assert quiet["receivers"] == [{"name": "shown-only"}] and quiet["route"]["receiver"] == "shown-only"
