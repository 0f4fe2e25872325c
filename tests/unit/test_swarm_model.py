"""The swarm: section: every mistake is one line naming the key, with a hint, before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.environment import load_environment
from pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def swarm_local() -> dict:
    return yaml.safe_load((ROOT / "environments" / "swarm-local" / "env.yaml").read_text())


def load(tmp_path: Path, data: dict) -> object:
    path = tmp_path / "environments" / "bad" / "env.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return load_environment(tmp_path, "bad")


def refused(tmp_path: Path, data: dict) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, data)
    return caught.value


def test_swarm_local_is_valid_and_names_its_parts() -> None:
    env = load_environment(ROOT, "swarm-local")
    assert env.swarm is not None
    assert [n.name for n in env.swarm.nodes] == ["m1", "w1", "w2"]
    assert env.swarm.manager.name == "m1"
    assert env.swarm.role_node("db") == "m1" and env.swarm.role_node("cache") == "m1"
    assert env.swarm.registry_node.name == "m1"
    assert env.swarm.manager.login(env.swarm.ssh) == ("127.0.0.1", 22111)


def _nodes(data: dict) -> dict:
    return data["swarm"]


@pytest.mark.parametrize(
    ("change", "where", "hint"),
    [
        (lambda s: s.update(managers=[]), "swarm.managers: List should have at least 1 item", ""),
        (
            lambda s: s.update(managers=[*s["managers"], {"name": "m2", "address": "10.231.0.14", "ssh_port": 22114}]),
            "swarm.managers: 2 managers: an even count survives no more losses than one fewer",
            "list 1, 3 or 5 managers",
        ),
        (
            lambda s: s["workers"][1].update(name="w1"),
            "swarm.workers.1.name: w1: name w1 is listed twice (also workers.0 w1)",
            "each node once",
        ),
        (
            lambda s: s["workers"][1].update(address="10.231.0.12"),
            "swarm.workers.1.address: w2: address 10.231.0.12 is listed twice (also workers.0 w1)",
            "each node once",
        ),
        (
            lambda s: s["workers"][0].update(ssh_port=22111),
            "swarm.workers.0.ssh_port: w1: ssh 127.0.0.1:22111 is listed twice (also managers.0 m1)",
            "each node once",
        ),
        (lambda s: s.update(edge_nodes=["w1", "w9"]), "swarm.edge_nodes.1: 'w9' is not a node", "nodes: m1, w1, w2"),
        (lambda s: s.update(edge_nodes=["w1", "w1"]), "swarm.edge_nodes: a node is listed twice", "each edge node once"),
        (
            lambda s: s.update(edge_nodes=["w1"]),
            "swarm.edge_nodes: 1 edge node: a redundant edge needs at least two",
            "list a second node, or set swarm.redundant_edge: false",
        ),
        (lambda s: s.pop("vip"), "swarm.vip: missing: a redundant edge needs a virtual IP", "add vip.address"),
        (
            lambda s: s.update(redundant_edge=False),
            "swarm.edge_nodes: redundant_edge is false: one edge node",
            "list one",
        ),
        (
            lambda s: s["vip"].update(address="10.231.0.12"),
            "swarm.vip.address: 10.231.0.12 is a node's own address",
            "pick a free address",
        ),
        (
            lambda s: s["vip"].update(address="10.9.0.1"),
            "swarm.vip.address: 10.9.0.1 is outside swarm.local.subnet 10.231.0.0/24",
            "one in the subnet",
        ),
        (lambda s: s.update(db_node="x1"), "swarm.db_node: 'x1' is not a node", "nodes: m1, w1, w2"),
        (
            lambda s: s.update(replica_port=7946),
            "swarm.replica_port: 7946 is taken on the nodes (swarm gossip)",
            "pick a free port",
        ),
        (
            lambda s: s.update(replica_port=8080),
            "swarm.replica_port: 8080 is edge.port: the relay on each edge node takes that port",
            "give the edge replicas a port of their own",
        ),
        (
            lambda s: s["workers"][0].update(address="10.231.1.12"),
            "swarm.workers.0.address: w1: 10.231.1.12 is not a node address in swarm.local.subnet",
            "an address of the subnet",
        ),
        (
            lambda s: s["workers"][0].pop("ssh_port"),
            "swarm.workers.0.ssh_port: w1: a stand-in node is reached on 127.0.0.1 at a port of its own",
            "set ssh_port",
        ),
        (lambda s: s["workers"][0].update(address="w1.example"), "swarm.workers.0.address: must be an IP address", ""),
        (lambda s: s["workers"][0].update(name="W 1"), "swarm.workers.0.name: must be lowercase letters", ""),
        (lambda s: s["vip"].update(interface="eth0; reboot"), "swarm.vip.interface: must be a network interface name", ""),
        (lambda s: s["workers"][0].update(ssh_host="h\nansible_connection=local"), "swarm.workers.0.ssh_host", ""),
        (
            lambda s: s["ssh"].update(key="/k ansible_connection=local") if "ssh" in s else s.update(ssh={"key": "/k x"}),
            "swarm.ssh.key",
            "",
        ),
        (lambda s: s["local"].update(subnet="10.231.0.1/24"), "swarm.local.subnet: must be a network such as 10.231.0.0/24", ""),
        (lambda s: s.update(manager=[]), "swarm.manager: unknown key", "did you mean 'managers'?"),
        (lambda s: s.update(engine_packages="docker-ce"), "swarm.engine_packages: Input should be 'debian' or 'docker'", ""),
    ],
)
def test_a_swarm_mistake_is_one_line_with_its_key(tmp_path: Path, change, where: str, hint: str) -> None:
    data = swarm_local()
    change(_nodes(data))
    error = refused(tmp_path, data)
    assert error.message.startswith(f"environments/bad/env.yaml: {where}"), error.message
    assert "\n" not in error.message
    if hint:
        assert error.hint is not None and error.hint.startswith(hint), error.hint


def test_a_real_cluster_needs_no_ssh_ports_or_subnet(tmp_path: Path) -> None:
    data = swarm_local()
    data["swarm"] = {
        "managers": [{"name": "m1", "address": "192.0.2.11"}],
        "workers": [{"name": "w1", "address": "192.0.2.12"}, {"name": "w2", "address": "192.0.2.13"}],
        "edge_nodes": ["w1", "w2"],
        "vip": {"address": "192.0.2.100"},
    }
    env = load(tmp_path, data)
    assert env.swarm.node("w2").login(env.swarm.ssh) == ("192.0.2.13", 22)  # type: ignore[attr-defined]


def test_a_swarm_section_on_another_kind_is_refused(tmp_path: Path) -> None:
    data = swarm_local()
    data["target"]["kind"] = "local"
    error = refused(tmp_path, data)
    assert "swarm: a section of kind swarm, but target.kind is local" in error.message


def test_a_cloud_without_vrrp_fronts_the_edges_by_dns(tmp_path: Path) -> None:
    data = swarm_local()
    data["swarm"].pop("vip")
    data["swarm"]["front"] = "dns"
    assert "domain: front: dns needs the name" in refused(tmp_path, data).message
    data["swarm"]["domain"] = "app.example.com"
    env = load(tmp_path, data)
    assert env.swarm.front == "dns" and env.swarm.vip is None  # type: ignore[attr-defined]
    data["swarm"]["vip"] = {"address": "10.231.0.100"}
    assert "swarm.vip: front: dns has no virtual IP" in refused(tmp_path, data).message


@pytest.mark.parametrize(
    ("app_nodes", "words"),
    [(["w9"], "swarm.app_nodes.0: 'w9' is not a node"), (["w1", "w1"], "swarm.app_nodes: a node is listed twice")],
)
def test_app_nodes_must_be_nodes_listed_once(tmp_path: Path, app_nodes: list[str], words: str) -> None:
    body = (ROOT / "environments" / "swarm-local" / "env.yaml").read_text()
    body = body.replace("  db_node: m1\n", f"  db_node: m1\n  app_nodes: {json.dumps(app_nodes)}\n")
    path = tmp_path / "environments" / "bad" / "env.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(body)
    with pytest.raises(ConfigError) as caught:
        load_environment(tmp_path, "bad")
    assert words in caught.value.message
