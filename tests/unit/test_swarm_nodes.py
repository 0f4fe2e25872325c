"""The swarm's hosts: an inventory of data, the identity guard, the stand-in cluster's commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.commands import Result
from pipeline.environment import load_environment
from pipeline.errors import ForeignSwarm, VmUnreachable
from pipeline.project import Project
from pipeline.targets.swarm_local import LocalCluster
from pipeline.targets.swarm_nodes import EngineSwarm, SwarmNodes, foreign
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env():  # type: ignore[no-untyped-def]
    return load_environment(ROOT, "swarm-local")


def nodes(env, tmp_path: Path, ex: FakeExecutor | None = None) -> SwarmNodes:  # type: ignore[no-untyped-def]
    return SwarmNodes(env, ex or FakeExecutor(), Project(ROOT, tmp_path), lambda _m: None, login_user="admin")


def test_the_inventory_is_data_with_groups_addresses_labels_and_vrrp(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(nodes(env, tmp_path).inventory())["all"]["children"]
    assert set(data) == {"swarm_managers", "swarm_workers", "swarm_edge", "swarm_registry"}
    assert list(data["swarm_managers"]["hosts"]) == ["m1"] and list(data["swarm_workers"]["hosts"]) == ["w1", "w2"]
    assert list(data["swarm_edge"]["hosts"]) == ["w1", "w2"] and list(data["swarm_registry"]["hosts"]) == ["m1"]
    m1, w1, w2 = (data["swarm_managers"]["hosts"]["m1"], data["swarm_edge"]["hosts"]["w1"], data["swarm_edge"]["hosts"]["w2"])
    assert (m1["ansible_host"], m1["ansible_port"], m1["swarm_address"]) == ("127.0.0.1", 22111, "10.231.0.11")
    # every node carries its own name (pl.host, what the app's tracks are spread over); no swarm.app_nodes: the
    # workers carry pl.app, the manager keeps the control plane and the data
    assert m1["swarm_labels"] == {"pl.db": "true", "pl.cache": "true", "pl.host": "m1"}
    assert w1["swarm_labels"] == {"pl.edge": "true", "pl.app": "true", "pl.host": "w1"} and "keepalived_address" not in m1
    assert (w1["keepalived_peers"], w2["keepalived_peers"]) == (["10.231.0.13"], ["10.231.0.12"])
    assert w1["keepalived_cluster_peers"] == ["10.231.0.11", "10.231.0.13"]  # every other node, managers too
    assert w1["keepalived_priority"] > w2["keepalived_priority"]


def test_a_hostile_value_stays_inside_its_one_value(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = nodes(env, tmp_path).inventory(lambda n: {"docker_cgroup_parent": "x\nansible_connection: local"})
    m1 = yaml.safe_load(text)["all"]["children"]["swarm_managers"]["hosts"]["m1"]
    assert m1["ansible_connection"] == "ssh" and m1["docker_cgroup_parent"] == "x\nansible_connection: local"


def test_the_variables_keep_dockers_rules_and_open_only_the_registry_forward(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    found = nodes(env, tmp_path).variables({"common_ssh_port": 22})
    assert found["common_firewall_enabled"] is False  # the common role's table would flush Docker's rules
    assert found["common_ssh_tcp_forwarding"] == "local" and found["common_ssh_permit_open"] == ["127.0.0.1:5000"]
    assert found["docker_insecure_registries"] == ["10.231.0.11:5000"]
    assert (found["keepalived_vip"], found["keepalived_router_id"]) == ("10.231.0.100", 51)
    assert found["common_ssh_port"] == 22


SWARM = {
    "LocalNodeState": "active",
    "Cluster": {"ID": "abc123def456ghi"},
    "RemoteManagers": [{"NodeID": "n1", "Addr": "10.231.0.11:2377"}],
}


def test_the_guard_tells_our_swarm_from_another(env) -> None:  # type: ignore[no-untyped-def]
    swarm = env.swarm
    m1, w1 = swarm.node("m1"), swarm.node("w1")
    ours = EngineSwarm.parse(json.dumps(SWARM))
    assert foreign(swarm, m1, ours, "abc123def456ghi") is None
    assert foreign(swarm, m1, ours, None) is None  # before a record: its managers are ours
    assert foreign(swarm, m1, EngineSwarm.parse(""), "abc123def456ghi") is None  # no engine yet
    assert foreign(swarm, m1, EngineSwarm.parse(json.dumps({"LocalNodeState": "inactive"})), None) is None
    other = EngineSwarm.parse(json.dumps({**SWARM, "Cluster": {"ID": "zzz999"}}))
    assert (
        foreign(swarm, m1, other, "abc123def456ghi") == "m1 (10.231.0.11) is in swarm zzz999, not this environment's abc123def456"
    )
    stranger = EngineSwarm.parse(json.dumps({"LocalNodeState": "active", "RemoteManagers": [{"Addr": "10.9.9.9:2377"}]}))
    assert "managed by 10.9.9.9:2377" in (foreign(swarm, w1, stranger, None) or "")


def test_a_node_of_another_swarm_stops_up_before_any_change(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stranger = json.dumps({"LocalNodeState": "active", "RemoteManagers": [{"Addr": "10.9.9.9:2377"}]})

    def info(command):  # type: ignore[no-untyped-def]
        port = command.argv[command.argv.index("-p") + 1]
        return Result(0, stranger if port == "22113" else json.dumps(SWARM))

    ex = FakeExecutor().on("ssh", result=info)
    with pytest.raises(ForeignSwarm) as caught:
        nodes(env, tmp_path, ex).apply({})
    assert caught.value.exit_code == 65 and caught.value.message.startswith("swarm node w2 (10.231.0.13)")
    assert not [c for c in ex.calls if "ansible-playbook" in c.argv[0]]
    assert not [c for c in ex.calls if c.mutates]


def test_an_unreachable_node_is_named_by_its_key(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def probe(command):  # type: ignore[no-untyped-def]
        port = command.argv[command.argv.index("-p") + 1]
        return Result(255, "", "ssh: connect to host 127.0.0.1 port 22112: Connection refused") if port == "22112" else Result(0)

    with pytest.raises(VmUnreachable) as caught:
        nodes(env, tmp_path, FakeExecutor().on("ssh", result=probe)).reach()
    assert caught.value.message.startswith("swarm.workers.0 (w1): admin@127.0.0.1:22112 does not answer over SSH")


def test_the_stand_in_nodes_run_an_engine_without_privileged(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ex = (
        FakeExecutor().on("docker", "network", "inspect", result=Result(1)).on("docker", "container", "inspect", result=Result(1))
    )
    cluster = LocalCluster(env, ex, Project(ROOT, tmp_path), lambda _m: None)
    run = cluster.run_command(env.swarm.node("w1"), "pl-vm/host:x")
    argv = list(run.argv)
    assert "--privileged" not in argv
    assert argv[argv.index("--cap-drop") + 1] == "SYS_RESOURCE" and argv[argv.index("--ip") + 1] == "10.231.0.12"
    assert "127.0.0.1:22112:22" in argv and "pl-swarm-local-w1-engine:/var/lib/docker" in argv
    assert argv[argv.index("--network") + 1] == "pl-swarm-local-nodes"
    cluster.ensure_network()
    create = [c for c in ex.calls if c.argv[:3] == ("docker", "network", "create")]
    assert create and "10.231.0.0/24" in create[0].argv and "10.231.0.1" in create[0].argv


def test_app_nodes_name_where_the_app_runs_and_only_those_carry_its_label(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    swarm = env.swarm.model_copy(update={"app_nodes": ["m1", "w2"]})
    data = yaml.safe_load(nodes(env.model_copy(update={"swarm": swarm}), tmp_path).inventory())["all"]["children"]
    labelled = {
        name: host["swarm_labels"].get("pl.app") for group in data.values() for name, host in (group.get("hosts") or {}).items()
    }
    assert labelled == {"m1": "true", "w1": None, "w2": "true"}


def _node_container(pub: Path, running: bool = True) -> Result:
    mount = {"Type": "bind", "Source": str(pub), "Destination": "/etc/ssh/authorized_keys/admin"}
    return Result(0, json.dumps([{"State": {"Running": running}, "Mounts": [mount]}]))


def _cluster(env, tmp_path: Path, container: Result) -> tuple[LocalCluster, FakeExecutor]:  # type: ignore[no-untyped-def]
    ex = FakeExecutor().on("docker", "container", "inspect", result=container)
    ex.on("docker", "network", "inspect", result=Result(0, json.dumps([{"Subnet": "10.231.0.0/24"}])))
    return LocalCluster(env, ex, Project(ROOT, tmp_path), lambda _m: None), ex


def test_the_key_is_a_mount_that_fails_when_missing_never_a_volume_docker_fills_with_a_directory(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster, _ex = _cluster(env, tmp_path, Result(1))
    argv = list(cluster.run_command(env.swarm.node("m1"), "pl-swarm/node:x").argv)
    pub = cluster.key.with_suffix(".pub")
    assert argv[argv.index("--mount") + 1] == f"type=bind,source={pub},target=/etc/ssh/authorized_keys/admin,readonly"
    assert not any(str(pub) in a for i, a in enumerate(argv) if argv[i - 1] == "--volume")


def test_nodes_docker_revived_before_this_checkout_had_a_key_are_made_again_with_the_new_one(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster, ex = _cluster(env, tmp_path, Result(0))
    cluster.dir.mkdir(parents=True)
    cluster.key.with_suffix(".pub").mkdir()  # what Docker made where the bound key was missing
    ex.on("docker", "container", "inspect", result=_node_container(cluster.key.with_suffix(".pub")))
    cluster.provision()
    assert not cluster.key.with_suffix(".pub").is_dir()
    assert any(c.argv[0] == "ssh-keygen" for c in ex.calls)
    removed = [c.argv[-1] for c in ex.calls if c.argv[:3] == ("docker", "rm", "--force")]
    started = [c.argv[c.argv.index("--name") + 1] for c in ex.calls if c.argv[:2] == ("docker", "run")]
    assert removed == started == ["pl-swarm-local-m1", "pl-swarm-local-w1", "pl-swarm-local-w2"]
    assert not any(c.argv[:3] == ("docker", "volume", "rm") for c in ex.calls)  # the engines' swarm state is kept


def test_a_running_node_of_this_checkout_is_kept_and_another_checkouts_is_made_again(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cluster, ex = _cluster(env, tmp_path, Result(0))
    cluster.dir.mkdir(parents=True)
    cluster.key.write_text("private\n")
    cluster.key.with_suffix(".pub").write_text("ssh-ed25519 AAAA pipeline-swarm-local\n")
    ex.on("docker", "container", "inspect", result=_node_container(cluster.key.with_suffix(".pub")))
    cluster.provision()
    assert not [c for c in ex.calls if c.mutates and c.argv[:2] in (("docker", "rm"), ("docker", "run"), ("ssh-keygen", "-q"))]
    ex.calls.clear()
    ex.on("docker", "container", "inspect", result=_node_container(tmp_path / "elsewhere" / "id_ed25519.pub"))
    cluster.provision()
    assert [c.argv[-1] for c in ex.calls if c.argv[:3] == ("docker", "rm", "--force")] == [
        "pl-swarm-local-m1", "pl-swarm-local-w1", "pl-swarm-local-w2",
    ]  # fmt: skip
    assert cluster.key.read_text() == "private\n"  # a whole pair is never made again
