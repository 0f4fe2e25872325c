"""End-to-end: the swarm target on swarm-local (three node containers over SSH, a real swarm).

Own fixture, not the `ci` stack: from nothing (`down --volumes`, then `up`): the nodes formed into
one swarm by playbooks/swarm.yml, a second `up` with changed=0 and a `--check` run clean, the
stack on it (PostgreSQL and Redis on their labelled node, the edge a global service with a task on
each edge node), the app's own secret as a file in tasks on the workers, an edge task that stops
replaced by swarm on its node, the virtual IP's holder serving through its relay when drained (and
stable's tasks spread over both workers again once it is back), the node experiments under load (an edge replica killed, a
planned drain, a partition, a node lost, the manager's engine killed), and the identity guard
refusing a node that another swarm took.
`make test-e2e-swarm`; PIPELINE_E2E_KEEP=1 leaves the cluster up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.environment import load_environment

from .conftest import pipeline, ssh_as_admin, wait_for

ROOT = Path(__file__).resolve().parents[2]
ENV = os.environ.get("PIPELINE_E2E_SWARM_ENV", "swarm-local")
CONF = load_environment(ROOT, ENV)
assert CONF.swarm is not None and CONF.swarm.local is not None and CONF.swarm.vip is not None
SWARM = CONF.swarm
STATE = ROOT / ".pipeline" / "swarm" / ENV
VIP = f"http://{SWARM.vip.address}:{CONF.edge.port}"  # type: ignore[union-attr]

pytestmark = pytest.mark.e2e


def ssh(node: str, script: str, check: bool = True) -> str:
    return ssh_as_admin(STATE, SWARM.node(node).ssh_port, script, check, what=f"{node} ")


def edge_task(node: str) -> str:
    """The running container of the edge service's task on ``node`` ("" when none runs)."""
    label = f"com.docker.swarm.service.name={CONF.stack}-edge"
    return ssh(node, f"docker ps -q --filter label={label} --filter status=running").strip()


def holder() -> str:
    return next(n for n in SWARM.edge_nodes if SWARM.vip.address in ssh(n, "ip -4 -o addr show"))  # type: ignore[union-attr]


def relay_state() -> dict[str, str]:
    """What each edge node says when the virtual IP does not answer: does it hold the address, what
    its relay answers from the node itself and for how long, its edge task, haproxy's and
    keepalived's last lines (a failure of the plain drain is not explained yet: docs/benchmarks.md)."""
    vip = SWARM.vip.address  # type: ignore[union-attr]
    probe = (
        f"ip -4 -o addr show | grep -c {vip} || true; "
        "curl -sS -o /dev/null -m 3 -w 'relay %{http_code} in %{time_total} s\\n' "
        f"http://127.0.0.1:{CONF.edge.port}/version; "
        "docker ps --format '{{.Names}} {{.Status}}' | grep -- -edge || true; "
        "sudo journalctl -u haproxy -u keepalived -n 15 --no-pager -o cat 2>&1 | tail -n 15"
    )
    return {node: ssh(node, probe, check=False) for node in SWARM.edge_nodes}


def get(url: str, timeout: float = 3.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except Exception:
        return 0


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, Any]]:
    pipeline("down", ENV, "--volumes", check=False, timeout=300)
    started = time.monotonic()
    first = pipeline("up", ENV, timeout=2400)
    yield {"first": first.stdout + first.stderr, "seconds": time.monotonic() - started}
    if not os.environ.get("PIPELINE_E2E_KEEP"):
        pipeline("down", ENV, "--volumes", check=False, timeout=600)


def test_up_from_nothing_forms_one_swarm_of_every_node(cluster: dict[str, Any]) -> None:
    assert "swarm: cluster" in cluster["first"] and "recorded" in cluster["first"], cluster["first"]
    rows = [json.loads(line) for line in ssh("m1", "docker node ls --format '{{json .}}'").splitlines()]
    assert sorted(r["Hostname"] for r in rows) == ["m1", "w1", "w2"]
    assert all(r["Status"] == "Ready" for r in rows)
    assert [r["Hostname"] for r in rows if r["ManagerStatus"]] == ["m1"]
    labels = json.loads(ssh("m1", "docker node inspect w1 --format '{{json .Spec.Labels}}'"))
    assert labels.get("pl.edge") == "true" and "pl.db" not in labels


def test_a_second_up_changes_nothing_and_check_runs_clean(cluster: dict[str, Any]) -> None:
    again = pipeline("up", ENV, timeout=1800)
    out = again.stdout + again.stderr
    assert re.search(r"changed=0\b", out), out
    drift = pipeline("up", ENV, "--check", "--json", timeout=1800)  # Ansible's check mode, through the CLI
    found = json.loads(drift.stdout)
    assert found["changed"] == 0 and found["ok"] > 0, found


def test_the_stack_runs_pinned_and_the_edge_answers_on_the_virtual_ip(cluster: dict[str, Any]) -> None:
    db = ssh("m1", f"docker service ps {CONF.stack}-db --filter desired-state=running --format '{{{{.Node}}}}'").split()
    assert db == [SWARM.role_node("db")]
    mode = ssh("m1", f"docker service inspect {CONF.stack}-edge --format '{{{{json .Spec.Mode}}}}'")
    assert "Global" in json.loads(mode)
    for node in SWARM.edge_nodes:
        assert edge_task(node), f"no edge task on {node}"
    assert get(f"{VIP}/edge/healthz") == 200


@pytest.fixture(scope="module")
def releases(cluster: dict[str, Any]) -> tuple[str, str]:
    """This commit, built twice (two tags), the first one released straight to stable."""
    first = pipeline("build", "--env", ENV, timeout=1800).stdout.strip()
    second = pipeline("build", "--env", ENV, "--suffix", "swarm2", timeout=900).stdout.strip()
    pipeline("deploy", ENV, "--version", first, "--track", "stable", timeout=900)
    return first, second


def version_through_the_vip() -> str:
    with urllib.request.urlopen(f"{VIP}/version", timeout=5) as response:
        return str(json.loads(response.read())["version"])


def test_a_release_runs_on_the_workers_and_answers_through_the_virtual_ip(releases: tuple[str, str]) -> None:
    first, _ = releases
    assert version_through_the_vip() == first
    service = json.loads(pipeline("status", ENV, "--json").stdout)["tracks"]["stable"]["service"]
    nodes = ssh("m1", f"docker service ps {service} --filter desired-state=running --format '{{{{.Node}}}}'").split()
    assert len(nodes) == CONF.tracks.stable.replicas and set(nodes) <= {n.name for n in SWARM.nodes}


def test_a_canary_walks_across_the_cluster_under_load_and_is_promoted(releases: tuple[str, str], tmp_path: Path) -> None:
    from pipeline.commands.k6 import BackgroundLoad

    _, second = releases
    load = BackgroundLoad(ROOT / "perf" / "mixed.js", VIP, 30, 600, tmp_path / "k6.json")
    try:
        time.sleep(5)
        deployed = pipeline("deploy", ENV, "--version", second, timeout=900)
    finally:
        summary = load.stop()
    assert "promoted" in deployed.stdout + deployed.stderr, deployed.stdout + deployed.stderr
    assert version_through_the_vip() == second
    # a planned move: 0 failed (each failed request as k6 saw it, to tell the edge from the network)
    assert summary is not None and summary.requests > 500 and summary.failed == 0, (summary, load.failures())


def test_the_apps_own_secret_reaches_each_task_on_the_workers_as_a_file_only(releases: tuple[str, str]) -> None:
    """app.secrets on the cluster: set through the manager, mounted by tasks on other nodes, in no spec.
    (swarm-local declares none, so a user's first `up` and deploy need nothing set: the environment
    is taken with one name declared, and stable is deployed with it through the target itself.)"""
    from pipeline.commands.executor import SubprocessExecutor
    from pipeline.project import Project
    from pipeline.targets.swarm import SwarmTarget

    name, value = "E2E_PROBE_TOKEN", f"e2e-{os.urandom(8).hex()}"
    env = CONF.model_copy(update={"app": CONF.app.model_copy(update={"secrets": [name]})})
    target = SwarmTarget(env, SubprocessExecutor(), Project.discover(), lambda _m: None)
    secret = target.secret_store().set(name, value).secret
    target.deploy_track("stable", version_through_the_vip())
    service = target.track_service("stable")
    tasks = ssh(
        "m1", f"docker service ps {service} --no-trunc --filter desired-state=running --format '{{{{.ID}}}} {{{{.Node}}}}'"
    )
    placed = [line.split() for line in tasks.splitlines() if line.strip()]
    assert {node for _, node in placed} - {SWARM.manager.name}, f"every task on the manager: {placed}"  # another node
    # the current tasks' containers only: the update starts new tasks first, the old ones stop after it returns
    for task, node in placed:
        containers = ssh(node, f"docker ps -q --filter label=com.docker.swarm.task.id={task}").split()
        assert len(containers) == 1, (task, node, containers)
        for container in containers:
            assert ssh(node, f"docker exec {container} cat /run/secrets/{name}") == value
            assert ssh(node, f"docker exec {container} printenv {name}_FILE").strip() == f"/run/secrets/{name}"
            assert value not in ssh(node, f"docker exec {container} env")
    assert value not in ssh("m1", f"docker service inspect {service}")
    assert target.secret_store().newest()[name].secret == secret


def test_an_edge_task_that_stops_is_replaced_on_its_node_without_up(cluster: dict[str, Any]) -> None:
    node = holder()
    stopped = edge_task(node)
    ssh(node, f"docker stop {stopped}")
    wait_for(lambda: edge_task(node) not in ("", stopped), 30, f"a new edge task on {node}")
    wait_for(lambda: get(f"{VIP}/edge/healthz", timeout=1) == 200, 20, "the virtual IP answering")


def test_the_node_that_holds_the_virtual_ip_keeps_serving_through_its_relay_when_drained(cluster: dict[str, Any]) -> None:
    """A plain `docker node update --availability drain` of the holder: its edge task goes, the relay
    there sends every request to the other node's edge replica, the address stays and answers.
    (`pipeline node drain` hands the address over first: the node experiment below.)"""
    drained = holder()
    ssh("m1", f"docker node update --availability drain {drained} >/dev/null")
    try:
        wait_for(lambda: edge_task(drained) == "", 60, f"the edge task gone from {drained}")
        answers = []
        for _ in range(20):
            answers.append(get(f"{VIP}/version", timeout=3))
            time.sleep(0.2)
        assert answers == [200] * 20, (answers, relay_state())
    finally:  # the pipeline's activate: swarm would leave every app task on the other worker
        pipeline("node", "activate", ENV, drained, timeout=600)
    wait_for(lambda: edge_task(drained) != "", 60, f"the edge task back on {drained}")
    wait_for(lambda: get(f"{VIP}/edge/healthz", timeout=1) == 200, 20, "the virtual IP answering")
    stable = status()["tracks"]["stable"]["service"]
    spread = ssh("m1", f"docker service ps {stable} --filter desired-state=running --format '{{{{.Node}}}}'").split()
    assert sorted(spread) == ["w1", "w2"], spread  # the workers, one task each again


NODE_EXPERIMENTS = (
    "swarm-kill-edge-replica",
    "swarm-upgrade-edge",
    "swarm-drain-node",
    "swarm-partition-node",
    "swarm-lose-node",
    "swarm-manager-engine-down",
)


def test_the_node_experiments_hold_under_load_and_the_planned_ones_fail_nothing(releases: tuple[str, str]) -> None:
    """Every node experiment under k6 load (the chaos runner's, through the virtual IP): each fault
    confirmed, users served within 2 s at every check, the cluster recovered, no acknowledged
    write lost. A planned drain fails (almost) no request; an edge replica killed, a node cut off or
    lost: served again within 2 s, at most 0.5 % of the requests failed."""

    def serving() -> bool:  # a drain before this (the test above) moves tasks: they start again elsewhere
        stable = status()["tracks"]["stable"]
        return bool(stable["running"] == stable["desired"] > 0)

    wait_for(serving, 180, "every stable replica running")
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "chaos", "run", ENV, *NODE_EXPERIMENTS, "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.stdout.strip().startswith("{"), result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)["experiments"]}
    for name, row in rows.items():
        print(
            f"{name}: failed {row['failed_requests']}/{row['requests']}, longest outage {row['longest_outage']} s, "
            f"recovered in {row['time_to_recover']} s, lost writes {row['lost_writes']}"
        )
    assert set(rows) == set(NODE_EXPERIMENTS)
    for name, row in rows.items():
        assert row["fault_confirmed"] and row["recovered"] and not row["deviated"], (name, row)
        assert (row["lost_writes"] or 0) == 0, (name, row)
    # a planned drain or edge upgrade: nothing but, at worst, the one request in flight on a kept-alive connection at
    # the instant the address moves (measured: docs/benchmarks.md)
    for planned in ("swarm-drain-node", "swarm-upgrade-edge"):
        assert rows[planned]["failed_requests"] <= 1, rows[planned]
    # the unplanned ones (an edge replica killed, a node cut off or lost): served again within 2 s, at
    # most 0.5 % of the run's requests failed (the goal; a partition measured 0-2 of ~500); a lost
    # node, measured at 0.36-0.47 %, gets 1 % here against this shared host's noise
    for lost, share in (("swarm-kill-edge-replica", 0.005), ("swarm-partition-node", 0.005), ("swarm-lose-node", 0.01)):
        assert (rows[lost]["longest_outage"] or 0.0) <= 2.0, rows[lost]
        assert rows[lost]["failed_requests"] <= share * rows[lost]["requests"], rows[lost]
    # the manager's engine killed for 10 s: the workers serve through its absence; what fails is the
    # database and cache the returning engine restarts. Bimodal here: 1.8-14.6 s of outage and 5-18 % failed
    # in most runs, 32.8-52.1 s and 27-37 % when the restarted tasks' reused overlay addresses lose their
    # workers' neighbour entries until the next gossip sync (Debian's engine 20.10: docs/swarm.md). Bounded by
    # the slow case; a planned stop, kept out of here, costs over a minute and fails it.
    engine = rows["swarm-manager-engine-down"]
    assert (engine["longest_outage"] or 0.0) <= 60.0 and engine["failed_requests"] <= 0.45 * engine["requests"], engine
    assert all(n["state"] == "ready" and n["availability"] == "active" for n in status()["nodes"])


def status() -> dict[str, Any]:
    return dict(json.loads(pipeline("status", ENV, "--json").stdout))


def test_a_node_another_swarm_took_is_refused_before_anything_changes(cluster: dict[str, Any]) -> None:
    ssh("w2", "docker swarm leave --force && docker swarm init --advertise-addr 127.0.0.1 >/dev/null")
    try:
        refused = pipeline("up", ENV, check=False, timeout=600)
        assert refused.returncode == 65, refused.stdout + refused.stderr
        assert "swarm node w2 (10.231.0.13)" in refused.stderr and "Traceback" not in refused.stderr
    finally:
        ssh("w2", "docker swarm leave --force", check=False)
        ssh("m1", "docker node rm --force w2", check=False)
    pipeline("up", ENV, timeout=1800)  # w2 joins again
    assert "w2" in ssh("m1", "docker node ls --filter role=worker --format '{{.Hostname}}'")
