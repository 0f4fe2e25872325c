"""The swarm target against FakeExecutor: the local kind's commands, run on the right node."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from pipeline.chaos.runner import ChaosRunner
from pipeline.commands import Command, Result
from pipeline.edge import FRESH_SLOTS, Weights
from pipeline.environment import load_environment
from pipeline.errors import NotReady
from pipeline.project import Project
from pipeline.records.lock import LockInfo
from pipeline.targets import target_for
from pipeline.targets.base import Status, TrackStatus
from pipeline.targets.local import LocalTarget
from pipeline.targets.swarm import SwarmTarget, crowding
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]
PORTS = {"22111": "m1", "22112": "w1", "22113": "w2"}


def node_of(command: Command) -> str | None:
    """The node an ssh command goes to (by its port), None for a command run here."""
    if command.argv[0] != "ssh" or "-p" not in command.argv:
        return None
    return PORTS[command.argv[command.argv.index("-p") + 1]]


def remote_words(command: Command) -> list[str]:
    return shlex.split(command.argv[-1])


def make(ex: FakeExecutor, tmp_path: Path) -> SwarmTarget:
    env = load_environment(ROOT, "swarm-local")
    target = target_for(env, ex, Project(ROOT, tmp_path), lambda _m: None)
    assert isinstance(target, SwarmTarget)
    return target


def test_the_stacks_docker_commands_run_on_the_first_manager(tmp_path: Path) -> None:
    ex = FakeExecutor()
    target = make(ex, tmp_path)
    target.release_lock()
    released = [c for c in ex.calls if "config rm" in c.argv[-1]]
    assert released and node_of(released[0]) == "m1"
    assert remote_words(released[0]) == ["docker", "config", "rm", "pl-swarm-local-lock"]
    assert target.url == target.traffic_url() == "http://10.231.0.100:8080"  # load and chaos go to the virtual IP


def test_a_split_reaches_every_edge_replica_and_a_silent_one_is_named(tmp_path: Path) -> None:
    ex = FakeExecutor()
    target = make(ex, tmp_path)
    target.edge.set_weights(Weights(25, 25), None, FRESH_SLOTS)
    applied = [node_of(c) for c in ex.calls if "edge-apply" in c.argv[-1]]
    assert sorted(applied) == ["w1", "w2"]

    def w2_down(command: Command) -> Result:
        return (
            Result(255, "", "ssh: connect to host 127.0.0.1 port 22113: Connection refused")
            if node_of(command) == "w2"
            else Result(0)
        )

    down = FakeExecutor().on("ssh", result=w2_down)
    with pytest.raises(NotReady) as caught:
        make(down, tmp_path).edge.set_weights(Weights(0), None, FRESH_SLOTS)
    assert "reached 1 of 2 edges; not w2" in caught.value.message
    assert [node_of(c) for c in down.calls if "edge-apply" in c.argv[-1]][:1] == ["w1"]  # w1 still got the rollback


def test_flags_are_written_on_every_node(tmp_path: Path) -> None:
    ex = FakeExecutor()
    delivery = make(ex, tmp_path).flag_delivery()
    plan = delivery.plan('{"flags": {}}')
    assert [node_of(c) for c in plan] == ["m1", "w1", "w2"]
    assert delivery.mount == "type=bind,src=/var/lib/pipeline/flags/pl-swarm-local,dst=/flags,readonly"


def test_the_database_and_the_cache_are_pinned_to_their_labelled_nodes(tmp_path: Path) -> None:
    def answer(command: Command) -> Result:
        if "--entrypoint id" in command.argv[-1]:
            return Result(0, "999\n")
        return Result(1) if "inspect" in command.argv[-1] else Result(0)  # nothing there yet: made

    target = make(FakeExecutor().on("ssh", result=answer), tmp_path)
    db = target._db_spec("10.231.0.11:5000/pipeline/postgres:x", {"db_password": "p"})
    assert "node.labels.pl.db==true" in db.constraints
    assert "node.labels.pl.cache==true" in target._cache_spec("10.231.0.11:5000/pipeline/redis:x").constraints


def test_an_image_is_copied_to_the_cluster_registry_through_a_forward(tmp_path: Path) -> None:
    ex = FakeExecutor()
    ref = make(ex, tmp_path).mirror("127.0.0.1:5000/refapp:abc")
    assert ref == "10.231.0.11:5000/refapp:abc"
    steps = [c for c in ex.calls if c.argv[0] == "docker" or "-O" in c.argv]
    verbs = [c.argv[c.argv.index("-O") + 1] if "-O" in c.argv else c.argv[1] for c in steps]
    assert verbs == ["forward", "tag", "push", "image", "cancel"]
    forward = steps[0]
    assert node_of(forward) == "m1" and forward.argv[forward.argv.index("-L") + 1].endswith(":127.0.0.1:5000")
    local = steps[1].argv[3]
    assert local.startswith("127.0.0.1:") and local.endswith("/refapp:abc") and not local.startswith("127.0.0.1:5000/")
    assert all(node_of(c) is None for c in steps[1:4])  # pushed by this machine's engine


def test_the_engine_is_never_read_through_a_socket_of_this_machine(tmp_path: Path) -> None:
    target = make(FakeExecutor(), tmp_path)
    assert not target.endpoint.here and not target.reads.available


def test_the_edge_is_a_global_service_on_the_edge_nodes_publishing_on_each_node(tmp_path: Path) -> None:
    spec = make(FakeExecutor(), tmp_path)._edge_spec("10.231.0.11:5000/pipeline/edge:x")
    argv = list(spec.create().argv)
    assert argv[argv.index("--mode") + 1] == "global" and "--replicas" not in argv
    # the replica's relay listener on swarm.replica_port; edge.port (8080) belongs to the relay on the node
    assert argv[argv.index("--publish") + 1] == "mode=host,target=8081,published=18080,protocol=tcp"
    assert spec.published() == [18080]
    assert argv[argv.index("--constraint") + 1] == "node.labels.pl.edge==true"
    assert argv[argv.index("--update-order") + 1] == "stop-first"  # one task holds the host port
    assert "--replicas" not in spec.update().argv
    for made in (argv, list(spec.update().argv)):  # a crashed edge runs again at once, on create and update
        assert made[made.index("--restart-delay") + 1] == "250ms"


def tasks_on(containers: dict[str, list[str]], dead: set[str]) -> FakeExecutor:
    """Nodes whose edge task is, in turn, each container of ``containers[node]``; exec into one in
    ``dead`` (or in none) fails as a container swarm replaced does."""
    known = {name for names in containers.values() for name in names} - dead

    def answer(command: Command) -> Result:
        words = remote_words(command)
        node = node_of(command) or ""
        if words[:2] == ["docker", "ps"]:
            found = containers.get(node, [])
            return Result(0, (found.pop(0) if len(found) > 1 else found[0]) + "\n") if found else Result(0, "")
        if words[:2] == ["docker", "exec"]:
            name = next(w for w in words[2:] if not w.startswith("-"))
            return Result(0) if name in known else Result(1, "", f"Error response from daemon: No such container: {name}")
        return Result(0)

    return FakeExecutor().on("ssh", result=answer)


def test_an_edge_task_swarm_replaced_is_found_again_and_gets_the_split(tmp_path: Path) -> None:
    ex = tasks_on({"w1": ["edge.w1.old", "edge.w1.new"], "w2": ["edge.w2.a"]}, dead={"edge.w1.old"})
    target = make(ex, tmp_path)
    target.edge.set_weights(Weights(10), None, FRESH_SLOTS)
    applied = [(node_of(c), remote_words(c)[3]) for c in ex.calls if "edge-apply" in c.argv[-1]]
    assert ("w1", "edge.w1.new") in applied and ("w2", "edge.w2.a") in applied
    on_w1 = [remote_words(c)[2:4] for c in ex.calls if node_of(c) == "w1" and remote_words(c)[:2] == ["docker", "exec"]]
    used = [next(w for w in words if not w.startswith("-")) for words in on_w1]
    assert used[0] == "edge.w1.old" and set(used[1:]) == {"edge.w1.new"}  # tried once, then the new task


def test_an_edge_node_without_a_task_is_named_and_readiness_asks_one_that_runs(tmp_path: Path) -> None:
    ex = tasks_on({"w2": ["edge.w2.a"]}, dead=set())
    target = make(ex, tmp_path)
    with pytest.raises(NotReady) as caught:
        target.edge.set_weights(Weights(0), None, FRESH_SLOTS)
    assert "not w1" in caught.value.message
    assert target.edges.running_on() == {"w1": False, "w2": True}
    at, container = target.edge_at()
    assert container == "edge.w2.a" and at is target.node_ex["w2"]


# --- the nodes one by one (chaos and planned drains) -------------------------------------------
def holding(holder: dict[str, str]) -> FakeExecutor:
    """Nodes whose `ip addr` shows the virtual IP on ``holder["node"]`` (which can change)."""

    def answer(command: Command) -> Result:
        words = remote_words(command) if command.argv[0] == "ssh" else []
        if words[:3] == ["ip", "-4", "-o"]:
            shown = "2: eth0    inet 10.231.0.12/24 brd 10.231.0.255 scope global eth0"
            if node_of(command) == holder["node"]:
                shown += "\n2: eth0    inet 10.231.0.100/24 scope global secondary eth0"
            return Result(0, shown)
        if words[:2] == ["sudo", "touch"]:
            holder["node"] = "w2"  # keepalived's check fails on w1: w2 takes the address
        if words[:2] == ["docker", "ps"]:
            return Result(0, "pl-swarm-local-edge.1.abc\n")  # an edge task runs on every node
        return Result(0)

    return FakeExecutor().on("ssh", result=answer)


def test_the_vip_holder_is_the_edge_node_whose_interface_has_the_address(tmp_path: Path) -> None:
    holder = {"node": "w2"}
    assert make(holding(holder), tmp_path).vip_holder() == "w2"
    holder["node"] = ""
    assert make(holding(holder), tmp_path).vip_holder() is None  # "10.231.0.100" alone is no holder


def test_a_planned_drain_hands_the_virtual_ip_over_before_swarm_moves_a_task(tmp_path: Path) -> None:
    ex = holding({"node": "w1"})
    target = make(ex, tmp_path)
    target.drain("w1", timeout=5)
    steps = [(node_of(c), remote_words(c)) for c in ex.calls if c.argv[0] == "ssh" and "ip" not in remote_words(c)[:1]]
    touched = steps.index(("w1", ["sudo", "touch", "/var/lib/pipeline/edge-maintenance"]))
    drained = steps.index(("m1", ["docker", "node", "update", "--availability", "drain", "w1"]))
    assert touched < drained
    assert target.vip_holder() == "w2"
    target.activate("w1", timeout=5)
    words = [remote_words(c) for c in ex.calls if c.argv[0] == "ssh"]
    assert ["docker", "node", "update", "--availability", "active", "w1"] in words
    assert ["sudo", "rm", "-f", "/var/lib/pipeline/edge-maintenance"] in words


def test_a_drain_whose_address_does_not_move_stops_before_swarm_moves_anything(tmp_path: Path) -> None:
    def stuck(command: Command) -> Result:
        if remote_words(command)[:1] == ["ip"]:
            held = node_of(command) == "w1"
            return Result(0, "inet 10.231.0.100/24 scope global eth0" if held else "inet 10.231.0.13/24")
        return Result(0)

    ex = FakeExecutor().on("ssh", result=stuck)
    target = make(ex, tmp_path)
    target._wait = lambda done, timeout, what: (_ for _ in ()).throw(NotReady(what)) if not done() else None  # type: ignore[method-assign]
    with pytest.raises(NotReady, match="the virtual IP off w1"):
        target.drain("w1")
    assert not any("--availability" in c.argv[-1] for c in ex.calls)


def test_a_stand_in_node_is_switched_on_this_machine_and_a_rented_one_is_refused(tmp_path: Path) -> None:
    target = make(FakeExecutor(), tmp_path)
    assert target.node_switch("w1", "kill").argv == ("docker", "kill", "--signal", "KILL", "pl-swarm-local-w1")
    assert target.node_switch("w1", "stop").argv[:2] == ("docker", "stop")
    assert target.node_switch("w2", "start").argv == ("docker", "start", "pl-swarm-local-w2")
    from pipeline.errors import UserError

    with pytest.raises(UserError, match="no node 'w9'"):
        target.node_switch("w9", "start")
    target.cluster = None  # as for hosts listed in env.yaml without swarm.local
    with pytest.raises(UserError, match="a host the pipeline did not make"):
        target.node_switch("w1", "kill")


def test_up_check_runs_the_playbook_in_check_mode_and_records_nothing(tmp_path: Path) -> None:
    import json

    stats = {"m1": {"ok": 70, "changed": 1, "failures": 0, "unreachable": 0}}
    task = {"task": {"name": "Write the VRRP instance"}, "hosts": {"w1": {"changed": True}}}
    played = json.dumps({"stats": stats, "plays": [{"tasks": [task]}]})
    from pipeline.commands.ansible import ansible_bin

    running = json.dumps([{"State": {"Running": True}}])  # the stand-in's node containers run
    ex = FakeExecutor().on("docker", "container", "inspect", result=Result(0, running))
    ex.on(ansible_bin("ansible-playbook"), result=Result(0, played))
    found = make(ex, tmp_path).config_drift()
    plays = [c for c in ex.calls if c.argv[0].endswith("ansible-playbook")]
    assert len(plays) == 1 and "--check" in plays[0].argv and not plays[0].mutates
    assert (found.changed, found.changes) == (1, ("Write the VRRP instance on w1",))
    assert not list(tmp_path.rglob("cluster.json"))  # the identity is recorded by a real up only
    assert not any(c.argv[:2] == ("docker", "run") for c in ex.calls)  # no node container is made
    written = json.loads(next(tmp_path.rglob("vars.json")).read_text())
    assert written["docker_package_source"] == "debian"  # swarm.engine_packages' default


def test_the_engine_comes_from_the_packages_env_yaml_names(tmp_path: Path) -> None:
    import json

    from pipeline.commands.ansible import ansible_bin

    played = json.dumps({"stats": {"m1": {"ok": 70, "changed": 0, "failures": 0, "unreachable": 0}}, "plays": []})
    running = json.dumps([{"State": {"Running": True}}])
    ex = FakeExecutor().on("docker", "container", "inspect", result=Result(0, running))
    ex.on(ansible_bin("ansible-playbook"), result=Result(0, played))
    env = load_environment(ROOT, "swarm-local")
    assert env.swarm is not None
    env = env.model_copy(update={"swarm": env.swarm.model_copy(update={"engine_packages": "docker"})})
    SwarmTarget(env, ex, Project(ROOT, tmp_path), lambda _m: None).config_drift()
    written = json.loads(next(tmp_path.rglob("vars.json")).read_text())
    assert written["docker_package_source"] == "docker"
    role = (ROOT / "playbooks/roles/docker/tasks/main.yml").read_text()
    assert "docker_package_source == 'docker'" in role and "docker-ce" in role  # the role acts on it


def test_an_edge_made_before_the_relay_gives_up_the_users_port_and_takes_its_own(tmp_path: Path) -> None:
    def inspect(ports: list[int]) -> Result:
        spec = {"EndpointSpec": {"Ports": [{"PublishedPort": p, "TargetPort": 8080} for p in ports]}}
        return Result(0, json.dumps([{"Spec": spec}]))

    old = FakeExecutor()
    old.on("ssh", result=lambda c: inspect([8080]) if "service inspect" in c.argv[-1] else Result(0))
    make(old, tmp_path)._free_front_port()
    freed = [remote_words(c) for c in old.calls if "--publish-rm" in c.argv[-1]]
    assert freed == [["docker", "service", "update", "--quiet", "--publish-rm", "8080", "pl-swarm-local-edge"]]
    assert node_of(next(c for c in old.calls if "--publish-rm" in c.argv[-1])) == "m1"

    current = FakeExecutor()
    current.on("ssh", result=lambda c: inspect([18080]) if "service inspect" in c.argv[-1] else Result(0))
    make(current, tmp_path)._free_front_port()
    assert not [c for c in current.calls if "--publish-rm" in c.argv[-1]]

    # the stack's own update moves the port too: the stale one removed, the wanted one added
    spec = make(FakeExecutor(), tmp_path)._edge_spec("img")
    argv = list(spec.update(current_published=[8080]).argv)
    assert argv[argv.index("--publish-rm") + 1] == "8080"
    assert argv[argv.index("--publish-add") + 1] == "mode=host,target=8081,published=18080,protocol=tcp"
    assert "--publish-rm" not in spec.update(current_published=[18080]).argv


def test_the_relays_and_the_replicas_are_told_of_each_other(tmp_path: Path) -> None:
    target = make(FakeExecutor(), tmp_path)
    assert target._relay_from() == ["10.231.0.12", "10.231.0.13"]  # the edge nodes w1, w2


def make_placed(ex: FakeExecutor, tmp_path: Path, app_nodes: list[str]) -> SwarmTarget:
    """swarm-local with the app's tracks placed on the nodes named (swarm.app_nodes)."""
    env = load_environment(ROOT, "swarm-local")
    assert env.swarm is not None
    env = env.model_copy(update={"swarm": env.swarm.model_copy(update={"app_nodes": app_nodes})})
    return SwarmTarget(env, ex, Project(ROOT, tmp_path), lambda _m: None)


def test_the_apps_tracks_run_on_the_app_nodes_spread_over_them_and_an_update_changes_only_what_differs(
    tmp_path: Path,
) -> None:
    from pipeline.commands.docker import ServiceSpec

    default = make(FakeExecutor(), tmp_path)  # no swarm.app_nodes: the workers
    assert default.swarm.app_placement == ["w1", "w2"]
    assert make_placed(FakeExecutor(), tmp_path, ["m1"]).swarm.app_placement == ["m1"]
    default._secret_mounts = lambda keys, uid: []  # type: ignore[method-assign]
    spec = default.app_spec("canary", "v2", "10.231.0.11:5000/pipeline/app:v2")
    assert spec.constraints == ("node.labels.pl.app==true",)
    assert spec.placement_prefs == ("spread=node.labels.pl.host",)
    create = list(spec.create().argv)
    assert create[create.index("--constraint") + 1] == "node.labels.pl.app==true"
    assert create[create.index("--placement-pref") + 1] == "spread=node.labels.pl.host"
    # a service made before placement: both added; one that has them: neither repeated; a stale one goes
    before = list(spec.update().argv)
    assert before[before.index("--constraint-add") :][:2] == ["--constraint-add", "node.labels.pl.app==true"]
    placed = list(spec.update(current_placement=(["node.labels.pl.app==true"], ["spread=node.labels.pl.host"])).argv)
    assert "--constraint-add" not in placed and "--placement-pref-add" not in placed and "--constraint-rm" not in placed
    stale = list(spec.update(current_placement=(["node.role==worker"], [])).argv)
    assert stale[stale.index("--constraint-rm") + 1] == "node.role==worker"
    assert stale[stale.index("--placement-pref-add") + 1] == "spread=node.labels.pl.host"
    assert ServiceSpec(name="x", image="i", network="n").update().argv.count("--constraint-add") == 0


def test_a_deploy_on_a_cluster_whose_nodes_lack_the_app_label_is_refused_before_any_task(tmp_path: Path) -> None:
    from pipeline.targets.base import TrackPlan

    def answer(command: Command) -> Result:
        return Result(0, "") if "node.label=pl.app=true" in command.argv[-1] else Result(0, "x\n")

    fake = FakeExecutor().on("ssh", result=answer)
    with pytest.raises(NotReady) as caught:
        make(fake, tmp_path).deploy_tracks([TrackPlan("canary", "v2")])
    assert "pl.app=true" in caught.value.message
    assert "make up ENV=swarm-local (its playbook labels w1, w2)" in (caught.value.hint or "")
    assert fake.mutating() == []


def test_a_track_crowded_onto_one_node_grows_onto_the_others_and_shrinks_back_and_a_spread_one_is_left_alone(
    tmp_path: Path,
) -> None:
    fake = FakeExecutor()
    target = make(fake, tmp_path)
    ready = [
        {"name": "m1", "state": "ready", "availability": "active", "role": "leader"},
        {"name": "w1", "state": "ready", "availability": "active", "role": ""},
        {"name": "w2", "state": "ready", "availability": "active", "role": ""},
    ]
    tasks = {
        "pl-swarm-local-app-blue": ["w2", "w2"],  # both on w2 since w1 was drained: spread again
        "pl-swarm-local-app-green": ["w1", "w2"],  # spread: left alone
        "pl-swarm-local-app-baseline": ["w2"],  # one task: nothing to spread
        "pl-swarm-local-db": ["m1"],  # not the app's
    }
    target.nodes_status = lambda: ready  # type: ignore[method-assign]
    target._replicas = lambda: {name: (len(nodes), len(nodes)) for name, nodes in tasks.items()}  # type: ignore[method-assign]
    target.task_nodes = lambda service: tasks[service]  # type: ignore[method-assign]
    assert target.rebalance() == ["pl-swarm-local-app-blue"]
    scaled = [c.argv[-1] for c in fake.calls if "--replicas" in c.argv[-1]]  # run on the manager over SSH
    # never fewer than its two: up to three (the new task on w1), then back to two
    assert [s.split("--replicas ")[1] for s in scaled] == ["3 pl-swarm-local-app-blue", "2 pl-swarm-local-app-blue"]
    # w1 still drained: nowhere else to spread to, nothing scaled
    ready[1]["availability"] = "drain"
    fake.calls.clear()
    assert target.rebalance() == [] and not [c for c in fake.calls if "--replicas" in c.argv[-1]]


@pytest.mark.parametrize(
    ("tasks", "usable", "crowded"),
    [
        ({"blue": ["w2", "w2"]}, {"w1", "w2"}, {"blue": (2, 1)}),  # both on one of two: misses one
        ({"blue": ["w1", "w2"]}, {"w1", "w2"}, {}),  # spread
        ({"blue": ["w2"]}, {"w1", "w2"}, {}),  # one task: nothing to spread
        ({"blue": ["w1", "w1", "w2"]}, {"w1", "w2"}, {}),  # three on two nodes: as spread as it can be
        ({"blue": ["w1", "w1", "w2"]}, {"w1", "w2", "w3"}, {"blue": (3, 1)}),  # w3 unused
        ({"blue": ["w2", "w2"]}, {"w2"}, {}),  # the only usable node (w1 drained or down)
        ({"blue": ["m1", "m1"]}, {"w1", "w2"}, {"blue": (2, 2)}),  # on a node outside the placement
    ],
)
def test_a_track_is_crowded_when_it_runs_on_fewer_usable_nodes_than_it_could(
    tasks: dict[str, list[str]], usable: set[str], crowded: dict[str, tuple[int, int]]
) -> None:
    assert crowding(tasks, usable) == crowded


def test_status_names_the_crowded_track_and_its_nodes_and_a_chaos_run_refuses_to_start_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeExecutor()
    target = make(fake, tmp_path)
    tracks = {
        "stable": TrackStatus("stable", "v1", 2, 2, service="pl-swarm-local-app-blue"),
        "canary": TrackStatus("canary", None, 0, 0),
        "baseline": TrackStatus("baseline", None, 0, 0),
    }
    base = Status("swarm-local", "swarm", target.url, True, Weights(0, 0), tracks)
    monkeypatch.setattr(LocalTarget, "status", lambda self: base)
    tasks = {"pl-swarm-local-app-blue": ["w2", "w2"]}
    target._replicas = lambda: {name: (len(nodes), len(nodes)) for name, nodes in tasks.items()}  # type: ignore[method-assign]
    target.task_nodes = lambda service: tasks[service]  # type: ignore[method-assign]
    target.nodes_status = lambda: [  # type: ignore[method-assign]
        {"name": n, "state": "ready", "availability": "active", "role": ""} for n in ("m1", "w1", "w2")
    ]
    target.edges.running_on = lambda: {"w1": True, "w2": True}  # type: ignore[method-assign]
    found = target.status()
    assert found.crowded == {"stable": ["w2"]} and found.as_dict()["crowded"] == {"stable": ["w2"]}
    runner = ChaosRunner(target.env, target.project, fake, target, lambda _m: None)
    with pytest.raises(NotReady, match="stable is crowded onto w2") as refused:
        runner.preflight()
    assert refused.value.hint == "pipeline node rebalance swarm-local"
    tasks["pl-swarm-local-app-blue"] = ["w1", "w2"]
    assert target.status().crowded == {}
    runner.preflight()  # spread: nothing to refuse


def test_up_spreads_a_crowded_track_again_unless_a_deploy_holds_the_lock(tmp_path: Path) -> None:
    fake = FakeExecutor()
    target = make(fake, tmp_path)
    tasks = {"pl-swarm-local-app-blue": ["w2", "w2"]}
    target._replicas = lambda: {name: (len(nodes), len(nodes)) for name, nodes in tasks.items()}  # type: ignore[method-assign]
    target.task_nodes = lambda service: tasks[service]  # type: ignore[method-assign]
    target.nodes_status = lambda: [  # type: ignore[method-assign]
        {"name": n, "state": "ready", "availability": "active", "role": ""} for n in ("m1", "w1", "w2")
    ]
    target.read_lock = lambda: LockInfo.mine("deployer", "v2", "deploy")  # type: ignore[method-assign]
    assert target._spread_again() == [] and not [c for c in fake.calls if "--replicas" in c.argv[-1]]
    target.read_lock = lambda: None  # type: ignore[method-assign]
    assert target._spread_again() == ["pl-swarm-local-app-blue"]
    assert len([c for c in fake.calls if "--replicas" in c.argv[-1]]) == 2  # grown by one, shrunk back


def test_a_planned_drain_pauses_the_node_grows_its_tracks_elsewhere_first_and_shrinks_them_after(tmp_path: Path) -> None:
    fake = FakeExecutor()
    target = make(fake, tmp_path)
    tasks = {"pl-swarm-local-app-blue": ["w1", "w2"], "pl-swarm-local-app-green": ["w2"]}
    target._replicas = lambda: {name: (len(nodes), len(nodes)) for name, nodes in tasks.items()}  # type: ignore[method-assign]
    target.task_nodes = lambda service: tasks[service]  # type: ignore[method-assign]
    target.vip_holder = lambda: "w2"  # type: ignore[method-assign]
    target.tasks_on = lambda name: []  # type: ignore[method-assign]
    target.drain("w1")
    steps = [c.argv[-1] for c in fake.calls if "--availability" in c.argv[-1] or "--replicas" in c.argv[-1]]
    assert [s.split("update ")[1] for s in steps] == [
        "--availability pause w1",  # nothing new lands on w1
        "--quiet --replicas 3 pl-swarm-local-app-blue",  # its task on w1 doubled elsewhere, ready first
        "--availability drain w1",
        "--quiet --replicas 2 pl-swarm-local-app-blue",  # back to its size
    ]


def test_a_drain_that_times_out_half_way_shrinks_the_tracks_it_grew_back_to_their_size(tmp_path: Path) -> None:
    fake = FakeExecutor()
    target = make(fake, tmp_path)
    tasks = {"pl-swarm-local-app-blue": ["w1", "w2"]}
    target._replicas = lambda: {name: (len(nodes), len(nodes)) for name, nodes in tasks.items()}  # type: ignore[method-assign]
    target.task_nodes = lambda service: tasks[service]  # type: ignore[method-assign]
    target.vip_holder = lambda: "w2"  # type: ignore[method-assign]
    target.tasks_on = lambda name: ["pl-swarm-local-app-blue.1"]  # type: ignore[method-assign]  # never leaves w1
    target._wait = lambda done, timeout, what: (_ for _ in ()).throw(NotReady(what)) if not done() else None  # type: ignore[method-assign]
    with pytest.raises(NotReady, match="every task off w1"):
        target.drain("w1")
    replicas = [c.argv[-1].split("--replicas ")[1] for c in fake.calls if "--replicas" in c.argv[-1]]
    assert replicas == ["3 pl-swarm-local-app-blue", "2 pl-swarm-local-app-blue"]  # grown, then back
