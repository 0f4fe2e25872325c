"""Every fault confirms it took effect: an action that silently did nothing raises ActivityFailed."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosstack.disk import actions as disk
from chaosstack.edge import actions as edge
from chaosstack.network import actions as network
from chaosstack.service import actions as service
from chaosstack.stress import actions as stress
from pipeline.commands import Command, Result
from pipeline.testing import FakeExecutor
from tests.unit.chaos.conftest import CONFIG

C1 = "c1" + "0" * 62
PS = ("docker", "ps", "--no-trunc")
INSPECT = ("docker", "inspect", "--format")


def running(ex: FakeExecutor, containers: list[str]) -> None:
    ex.on(*PS, result=Result(0, "".join(f"{c} pl-ci-app-stable.{i}\n" for i, c in enumerate(containers))))


# --- kill a task ------------------------------------------------------------------


def test_a_track_names_the_slot_that_serves_it_now(fake: FakeExecutor) -> None:
    from pipeline.edge import Slots, Weights, render_split
    from pipeline.environment import load_environment

    from .conftest import ROOT, SPLIT_READ

    swapped = render_split(load_environment(ROOT, "ci"), Weights(0), Slots("green", "blue"))  # after a promotion
    fake.on(*SPLIT_READ, result=Result(0, swapped))
    killed: list[str] = []
    fake.on(*PS, result=lambda c: Result(0, "" if killed else f"{C1} pl-ci-app-green.1\n"))
    fake.on("docker", "kill", result=lambda c: killed.append(c.argv[-1]) or Result(0))
    fake.on(*INSPECT, result=Result(0, "false 0 0 2026-01-01"))
    out = service.kill_task("app-stable", configuration=CONFIG)
    assert out["service"] == "pl-ci-app-green"
    ps = [c for c in fake.calls if c.argv[: len(PS)] == PS]
    assert ps and any("pl-ci-app-green" in arg for arg in ps[0].argv)


def test_kill_task_is_confirmed_when_the_container_is_gone(fake: FakeExecutor) -> None:
    killed: list[str] = []
    fake.on(*PS, result=lambda c: Result(0, "" if killed else f"{C1} pl-ci-app-stable.1\n"))
    fake.on("docker", "kill", result=lambda c: killed.append(c.argv[-1]) or Result(0))
    fake.on(*INSPECT, result=Result(0, "false 0 0 2026-01-01"))
    out = service.kill_task("app-stable", configuration=CONFIG)
    assert killed == [C1]
    assert out["confirmed"] is True and out["service"] == "pl-ci-app-stable"
    assert any(
        c.argv[:2] == ("docker", "ps") and "label=com.docker.swarm.service.name=pl-ci-app-stable" in c.argv for c in fake.calls
    )


def test_kill_task_that_did_nothing_fails(fake: FakeExecutor) -> None:
    running(fake, [C1])  # the container is still listed after the kill
    fake.on(*INSPECT, result=Result(0, "true 42 0 2026-01-01"))
    with pytest.raises(ActivityFailed, match="stopped: not so"):
        service.kill_task("app-stable", configuration=CONFIG)


def test_kill_task_without_a_task_fails(fake: FakeExecutor) -> None:
    running(fake, [])
    with pytest.raises(ActivityFailed, match="no running container"):
        service.kill_task("app-stable", configuration=CONFIG)
    assert not fake.mutating()


# --- stop a service -----------------------------------------------------------------


def test_stop_service_that_keeps_running_fails(fake: FakeExecutor) -> None:
    # the target's read of the environment's services (one `docker service ls`, by its label)
    fake.on("docker", "service", "ls", result=Result(0, '{"Name": "pl-ci-db", "Replicas": "1/1"}\n'))
    running(fake, [C1])
    with pytest.raises(ActivityFailed, match="db stopped"):
        service.stop_service("db", configuration=CONFIG)
    assert ("docker", "service", "update", "--detach", "--quiet", "--replicas", "0", "pl-ci-db") in [c.argv for c in fake.calls]


# --- kill the edge --------------------------------------------------------------------


def test_kill_edge_confirmed_by_a_restart(fake: FakeExecutor) -> None:
    states = iter(["true 100 0 t0", "true 200 1 t1"])
    fake.on(*INSPECT, result=lambda c: Result(0, next(states)))
    out = edge.kill_edge(configuration=CONFIG)
    assert ("kill", "-KILL", "100") in [c.argv for c in fake.calls]
    assert out["confirmed"] and out["pid"] == 100


def test_kill_edge_that_did_not_die_fails(fake: FakeExecutor) -> None:
    fake.on(*INSPECT, result=Result(0, "true 100 0 t0"))  # same pid, same start, no restart
    with pytest.raises(ActivityFailed, match="died: not so"):
        edge.kill_edge(configuration=CONFIG)


# --- network ---------------------------------------------------------------------------


def netns(fake: FakeExecutor, qdisc: str, rules: str, netem: bool = True) -> None:
    running(fake, [C1])
    fake.on(*INSPECT, result=Result(0, "true 4242 0 t0"))
    fake.on("nsenter", "-t", "4242", "-n", "ip", result=Result(0, "1: lo: <LOOPBACK>\n1568: eth0@if1569: <UP>\n"))
    fake.on("nsenter", "-t", "4242", "-n", "tc", "-s", result=Result(0, qdisc))
    fake.on("nsenter", "-t", "4242", "-n", "iptables", "-w", "-S", result=Result(0, rules))
    if not netem:

        def refuse(c: Command) -> Result:
            return Result(2, "", "Error: Specified qdisc kind is unknown.") if "netem" in c.argv else Result(0)

        fake.on("nsenter", "-t", "4242", "-n", "tc", "qdisc", "replace", result=refuse)


def test_latency_confirmed_by_qdisc_and_rule(fake: FakeExecutor) -> None:
    netns(fake, "qdisc netem 8001: root refcnt 2 limit 1000 delay 200ms", "-A INPUT ! -i lo ... pipeline-chaos -j DROP")
    out = network.add_latency("app-stable", configuration=CONFIG)
    assert out["shaping"] == "netem" and out["devices"] == ["eth0"]
    lines = fake.lines()
    assert "nsenter -t 4242 -n tc qdisc replace dev eth0 root netem delay 200ms" in lines
    assert any("--probability 0.0500" in line and "pipeline-chaos" in line for line in lines)


def test_latency_falls_back_to_tbf_without_netem(fake: FakeExecutor) -> None:
    netns(fake, "qdisc tbf 8002: root rate 256Kbit", "-A INPUT pipeline-chaos", netem=False)
    assert network.add_latency("app-stable", configuration=CONFIG)["shaping"] == "tbf"


def test_latency_that_did_not_take_fails(fake: FakeExecutor) -> None:
    netns(fake, "qdisc noqueue 0: root refcnt 2", "-P INPUT ACCEPT")
    with pytest.raises(ActivityFailed, match="no netem qdisc on eth0"):
        network.add_latency("app-stable", configuration=CONFIG)


def test_partition_that_did_not_take_fails(fake: FakeExecutor) -> None:
    netns(fake, "", "-P INPUT ACCEPT\n-P OUTPUT ACCEPT")
    with pytest.raises(ActivityFailed, match="is not in its packet filter"):
        network.partition("app-stable", configuration=CONFIG)


def test_partition_then_heal(fake: FakeExecutor) -> None:
    cut = (
        "-A INPUT ! -i lo -m comment --comment pipeline-chaos -j DROP\n"
        "-A OUTPUT ! -o lo -m comment --comment pipeline-chaos -j DROP"
    )
    rules = [cut]
    netns(fake, "", "")
    fake.on("nsenter", "-t", "4242", "-n", "iptables", "-w", "-S", result=lambda c: Result(0, rules[-1]))
    assert network.partition("app-stable", configuration=CONFIG)["confirmed"]
    rules.append("-P INPUT ACCEPT")
    assert network.heal("app-stable", configuration=CONFIG)["healed"] is True
    assert sum(1 for c in fake.calls if "-D" in c.argv) == 2


# --- CPU and disk ------------------------------------------------------------------------


def test_cpu_burn_that_does_not_run_fails(fake: FakeExecutor) -> None:
    running(fake, [C1])
    fake.on("docker", "exec", C1, "sh", result=Result(0, "0\n"))
    with pytest.raises(ActivityFailed, match="busy loops"):
        stress.burn_cpu("app-stable", configuration=CONFIG)


def test_cpu_burn_confirmed_by_its_processes(fake: FakeExecutor) -> None:
    running(fake, [C1])
    fake.on("docker", "exec", C1, "sh", result=Result(0, "2\n"))
    assert stress.burn_cpu("app-stable", workers=2, seconds=5, configuration=CONFIG)["workers"] == 2
    assert any("timeout 5 sh -c" in " ".join(c.argv) for c in fake.calls)


def test_fill_disk_refuses_an_unbounded_file_system(fake: FakeExecutor) -> None:
    running(fake, [C1])
    fake.on("docker", "exec", C1, "sh", result=Result(0, "30% 263174212\n"))
    with pytest.raises(ActivityFailed, match="not a bounded volume"):
        disk.fill_disk("app-stable", configuration=CONFIG)
    assert not any("dd" in " ".join(c.argv) for c in fake.calls)


def test_fill_disk_that_stays_empty_fails(fake: FakeExecutor) -> None:
    running(fake, [C1])
    fake.on("docker", "exec", C1, "sh", result=Result(0, "3% 65536\n"))
    with pytest.raises(ActivityFailed, match="only 3% used"):
        disk.fill_disk("app-stable", configuration=CONFIG)


def test_fill_disk_confirmed_by_df(fake: FakeExecutor) -> None:
    usage = iter(["1% 65536", "100% 65536"])
    running(fake, [C1])
    fake.on("docker", "exec", C1, "sh", result=lambda c: Result(0, next(usage)) if "df" in c.argv[-1] else Result(0))
    assert disk.fill_disk("app-stable", configuration=CONFIG)["used_percent"] == 100


# --- the guard ------------------------------------------------------------------------------


def test_an_environment_that_forbids_chaos_is_never_touched(
    fake: FakeExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "environments" / "prod").mkdir(parents=True)
    (tmp_path / "environments" / "prod" / "env.yaml").write_text("chaos_allowed: false\n")
    monkeypatch.setenv("PIPELINE_ROOT", str(tmp_path))
    with pytest.raises(ActivityFailed, match="does not allow chaos"):
        service.kill_task("app-stable", configuration={"pipeline_env": "prod"})
    assert fake.calls == []


def test_app_tasks_get_a_bounded_tmp_on_create_and_on_update() -> None:
    from pipeline.commands.docker import ServiceSpec

    spec = ServiceSpec("s", "img", "net", mounts=["type=tmpfs,dst=/tmp,tmpfs-size=67108864", "type=volume,src=v,dst=/data"])
    create, update = spec.create().argv, spec.update().argv
    assert "type=tmpfs,dst=/tmp,tmpfs-size=67108864" in create
    assert update[update.index("--mount-add") + 1] == "type=tmpfs,dst=/tmp,tmpfs-size=67108864"
    assert "--mount-rm" not in update  # docker applies removals after additions: it would drop the new tmpfs
    assert "type=volume,src=v,dst=/data" not in update  # volumes are never re-mounted by an update


def test_the_process_scan_never_counts_or_kills_itself() -> None:
    from pipeline.commands import faults as fault

    for command in (fault.processes("c", fault.STRESS_MARK), fault.stop_stress("c")):
        script = command.argv[-1]
        assert fault.STRESS_MARK not in script  # its own command line must not match
        assert 'm="${m}' in script
    assert fault.STRESS_MARK in " ".join(fault.stress_cpu("c", 1, 5).argv)
