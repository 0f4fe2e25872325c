"""An operator's command through the local edge: read with the log, acted on once, acknowledged
in the background (the loop never waits for the removal)."""

from __future__ import annotations

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
