from __future__ import annotations

from pathlib import Path

from pipeline.commands import Command, Result, redact
from pipeline.commands.executor import DryRunExecutor
from pipeline.testing import FakeExecutor


def test_redact_hides_secret_values_only() -> None:
    assert redact("DB_PASSWORD=hunter2") == "DB_PASSWORD=***"
    assert redact("DJANGO_SECRET_KEY=abc") == "DJANGO_SECRET_KEY=***"
    assert redact("DATABASE_URL=postgres://u:pw@db:5432/x") == "DATABASE_URL=postgres://u:***@db:5432/x"
    assert redact("APP_PORT=8000") == "APP_PORT=8000"


def test_shell_line_quotes_and_marks_stdin() -> None:
    line = Command(("docker", "exec", "-i", "edge", "sh", "-c", "echo a b"), stdin="xyz").shell()
    assert line == "docker exec -i edge sh -c 'echo a b'  # stdin: <3 bytes>"


def test_dry_run_prints_changes_and_still_reads() -> None:
    reader = FakeExecutor().on("docker", "info", result=Result(0, "active\n"))
    printed: list[str] = []
    dry = DryRunExecutor(reader, printed.append)
    probe = dry.run(Command(("docker", "info"), mutates=False))
    change = dry.run(Command(("docker", "swarm", "init")))
    assert probe.stdout == "active\n"
    assert change.ok
    assert printed == ["docker swarm init"]
    assert [c.argv for c in reader.calls] == [("docker", "info")]


def test_fake_executor_longest_prefix_wins_and_failures_raise() -> None:
    fake = FakeExecutor().on("docker", result=Result(0, "a")).on("docker", "ps", result=Result(0, "b"))
    assert fake.run(Command(("docker", "ps", "-a"))).stdout == "b"
    assert fake.run(Command(("docker", "info"))).stdout == "a"
    fake.on("false", result=Result(1, "", "boom"))
    try:
        fake.run(Command(("false",), description="fail"))
    except Exception as exc:
        assert "fail failed (exit 1): boom" in str(exc)
    else:
        raise AssertionError("a failing checked command must raise")


def test_a_background_command_gets_the_folder_of_its_log(tmp_path: Path) -> None:
    """The state dir's folders are made by whoever writes in them (a dry run makes none): here the executor."""
    from pipeline.commands.executor import SubprocessExecutor

    log = tmp_path / "state" / "logs" / "x.log"
    SubprocessExecutor().run(Command(("true",), background=True, log_path=str(log)))
    assert log.parent.is_dir()
