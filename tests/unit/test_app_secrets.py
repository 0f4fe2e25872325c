"""The app's own secrets (``app.secrets``): Swarm secrets set from stdin, mounted as files, never in a spec."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipeline.commands import Command, Result
from pipeline.environment import load_environment
from pipeline.errors import SecretMissing, UserError
from pipeline.project import Project
from pipeline.targets.local import LocalTarget
from pipeline.targets.secret_store import MAX_BYTES, AppSecretStore, check_value
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]
STACK = "pl-x"
LABELS = {"pipeline.env": "x", "pipeline.stack": STACK}


@dataclass
class Secrets:
    """The secrets of a swarm, as ``docker secret`` commands see them (values kept to check them)."""

    stored: dict[str, dict[str, object]] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    clock: int = 0

    def executor(self, services: dict[str, list[str]] | None = None) -> FakeExecutor:
        fake = FakeExecutor()
        fake.on("docker", "secret", "create", result=self.create)
        fake.on("docker", "secret", "ls", result=self.ls)
        fake.on("docker", "secret", "inspect", result=self.inspect)
        fake.on("docker", "secret", "rm", result=self.rm)
        return fake

    def create(self, command: Command) -> Result:
        argv = list(command.argv)
        labels = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--label")
        name = argv[-2]
        self.clock += 1
        self.stored[name] = {"Spec": {"Name": name, "Labels": labels}, "CreatedAt": f"2026-12-03T10:00:{self.clock:02d}Z"}
        self.values[name] = command.stdin or ""
        return Result(0, name + "\n")

    def ls(self, command: Command) -> Result:
        wanted = [command.argv[i + 1].removeprefix("label=") for i, a in enumerate(command.argv) if a == "--filter"]

        def has(labels: dict[str, str], want: str) -> bool:
            key, _, value = want.partition("=")
            return key in labels and (not value or labels[key] == value)

        names = [n for n, s in self.stored.items() if all(has(s["Spec"]["Labels"], w) for w in wanted)]  # type: ignore[index]
        return Result(0, "".join(n + "\n" for n in names))

    def inspect(self, command: Command) -> Result:
        names = command.argv[3:]
        if any(n not in self.stored for n in names):
            return Result(1, "[]", "no such secret")
        return Result(0, json.dumps([self.stored[n] for n in names]))

    def rm(self, command: Command) -> Result:
        for name in command.argv[3:]:
            self.stored.pop(name, None)
        return Result(0)


def store(fake: FakeExecutor, declared: list[str], mounted: dict[str, list[str]] | None = None) -> AppSecretStore:
    return AppSecretStore(fake, STACK, LABELS, declared, lambda: dict(mounted or {}), "x")


def test_a_value_is_stored_from_stdin_labelled_with_its_name_and_never_on_a_command_line() -> None:
    swarm = Secrets()
    fake = swarm.executor()
    given = "sk-live-123"
    version = store(fake, ["STRIPE_KEY"]).set("STRIPE_KEY", given)
    assert swarm.values[version.secret] == given
    assert swarm.stored[version.secret]["Spec"]["Labels"]["pipeline.app-secret"] == "STRIPE_KEY"  # type: ignore[index]
    assert version.secret.startswith(f"{STACK}-u-")
    assert all("sk-live-123" not in " ".join(c.argv) for c in fake.calls)
    created = [c for c in fake.calls if c.argv[:3] == ("docker", "secret", "create")]
    assert len(created) == 1 and created[0].secret_stdin


def test_the_newest_value_wins_and_an_older_one_goes_unless_a_service_still_mounts_it() -> None:
    swarm = Secrets()
    fake = swarm.executor()
    first = store(fake, ["TOKEN"]).set("TOKEN", "one")
    # a running track mounts the first version: setting twice more keeps it, removes the unused middle one
    mounted = {"pl-x-app-blue": [first.secret]}
    second = store(fake, ["TOKEN"], mounted).set("TOKEN", "two")
    third = store(fake, ["TOKEN"], mounted).set("TOKEN", "three")
    assert set(swarm.stored) == {first.secret, third.secret}
    assert second.secret not in swarm.stored
    newest = store(fake, ["TOKEN"], mounted).newest()
    assert newest["TOKEN"].secret == third.secret
    versions = store(fake, ["TOKEN"], mounted).versions(users=True)
    assert [v.secret for v in versions] == [first.secret, third.secret]
    assert versions[0].used_by == ("pl-x-app-blue",) and versions[1].used_by == ()


def test_a_name_dropped_from_app_secrets_loses_its_unused_versions_at_the_next_set() -> None:
    swarm = Secrets()
    fake = swarm.executor()
    old = store(fake, ["OLD_KEY", "NEW_KEY"]).set("OLD_KEY", "old")
    store(fake, ["NEW_KEY"]).set("NEW_KEY", "new")
    assert old.secret not in swarm.stored


def test_a_deploys_mounts_read_the_secrets_alone_never_every_service() -> None:
    swarm = Secrets()
    fake = swarm.executor()
    store(fake, ["TOKEN"]).set("TOKEN", "one")
    asked: list[bool] = []
    mounts = AppSecretStore(fake, STACK, LABELS, ["TOKEN"], lambda: asked.append(True) or {}, "x").mounts(1000)
    assert [m.target for m in mounts] == ["TOKEN"] and asked == []


def test_a_declared_secret_without_a_value_is_refused_in_one_line_naming_its_key() -> None:
    swarm = Secrets()
    fake = swarm.executor()
    store(fake, ["A_KEY", "B_KEY", "C_KEY"]).set("B_KEY", "b")
    calls = len(fake.mutating())
    with pytest.raises(SecretMissing) as caught:
        store(fake, ["A_KEY", "B_KEY", "C_KEY"]).require()
    assert caught.value.exit_code == 9
    assert caught.value.message == "app.secrets.A_KEY: not set in x (and C_KEY)"
    assert caught.value.hint is not None and "pipeline secrets set x A_KEY" in caught.value.hint
    assert len(fake.mutating()) == calls


def test_a_swarm_that_does_not_answer_is_one_line_pointing_at_up_and_nothing_is_created() -> None:
    from pipeline.errors import NotReady

    fake = FakeExecutor().on("docker", "secret", "ls", result=Result(1, "", "Error: This node is not a swarm manager."))
    with pytest.raises(NotReady) as caught:
        store(fake, ["TOKEN"]).set("TOKEN", "x")
    assert "not a swarm manager" in caught.value.message and "make up ENV=x" in (caught.value.hint or "")
    assert fake.mutating() == []


def test_setting_a_name_the_app_does_not_declare_is_refused_and_changes_nothing() -> None:
    fake = Secrets().executor()
    with pytest.raises(UserError) as caught:
        store(fake, ["TOKEN"]).set("TOKEM", "x")
    assert caught.value.exit_code == 2 and "TOKEM: not a secret of x (app.secrets: TOKEN)" in caught.value.message
    assert fake.mutating() == []


@pytest.mark.parametrize(
    ("given", "stored"),
    [(b"abc\n", "abc"), (b"abc\r\n", "abc"), (b"abc", "abc"), (b"a b\n\n", "a b\n"), ("pässwörd".encode(), "pässwörd")],
)
def test_one_trailing_newline_is_dropped_from_a_value(given: bytes, stored: str) -> None:
    assert check_value("K", given) == stored


@pytest.mark.parametrize(
    ("given", "words"),
    [
        (b"", "K: the value is empty"),
        (b"\n", "K: the value is empty"),
        (b"a\0b", "NUL byte"),
        (b"\xff\xfe", "not UTF-8"),
        (b"x" * (MAX_BYTES + 1), f"more than {MAX_BYTES}"),
    ],
)
def test_a_bad_value_is_refused_without_showing_it(given: bytes, words: str) -> None:
    with pytest.raises(UserError) as caught:
        check_value("K", given)
    assert words in caught.value.message


# --- the local target: mounts, env, the generated secrets' pruning -------------------------------


def _target(tmp_path: Path, fake: FakeExecutor, declared: list[str]) -> LocalTarget:
    env = load_environment(ROOT, "local")
    env = env.model_copy(update={"app": env.app.model_copy(update={"secrets": declared})})
    target = LocalTarget(env, fake, Project(ROOT, tmp_path), lambda _m: None)
    target._replicas = lambda: {}  # type: ignore[method-assign]
    return target


def _generated(fake: FakeExecutor) -> None:
    values = {"db_password": "d", "django_secret_key": "k", "docs_password": "p"}
    fake.on("docker", "config", "inspect", result=Result(0, json.dumps(json.dumps(values).encode().hex())))


def test_an_app_task_mounts_the_newest_value_as_a_file_and_its_env_names_only_the_path(tmp_path: Path) -> None:
    swarm = Secrets()
    fake = swarm.executor()
    target = _target(tmp_path, fake, ["STRIPE_KEY"])
    target._secret_mounts = lambda keys, uid: []  # type: ignore[method-assign]
    version = target.secret_store().set("STRIPE_KEY", "sk-live-456")
    spec = target.app_spec("canary", "v2", "127.0.0.1:5000/app:v2")
    mine = [m for m in spec.secrets if m.target == "STRIPE_KEY"]
    assert len(mine) == 1 and mine[0].source == version.secret and mine[0].mode == 0o400
    assert spec.env["STRIPE_KEY_FILE"] == "/run/secrets/STRIPE_KEY"
    assert "STRIPE_KEY" not in spec.env
    assert "sk-live-456" not in " ".join(spec.create().argv)


def test_an_app_spec_is_refused_while_a_declared_secret_has_no_value(tmp_path: Path) -> None:
    fake = Secrets().executor()
    target = _target(tmp_path, fake, ["STRIPE_KEY"])
    target._secret_mounts = lambda keys, uid: []  # type: ignore[method-assign]
    with pytest.raises(SecretMissing):
        target.app_spec("canary", "v2", "127.0.0.1:5000/app:v2")


def test_the_generated_secrets_pruning_leaves_the_apps_own_alone(tmp_path: Path) -> None:
    swarm = Secrets()
    fake = swarm.executor()
    target = _target(tmp_path, fake, ["STRIPE_KEY"])
    target._secrets = lambda: {"db_password": "d", "django_secret_key": "k", "docs_password": "p"}  # type: ignore[method-assign]
    mine = target.secret_store().set("STRIPE_KEY", "v")
    swarm.stored["pl-local-db-password-stale"] = {"Spec": {"Name": "x", "Labels": dict(target.labels)}, "CreatedAt": ""}
    target._secret_names()
    assert mine.secret in swarm.stored
    assert "pl-local-db-password-stale" not in swarm.stored


# --- the CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "environments" / "x").mkdir(parents=True)
    (root / "pipeline").mkdir()
    (root / "environments" / "x" / "env.yaml").write_text("app:\n  secrets: [STRIPE_KEY]\n")
    monkeypatch.setenv("PIPELINE_ROOT", str(root))
    monkeypatch.setenv("PIPELINE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("PIPELINE_JOURNAL", raising=False)
    return root


def _cli(args: list[str], fake: FakeExecutor, stdin: bytes = b"") -> int:
    from pipeline.cli.main import run

    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        run(args, executor=fake)
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        sys.stdin = sys.__stdin__
    return 0


def test_secrets_set_reads_stdin_journals_the_name_and_never_the_value(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.records.journal import Journal, default_path

    swarm = Secrets()
    fake = swarm.executor()
    assert _cli(["secrets", "set", "x", "STRIPE_KEY", "--json"], fake, b"sk-cli-789\n") == 0
    out = json.loads(capsys.readouterr().out)
    stored = swarm.values[out["secret"]]
    assert stored == "sk-cli-789"
    with Journal(default_path(tmp_path / "state")) as journal:
        rows = journal.env_events("x", ["secret"])
    text = json.dumps([r.data for r in rows])
    assert "STRIPE_KEY" in text and "sk-cli-789" not in text


def test_secrets_set_of_an_undeclared_name_exits_2_before_reading_a_value(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = Secrets().executor()
    assert _cli(["secrets", "set", "x", "OTHER"], fake, b"v\n") == 2
    err = capsys.readouterr().err
    assert "OTHER: not a secret of x" in err and "Traceback" not in err
    assert fake.mutating() == []


def test_secrets_list_says_what_is_set_and_what_is_not(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "environments" / "x" / "env.yaml").write_text("app:\n  secrets: [STRIPE_KEY, SMTP_PASSWORD]\n")
    swarm = Secrets()
    fake = swarm.executor()
    assert _cli(["secrets", "set", "x", "STRIPE_KEY"], fake, b"v\n") == 0
    capsys.readouterr()
    assert _cli(["secrets", "list", "x", "--json"], fake) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["secrets"]}
    assert rows["STRIPE_KEY"]["set"] is True and rows["SMTP_PASSWORD"]["set"] is False
    assert rows["STRIPE_KEY"]["newest"]["secret"].startswith("pl-x-u-")
