"""`pipeline logs`: each kind's reads scripted with FakeExecutor, merged by the CLI in this process."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.cli.main import run as pipeline_main
from pipeline.commands import Command, Result
from pipeline.environment import load_environment
from pipeline.observability.logs import LogQuery
from pipeline.project import Project
from pipeline.targets import target_for
from pipeline.targets.vm import VmTarget
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]
APP_LOG = (
    '2024-05-01T12:00:03.000000002Z pl-local-app-blue.1.aaaa@n1    | {"level": "INFO", "message": "request", "status": 200}\n'
    "2024-05-01T12:00:01.000000000Z pl-local-app-blue.2.bbbb@n1    | "
    '{"level": "ERROR", "message": "boom", "path": "/api/notes"}\n'
)
DB_LOG = "2024-05-01T12:00:02.000000000Z pl-local-db.1.cccc@n1    | 2024-05-01 12:00:02.000 UTC [9] FATAL:  password failed\n"
EDGE_ERR = "2024-05-01T12:00:00.500000000Z 2024/05/01 12:00:00 [error] 7#7: connect() failed\n"
ACCESS = '{"msec":1714564802.250,"track":"stable","method":"POST","uri":"/api/notes","status":201,"request_time":0.01}\n'
SERVICES = ["pl-local-app-blue", "pl-local-app-green", "pl-local-db", "pl-local-cache"]


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def engine(command: Command) -> Result:
    """The local engine, as `docker` answers: services, their logs, the edge's and Prometheus's containers."""
    argv = command.argv
    if argv[1:3] == ("service", "ls"):
        return Result(0, "".join(json.dumps({"Name": n, "Replicas": "1/1"}) + "\n" for n in SERVICES))
    if argv[1:3] == ("service", "logs"):
        return Result(0, {"pl-local-app-blue": APP_LOG, "pl-local-db": DB_LOG}.get(argv[-1], ""))
    if argv[1] == "logs":  # docker logs: the container's stderr on the CLI's
        if argv[-1] in ("pl-local-prometheus", "pl-local-alertmanager"):
            return Result(1, "", f"Error response from daemon: No such container: {argv[-1]}")
        return Result(0, "", EDGE_ERR)
    if argv[1] == "exec":
        return Result(0, ACCESS if "access.json" in argv[-1] else "")
    return Result(0)


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> object:
    monkeypatch.setenv("PIPELINE_ROOT", str(ROOT))
    monkeypatch.setenv("PIPELINE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "250")

    def call(*args: str, ex: FakeExecutor | None = None) -> Ran:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["pipeline", *args])
        code = 0
        try:
            pipeline_main(executor=ex if ex is not None else FakeExecutor().on("docker", result=engine))
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return call


def test_every_part_is_merged_in_time_order_as_json(run: object) -> None:
    ex = FakeExecutor().on("docker", result=engine)
    result = run("logs", "local", "--json", ex=ex)  # type: ignore[operator]
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert [(r["service"], r["message"][:12]) for r in shown] == [
        ("edge", "2024/05/01 1"),
        ("app-stable", "boom"),
        ("db", "2024-05-01 1"),
        ("edge", "POST /api/no"),
        ("app-stable", "request"),
    ]
    assert shown[1] == {
        "time": "2024-05-01T12:00:01.000000000Z", "service": "app-stable", "task": "pl-local-app-blue.2.bbbb@n1",
        "level": "error", "message": "boom", "fields": {"path": "/api/notes"},
    }  # fmt: skip
    assert [r["level"] for r in shown] == ["error", "error", "critical", "info", "info"]
    assert "warning: prometheus (pl-local-prometheus): Error response from daemon: No such container" in result.stderr
    reads = [c for c in ex.calls if c.argv[1:3] == ("service", "logs") or c.argv[1] == "logs"]
    assert all(not c.mutates for c in ex.calls)
    assert {c.argv[-1] for c in reads} == {*SERVICES, "pl-local-edge", "pl-local-prometheus", "pl-local-alertmanager"}
    assert all(c.argv[-4:-1] == ("--timestamps", "--tail", "100") for c in reads)


def test_grep_level_and_services_select_and_every_source_is_read_whole(run: object) -> None:
    ex = FakeExecutor().on("docker", result=engine)
    result = run("logs", "local", "-s", "app-stable", "-s", "db", "--grep", "notes|password", "--level", "error", ex=ex)  # type: ignore[operator]
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and "boom" in lines[0] and "path=/api/notes" in lines[0] and "FATAL" in lines[1]
    assert lines[0].startswith("2024-05-01T12:00:01.000Z app-stable   app-blue.2.bbbb@n1 error")  # the stack's prefix dropped
    reads = [c.argv for c in ex.calls if c.argv[1:3] == ("service", "logs")]
    assert reads == [("docker", "service", "logs", "--timestamps", "pl-local-app-blue"),
                     ("docker", "service", "logs", "--timestamps", "pl-local-db")]  # fmt: skip


def test_since_reaches_every_read_as_one_instant(run: object) -> None:
    ex = FakeExecutor().on("docker", result=engine)
    result = run("logs", "local", "--since", "2024-05-01T12:00:02Z", "--service", "db", "--service", "edge", "--json", ex=ex)  # type: ignore[operator]
    assert result.returncode == 0, result.stderr
    assert [r["service"] for r in json.loads(result.stdout)] == ["db", "edge"]  # the edge's 12:00:00.5 is before it
    since = [c.argv[c.argv.index("--since") + 1] for c in ex.calls if "--since" in c.argv]
    assert since == ["1714564802.000000000"] * 2 and not any("--tail" in c.argv for c in ex.calls)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--since", "ten minutes"), "--since 'ten minutes': not a duration or an RFC 3339 time"),
        (("--until", "2024-05-01"), "--until '2024-05-01': not a duration"),
        (("--since", "5m", "--until", "10m"), "--until 10m: before --since 5m"),
        (("--grep", "(unclosed"), "--grep '(unclosed': not a regular expression"),
        (("--level", "loud"), "--level 'loud': not a level"),
        (("--service", "web"), "unknown service 'web'"),
        (("--follow",), "--follow shows one part's lines as they come"),
        (("--follow", "-s", "db", "-s", "cache"), "it needs one --service"),
        (("--follow", "-s", "db", "--grep", "x"), "without --since, --until, --grep"),
        (("--follow", "-s", "prometheus"), "--follow --service prometheus: not followed"),
    ],
)
def test_bad_options_are_one_line_exit_2_and_nothing_runs(run: object, args: tuple[str, ...], words: str) -> None:
    ex = FakeExecutor()
    result = run("logs", "local", *args, ex=ex)  # type: ignore[operator]
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and result.stderr.count("error:") == 1 and "hint:" in result.stderr
    assert ex.calls == []


def test_no_part_read_is_an_error(run: object) -> None:
    ex = FakeExecutor().on("docker", result=Result(1, "", "Cannot connect to the Docker daemon"))
    result = run("logs", "local", "--service", "db", ex=ex)  # type: ignore[operator]
    assert result.returncode == 11 and "no logs could be read" in result.stderr


def test_a_swarms_reads_go_to_its_manager_and_each_edge_node(tmp_path: Path) -> None:
    ports = {"22111": "m1", "22112": "w1", "22113": "w2"}

    def node(command: Command) -> Result:
        words = shlex.split(command.argv[-1])
        if words[:3] == ["docker", "service", "logs"] and words[-1] == "pl-swarm-local-edge":
            return Result(0, "2024-05-01T12:00:00Z pl-swarm-local-edge.x.abcd@w1    | 2024/05/01 12:00:00 [warn] 1#1: x\n")
        if words[:2] == ["docker", "ps"]:
            return Result(0, f"edge-on-{ports[command.argv[command.argv.index('-p') + 1]]}\n")
        if words[:2] == ["docker", "exec"] and "access.json" in words[-1]:
            return Result(0, ACCESS)
        return Result(0)

    ex = FakeExecutor().on("ssh", result=node)
    target = target_for(load_environment(ROOT, "swarm-local"), ex, Project(ROOT, tmp_path), lambda _m: None)
    feeds = target.read_logs(("edge",), LogQuery(tail=10))
    assert [(f.service, f.form, f.source, f.error) for f in feeds] == [
        ("edge", "service", "", ""), ("edge", "access", "w1", ""), ("edge", "access", "w2", "")
    ]  # fmt: skip
    where = {ports[c.argv[c.argv.index("-p") + 1]]: shlex.split(c.argv[-1]) for c in ex.calls if "logs" in c.argv[-1]}
    assert where["m1"][:3] == ["docker", "service", "logs"]
    execs = [(ports[c.argv[c.argv.index("-p") + 1]], shlex.split(c.argv[-1])[2]) for c in ex.calls if "access.json" in c.argv[-1]]
    assert execs == [("w1", "edge-on-w1"), ("w2", "edge-on-w2")]


def test_a_vms_units_are_read_from_its_journal_over_ssh(tmp_path: Path) -> None:
    journal = json.dumps(
        {"__REALTIME_TIMESTAMP": "1714564800000000", "_SYSTEMD_UNIT": "refapp-stable@1.service", "MESSAGE": '{"message": "hi"}'}
    )
    ex = FakeExecutor().on("ssh", result=lambda c: Result(0, journal if "journalctl" in c.argv[-1] else ACCESS))
    target = VmTarget(load_environment(ROOT, "vm-local"), ex, Project(ROOT, tmp_path), lambda _m: None)
    feeds = target.read_logs(("app-stable", "edge", "app-baseline"), LogQuery(since=1714564800 * 10**9, tail=5))
    assert [(f.service, f.form, f.error) for f in feeds] == [
        ("app-baseline", "journal", "the vm kind has no app-baseline"), ("", "journal", ""), ("edge", "access", "")
    ]  # fmt: skip
    script = ex.calls[0].argv[-1]
    assert script == "sudo journalctl --no-pager -o json --since @1714564800 -n 5 -u 'refapp-stable@*' -u nginx"
    from pipeline.observability.logs import select

    assert [(r.service, r.task, r.message) for r in select(feeds, LogQuery())] == [
        ("app-stable", "1", "hi"), ("edge", "127.0.0.1", "POST /api/notes 201")
    ]  # fmt: skip


def test_the_ecs_kinds_tracks_are_read_from_cloudwatch_in_the_window() -> None:
    from typing import Any

    from pipeline.commands.aws import AwsCall
    from pipeline.targets.ecs import EcsTarget

    class Logs:
        dry_run = False

        def __init__(self) -> None:
            self.calls: list[AwsCall] = []

        def call(self, request: AwsCall) -> dict[str, Any]:
            self.calls.append(request)
            stream = f"{request.params['logStreamNamePrefix']}/app/t1"
            return {"events": [{"timestamp": 1714564800000, "logStreamName": stream, "message": '{"message": "m"}'}]}

    aws = Logs()
    target = EcsTarget(load_environment(ROOT, "aws-ecs"), aws, lambda _m: None)
    feeds = target.read_logs(("app-canary", "db"), LogQuery(since=1714564800 * 10**9, until=1714564900 * 10**9, tail=10))
    assert [(f.service, f.error) for f in feeds] == [
        ("db", "the ecs target's logs are its app tracks' (CloudWatch)"), ("app-canary", "")
    ]  # fmt: skip
    (read,) = aws.calls
    assert (read.service, read.operation, read.mutates) == ("logs", "filter_log_events", False)
    assert read.params["startTime"] == 1714564800000 and read.params["endTime"] == 1714564900000
    assert read.params["limit"] == 10_000  # --until: the whole window, not the last 10
    from pipeline.observability.logs import select

    assert [(r.service, r.task, r.message) for r in select(feeds, LogQuery())] == [("app-canary", "canary/app/t1", "m")]
