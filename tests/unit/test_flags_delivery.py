"""Delivery planning and the atomic write; the flags service: validate first, journal, dry run."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from pipeline.commands import Result
from pipeline.commands.executor import DryRunExecutor, SubprocessExecutor
from pipeline.commands.ssh import Login
from pipeline.environment import load_environment
from pipeline.errors import RolloutInvalid, UnknownFlag
from pipeline.flags import change, definition, state
from pipeline.flags.delivery import FlagDelivery, LocalDirDelivery, SshDirDelivery
from pipeline.flags.service import change as apply_change
from pipeline.project import Project
from pipeline.records.journal import Journal
from pipeline.targets.local import LocalTarget
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]


def test_local_plan_is_one_atomic_write_into_the_directory(tmp_path: Path) -> None:
    ex = FakeExecutor()
    delivery = LocalDirDelivery(ex, tmp_path / "flags")
    assert isinstance(delivery, FlagDelivery)
    [command] = delivery.plan('{"flags": {}}')
    assert command.argv[:2] == ("sh", "-c") and command.argv[-1] == str(tmp_path / "flags")
    assert 'mv -f "$tmp" "$1/flags.json"' in command.argv[2]
    assert command.stdin == '{"flags": {}}' and command.mutates
    assert delivery.mount == f"type=bind,src={tmp_path / 'flags'},dst=/flags,readonly"


def test_local_delivery_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    delivery = LocalDirDelivery(SubprocessExecutor(), tmp_path / "flags")
    assert delivery.read() is None
    delivery.deliver("one\n")
    inode = (tmp_path / "flags" / "flags.json").stat().st_ino
    delivery.deliver("two\n")
    assert delivery.read() == "two\n"
    assert (tmp_path / "flags" / "flags.json").stat().st_ino != inode  # a rename, not a rewrite in place
    assert sorted(p.name for p in (tmp_path / "flags").iterdir()) == ["flags.json"]


def test_ssh_plan_writes_on_every_node_in_turn() -> None:
    logins = [
        (n, Login("127.0.0.1", port, "admin", Path("/k/id"), Path("/k/kh"), Path("/k")))
        for n, port in (("m1", 22111), ("w1", 22112))
    ]
    delivery = SshDirDelivery(FakeExecutor(), logins, "/var/lib/pipeline/flags/pl-x")
    plan = delivery.plan("{}")
    assert [c.argv[0] for c in plan] == ["ssh", "ssh"] and [c.argv[c.argv.index("-p") + 1] for c in plan] == ["22111", "22112"]
    assert all("mv -f" in c.argv[-1] and "/var/lib/pipeline/flags/pl-x" in c.argv[-1] and c.stdin == "{}" for c in plan)
    assert [c.description.split(":")[0] for c in plan] == ["m1", "w1"]
    assert delivery.mount == "type=bind,src=/var/lib/pipeline/flags/pl-x,dst=/flags,readonly"


def _delivery(tmp_path: Path) -> LocalDirDelivery:
    delivery = LocalDirDelivery(SubprocessExecutor(), tmp_path / "flags")
    state.ensure_delivered(delivery, ROOT, "ci")
    return delivery


def test_first_delivery_is_the_stamped_baseline_and_is_not_repeated(tmp_path: Path) -> None:
    delivery = _delivery(tmp_path)
    flags = json.loads(delivery.read() or "")
    assert flags["metadata"]["revision"] == state.revision_of(flags)
    delivery.deliver("changed by a toggle")
    assert state.ensure_delivered(delivery, ROOT, "ci")["delivered"] is False
    assert delivery.read() == "changed by a toggle"


def test_a_change_is_validated_delivered_and_journalled(tmp_path: Path) -> None:
    delivery = _delivery(tmp_path)
    journal = tmp_path / "journal.sqlite"
    result = apply_change(delivery, ROOT, "ci", "kill", "uploads-enabled", lambda f: change.kill(f, "uploads-enabled"), journal)
    assert result.delivered and [c.key for c in result.changes] == ["uploads-enabled"]
    live = definition.parse(delivery.read() or "", "live")
    assert live["flags"]["uploads-enabled"]["defaultVariant"] == "off"
    assert live["metadata"]["revision"] == result.after != result.before
    with Journal(journal) as j:
        [event] = j.env_events("ci", kinds=["flag"])
    assert event.data["action"] == "kill" and event.data["revision"] == result.after and event.data["by"]
    again = apply_change(delivery, ROOT, "ci", "kill", "uploads-enabled", lambda f: change.kill(f, "uploads-enabled"), journal)
    assert not again.delivered and again.changes == []


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda f: change.set_variant(f, "nope", "on"), UnknownFlag),
        (
            lambda f: {
                **f,
                "flags": {**f["flags"], "x": {**f["flags"]["new-notes-ui"], "targeting": {"fractional": [["on", 5]]}}},
            },
            RolloutInvalid,
        ),
    ],
)
def test_an_invalid_change_writes_nothing(tmp_path: Path, mutate: object, error: type[Exception]) -> None:
    delivery = _delivery(tmp_path)
    before = delivery.read()
    with pytest.raises(error):
        apply_change(delivery, ROOT, "ci", "set", "x", mutate, tmp_path / "journal.sqlite")  # type: ignore[arg-type]
    assert delivery.read() == before
    assert not (tmp_path / "journal.sqlite").exists() or not Journal(tmp_path / "journal.sqlite").env_events("ci")


def test_dry_run_prints_the_write_and_changes_nothing(tmp_path: Path) -> None:
    before = _delivery(tmp_path).read()
    printed: list[str] = []
    delivery = LocalDirDelivery(DryRunExecutor(SubprocessExecutor(), printed.append), tmp_path / "flags")
    result = apply_change(
        delivery,
        ROOT,
        "ci",
        "set",
        "notes-excerpt",
        lambda f: change.set_variant(f, "notes-excerpt", "on"),
        tmp_path / "j.sqlite",
        dry_run=True,
    )
    assert result.dry_run and not result.delivered and result.changes
    assert len(printed) == 1 and printed[0].startswith("sh -c")
    assert delivery.read() == before
    assert not (tmp_path / "j.sqlite").exists()


def test_app_tasks_mount_the_flags_directory_and_updates_keep_it(tmp_path: Path) -> None:
    secrets = base64.b64encode(json.dumps({"db_password": "p", "django_secret_key": "k", "docs_password": "d"}).encode())
    fake = FakeExecutor().on("docker", "config", "inspect", result=Result(0, json.dumps(secrets.decode())))
    target = LocalTarget(load_environment(ROOT, "local"), fake, Project(ROOT, tmp_path), lambda _m: None)
    spec = target.app_spec("stable", "v1", "reg/app:v1")
    mount = f"type=bind,src={tmp_path / 'flags' / 'pl-local'},dst=/flags,readonly"
    assert spec.mounts[0] == mount
    assert spec.env["APP_FLAGS_FILE"] == "/flags/flags.json"
    create, update = spec.create().argv, spec.update().argv
    assert create[create.index("--mount") + 1] == mount
    assert update[update.index("--mount-add") + 1] == mount


def test_the_probe_asks_the_baseline_as_well_as_both_tracks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # found in CI: mid-release (a baseline running) `flags set --wait` answered for 3 of 4 tasks
    target = LocalTarget(load_environment(ROOT, "ci"), FakeExecutor(), Project(ROOT, tmp_path), lambda _m: None)
    monkeypatch.setattr(target, "app_image", lambda _track: "reg/app:v1")
    argv = target.flag_probe(mode="until", want="r1").argv
    services = argv[argv.index("-c") + 2].split(",")
    assert sorted(services) == ["pl-ci-app-baseline", "pl-ci-app-blue", "pl-ci-app-green"]
