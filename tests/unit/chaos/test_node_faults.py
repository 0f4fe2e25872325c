"""The node faults of the swarm kind run on the node they name (over SSH, never on this machine),
confirm themselves, and undo what they did; the outage measure of a run."""

from __future__ import annotations

import shlex
from collections.abc import Callable

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosstack.node import actions
from pipeline.chaos.results import longest_outage
from pipeline.commands import Command, Result
from pipeline.commands import faults as fault
from pipeline.testing import FakeExecutor

SWARM = {"pipeline_env": "swarm-local"}  # environments/swarm-local: kind swarm, chaos allowed
PORTS = {"22111": "m1", "22112": "w1", "22113": "w2"}


def nodes(fake: FakeExecutor, answer: Callable[[str, list[str]], Result]) -> list[tuple[str, list[str]]]:
    """Answer every SSH command by (node, remote words); return what ran where."""
    ran: list[tuple[str, list[str]]] = []

    def respond(command: Command) -> Result:
        node = PORTS[command.argv[command.argv.index("-p") + 1]]
        words = shlex.split(command.argv[-1])
        ran.append((node, words))
        return answer(node, words)

    fake.on("ssh", result=respond)
    return ran


def vip_on(holder: str) -> Callable[[str, list[str]], Result | None]:
    def answer(node: str, words: list[str]) -> Result | None:
        if words[:1] == ["ip"]:
            return Result(0, "inet 10.231.0.100/24 scope global secondary eth0" if node == holder else "inet 10.231.0.1/24")
        return None

    return answer


def test_a_partition_cuts_the_standby_edge_off_from_the_other_nodes_on_that_node_only(fake: FakeExecutor) -> None:
    counted: list[int] = [0]

    def answer(node: str, words: list[str]) -> Result:
        held = vip_on("w1")(node, words)
        if held is not None:
            return held
        if words[:3] == ["sudo", "nft", "list"]:
            counted[0] += 1  # the first read sees no dropped packet yet, the second does
            return Result(0, f"ip saddr {{ 10.231.0.11, 10.231.0.12 }} counter packets {counted[0] - 1} bytes 0 drop")
        if words[:3] == ["docker", "node", "ls"]:  # the manager sees every node ready
            return Result(
                0, "\n".join(f'{{"Hostname": "{n}", "Status": "Ready", "Availability": "Active"}}' for n in PORTS.values())
            )
        return Result(0)

    ran = nodes(fake, answer)
    out = actions.partition_node(configuration=SWARM)
    assert out["confirmed"] and out["node"] == "w2" and out["peers"] == ["10.231.0.11", "10.231.0.12"]
    nft = [(node, words) for node, words in ran if words[:2] == ["sudo", "nft"]]
    assert {node for node, _ in nft} == {"w2"}
    rules = [" ".join(words[2:]) for _, words in nft if words[2] == "add" and words[3] == "rule"]
    assert rules == [
        "add rule inet pl_chaos_partition in ip saddr { 10.231.0.11, 10.231.0.12 } counter drop",
        "add rule inet pl_chaos_partition out ip daddr { 10.231.0.11, 10.231.0.12 } counter drop",
    ]
    assert not [c for c in fake.calls if c.argv[:2] == ("sudo", "nft")]  # nothing ran on this machine
    healed = actions.heal_partition(configuration=SWARM)
    assert ("w2", ["sudo", "nft", "delete", "table", "inet", "pl_chaos_partition"]) in ran
    assert healed["healed"] and healed["rebalanced"] == []  # no app service to spread here


def test_a_partition_that_drops_nothing_is_not_confirmed(fake: FakeExecutor) -> None:
    nodes(fake, lambda node, words: vip_on("w1")(node, words) or Result(0, "counter packets 0 bytes 0 drop"))
    with pytest.raises(ActivityFailed, match="dropped: not so"):
        actions.partition_node(configuration=SWARM)


def test_the_managers_engine_comes_back_by_a_timer_set_before_it_stops(fake: FakeExecutor) -> None:
    state = {"engine": "active"}

    def answer(node: str, words: list[str]) -> Result:
        if words[:3] == ["sudo", "systemctl", "stop"]:
            state["engine"] = "inactive"
        if words[:2] == ["systemctl", "is-active"]:
            return Result(0 if state["engine"] == "active" else 3, state["engine"])
        if words[:3] == ["sudo", "systemctl", "start"]:
            state["engine"] = "active"
        return Result(0)

    ran = nodes(fake, answer)
    out = actions.stop_engine_for(configuration=SWARM)
    assert out["confirmed"] and out["node"] == "m1" and out["state"] == "inactive"
    timer = next(i for i, (_, w) in enumerate(ran) if w[:2] == ["sudo", "systemd-run"])
    stop = next(i for i, (_, w) in enumerate(ran) if w[:3] == ["sudo", "systemctl", "stop"])
    kill = next(i for i, (_, w) in enumerate(ran) if w[:3] == ["sudo", "systemctl", "kill"])
    assert timer < kill < stop and "--on-active=10s" in ran[timer][1] and "--signal=KILL" in ran[kill][1]
    assert out["how"] == "kill"
    actions.start_engine(configuration=SWARM)
    assert state["engine"] == "active"
    ran.clear()
    assert actions.stop_engine_for(how="stop", configuration=SWARM)["how"] == "stop"
    assert ran and not any(w[:3] == ["sudo", "systemctl", "kill"] for _, w in ran)
    with pytest.raises(ActivityFailed, match="how: 'pause'"):
        actions.stop_engine_for(how="pause", configuration=SWARM)
    with pytest.raises(ActivityFailed, match="seconds: 0"):
        actions.stop_engine_for(seconds=0, configuration=SWARM)


def test_losing_the_vip_holder_kills_its_container_here_and_waits_until_it_answers_no_more(fake: FakeExecutor) -> None:
    lost: list[str] = []
    nodes(fake, lambda node, words: vip_on("w1")(node, words) or Result(255 if node in lost else 0, "active"))
    fake.on("docker", "kill", result=lambda command: (lost.append("w1"), Result(0))[1])
    out = actions.lose_node(configuration=SWARM)
    assert out["node"] == "w1" and out["how"] == "kill"
    assert ("docker", "kill", "--signal", "KILL", "pl-swarm-local-w1") in [c.argv for c in fake.calls]
    with pytest.raises(ActivityFailed, match="the manager the pipeline talks to"):
        actions.lose_node(node="m1", configuration=SWARM)


def test_a_node_named_neither_by_name_nor_by_role_is_one_line(fake: FakeExecutor) -> None:
    nodes(fake, lambda node, words: Result(0))
    with pytest.raises(ActivityFailed, match="node 'w7': not a node of swarm-local"):
        actions.partition_node(node="w7", configuration=SWARM)


def test_the_partition_commands_are_one_table_of_their_own() -> None:
    commands = fault.partition(["10.0.0.1"])
    assert all(c.argv[:2] == ("sudo", "nft") for c in commands)
    assert {c.argv[5] for c in commands} == {fault.PARTITION_TABLE}
    assert fault.heal_partition().argv[-3:] == ("table", "inet", fault.PARTITION_TABLE)


def test_the_partition_also_cuts_what_the_nodes_containers_send_and_receive() -> None:
    # input/output hooks see only the node's own sockets: a published port's DNAT to a container and
    # the overlay's forwarded packets would pass (an edge still reached by the relay on another node)
    chains = [c.argv[-1] for c in fault.partition(["10.0.0.1"]) if c.argv[3] == "chain"]
    assert len(chains) == 2
    assert "hook prerouting" in chains[0] and "hook postrouting" in chains[1]
    # before Docker's DNAT (priority -100), so the published port is dropped by its source
    assert all(int(chain.split("priority ")[1].split(" ")[0]) < -100 for chain in chains)


@pytest.mark.parametrize(
    ("failed_at", "longest"),
    [
        ([], None),
        ([5.0], 0.0),
        ([1.0, 1.2, 1.9, 2.5], 1.5),  # one stretch: each failure within a second of the last
        ([1.0, 1.5, 10.0, 10.2, 10.4, 13.0], 0.5),  # two stretches and a lone failure: the longest
        ([3.0, 1.0, 2.0, 1.5, 2.5], 2.0),  # any order
    ],
)
def test_the_longest_outage_is_the_longest_stretch_of_failures(failed_at: list[float], longest: float | None) -> None:
    assert longest_outage(failed_at) == longest


def test_an_edge_upgrade_rolls_every_replica_through_the_manager_and_is_confirmed_by_new_containers(
    fake: FakeExecutor,
) -> None:
    rolled: list[bool] = []

    def answer(node: str, words: list[str]) -> Result:
        if words[:3] == ["docker", "service", "update"]:
            rolled.append(True)
            return Result(0)
        if words[:2] == ["docker", "ps"]:  # each edge node's edge task: another container once rolled
            return Result(0, f"{node}-{'new' if rolled else 'old'}\n")
        return Result(0)

    ran = nodes(fake, answer)
    out = actions.roll_edge(configuration=SWARM)
    updates = [(node, words) for node, words in ran if words[:3] == ["docker", "service", "update"]]
    assert updates == [("m1", ["docker", "service", "update", "--quiet", "--force", "pl-swarm-local-edge"])]
    assert out["confirmed"] and out["replaced"] == {"w1": "w1-old", "w2": "w2-old"}


def test_an_edge_upgrade_with_an_edge_node_that_runs_none_is_refused_before_anything_rolls(fake: FakeExecutor) -> None:
    ran = nodes(
        fake, lambda node, words: Result(0, "" if node == "w2" else "c1\n") if words[:2] == ["docker", "ps"] else Result(0)
    )
    with pytest.raises(ActivityFailed, match="no edge task runs on w2"):
        actions.roll_edge(configuration=SWARM)
    assert not [w for _, w in ran if w[:3] == ["docker", "service", "update"]]
