"""Docker commands on a node's engine over SSH: the same command, quoted word by word."""

from __future__ import annotations

import shlex
from pathlib import Path

from pipeline.commands import Command
from pipeline.commands.on_node import OnNode, on_node
from pipeline.commands.ssh import Login
from pipeline.testing import FakeExecutor

LOGIN = Login("127.0.0.1", 22111, "admin", Path("/k/id"), Path("/k/known_hosts"), Path("/k"))


def test_a_docker_command_runs_on_the_node_with_each_word_quoted() -> None:
    hostile = "x; touch /tmp/pwned $(id)"
    moved = on_node(LOGIN, Command(("docker", "service", "update", "--label-add", f"a={hostile}", "svc"), "label"), "m1")
    assert moved.argv[0] == "ssh" and "admin@127.0.0.1" in moved.argv and moved.argv[-2] == "--"
    assert shlex.split(moved.argv[-1]) == ["docker", "service", "update", "--label-add", f"a={hostile}", "svc"]
    assert moved.description == "m1: label"
    assert list(moved.argv[3:5]) == ["-p", "22111"]


def test_its_environment_travels_with_env_and_other_commands_stay_here() -> None:
    moved = on_node(LOGIN, Command(("docker", "build", "."), env={"DOCKER_BUILDKIT": "0"}))
    assert shlex.split(moved.argv[-1]) == ["env", "DOCKER_BUILDKIT=0", "docker", "build", "."] and moved.env == {}
    here = Command(("curl", "-fsS", "http://127.0.0.1:1/"))
    assert on_node(LOGIN, here) is here


def test_the_executor_keeps_stdin_and_the_dry_run_of_the_one_it_wraps() -> None:
    inner = FakeExecutor()
    node = OnNode(inner, LOGIN, "w1")
    node.run(Command(("docker", "exec", "-i", "edge", "edge-apply", "split.conf"), stdin="split"))
    assert inner.calls[-1].argv[0] == "ssh" and inner.calls[-1].stdin == "split"
    assert node.dry_run == inner.dry_run
