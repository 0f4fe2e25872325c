"""An operator's command through the local edge: read with the log, acted on once, acknowledged
in the background (the loop never waits for the removal)."""

from __future__ import annotations

from typing import Any

from pipeline.commands import Command, Result
from pipeline.environment.model import Environment
from pipeline.targets.local_edge import LocalEdge
from pipeline.testing import FakeExecutor


def edge_with_command(text: str) -> tuple[LocalEdge, FakeExecutor]:
    """An edge whose log read shows ``text`` as the pending command."""

    def read(command: Command) -> Result:
        return Result(0, f"0\n{text}\n")

    fake = FakeExecutor().on("docker", "exec", "pl-x-edge", "sh", "-c", result=read)
    edge = LocalEdge(Environment.model_validate({"name": "x"}), fake, "pl-x-edge")
    return edge, fake


def test_a_command_is_taken_once_per_nonce_and_acknowledged_without_waiting() -> None:
    edge, fake = edge_with_command("rollback 18c3a1f00b2")
    read = edge.log_reader()
    read(0)
    assert edge.take_command() == "rollback"
    acks = [c for c in fake.calls if c.description == "acknowledge the command"]
    assert len(acks) == 1 and acks[0].background and not acks[0].check
    script = acks[0].argv[-1]
    # removed only if it is still the command taken: a newer one written meanwhile survives
    assert "'rollback 18c3a1f00b2'" in script and "rm -f" in script
    read(0)  # the removal has not landed yet: the next read sees the same command
    assert edge.take_command() is None
    assert edge.take_command() is None  # nothing seen since


def test_a_new_command_after_one_taken_is_taken_and_junk_is_not() -> None:
    pending = ["rollback 1"]
    fake = FakeExecutor().on("docker", "exec", "pl-x-edge", "sh", "-c", result=lambda _c: Result(0, f"0\n{pending[0]}\n"))
    edge = LocalEdge(Environment.model_validate({"name": "x"}), fake, "pl-x-edge")
    read = edge.log_reader()
    read(0)
    assert edge.take_command() == "rollback"
    pending[0] = "abort 2"  # the operator changed their mind: a new nonce
    read(0)
    assert edge.take_command() == "abort"
    pending[0] = "shutdown 3"
    read(0)
    assert edge.take_command() is None  # not a command the controller knows


def test_send_command_writes_the_verb_and_a_nonce() -> None:
    fake = FakeExecutor()
    edge = LocalEdge(Environment.model_validate({"name": "x"}), fake, "pl-x-edge")
    edge.send_command("abort")
    edge.send_command("abort")
    scripts = [c.argv[-1] for c in fake.calls]
    assert all(s.startswith("printf '%s %s' abort ") for s in scripts)
    assert scripts[0] != scripts[1]  # each command its own nonce


def edge_on_this_machine(tmp_path: Any, endpoint: str = "unix:///var/run/docker.sock") -> tuple[LocalEdge, FakeExecutor]:
    """An edge whose volumes are directories here (``tmp_path``): Docker's answers are faked, the
    shell scripts on this machine really run."""
    from pipeline.commands.executor import SubprocessExecutor

    conf, logs = tmp_path / "conf", tmp_path / "logs"
    conf.mkdir(parents=True)
    logs.mkdir(parents=True)
    (conf / "nginx.conf").write_text("events {}\n")
    (conf / "split.conf").write_text("# split\n")
    (logs / "access.json").write_text('{"a":1}\n{"b":2}\n')
    real = SubprocessExecutor()
    fake = FakeExecutor()
    fake.on("docker", "context", "inspect", result=Result(0, endpoint + "\n"))
    fake.on("docker", "volume", "inspect", result=Result(0, f"{conf}\n{logs}\n"))
    fake.on("sh", result=real.run)
    fake.on("cat", result=real.run)
    edge = LocalEdge(Environment.model_validate({"name": "x"}), fake, "pl-x-edge", ("pl-x-edge-conf", "pl-x-edge-logs"))
    return edge, fake


def test_with_the_engine_on_this_machine_the_edge_files_are_used_in_its_volumes(tmp_path: Any) -> None:
    edge, fake = edge_on_this_machine(tmp_path)
    assert edge.split_text() == "# split\n"
    edge.renew_lease(2_000_000_000)
    assert edge.lease() == 2_000_000_000.0
    edge.send_command("rollback")
    read = edge.log_reader()
    assert read(8) == b'{"b":2}\n'  # from the offset, and the pending command with it
    assert edge.log_size() == 16
    assert edge.take_command() == "rollback"
    import time

    for _ in range(100):  # acknowledged (removed) in the background: it was still the one taken
        if not (tmp_path / "conf" / "command").exists():
            break
        time.sleep(0.02)
    assert not (tmp_path / "conf" / "command").exists()
    assert not [c for c in fake.calls if c.argv[:2] == ("docker", "exec")]  # no exec into the edge at all
    finds = [c for c in fake.calls if c.argv[:3] == ("docker", "volume", "inspect")]
    assert len(finds) == 1  # found once, then kept


def test_a_remote_engine_or_volumes_not_made_yet_go_through_docker_exec(tmp_path: Any) -> None:
    edge, fake = edge_on_this_machine(tmp_path, endpoint="tcp://10.0.0.9:2376")
    edge.split_text()
    edge.split_text()
    assert [c.argv[:3] for c in fake.calls if c.argv[0] == "docker"][-2:] == [("docker", "exec", "pl-x-edge")] * 2
    assert len([c for c in fake.calls if c.argv[:3] == ("docker", "context", "inspect")]) == 1  # asked once

    edge, fake = edge_on_this_machine(tmp_path / "fresh")
    (tmp_path / "fresh" / "conf" / "nginx.conf").unlink()  # the edge was never brought up
    edge.split_text()
    assert fake.calls[-1].argv[:2] == ("docker", "exec")
    (tmp_path / "fresh" / "conf" / "nginx.conf").write_text("events {}\n")  # `up` made it: found now
    assert edge.split_text() == "# split\n" and fake.calls[-1].argv[0] == "cat"
