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
    assert spec.env["DATABASE_URL"] == "postgres://refapp:pw1@pl-local-db:5432/refapp"
    assert spec.labels["pipeline.version"] == "v9"
    shown = spec.create().shell()
    assert "pw1" not in shown and "sk" not in shown.replace("task", "")
