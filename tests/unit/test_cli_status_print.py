"""What ``pipeline status`` prints for a cluster: nodes, edge replicas, and a crowded track's warning."""

from __future__ import annotations

from pipeline.cli import output
from pipeline.cli.status import print_status
from pipeline.edge import Weights
from pipeline.targets.base import Status, TrackStatus


def cluster_status(crowded: dict[str, list[str]]) -> Status:
    tracks = {"stable": TrackStatus("stable", "v1", 2, 2), "canary": TrackStatus("canary", None, 0, 0)}
    nodes = [{"name": n, "state": "ready", "availability": "active", "role": ""} for n in ("w1", "w2")]
    return Status("swarm-local", "swarm", "http://10.231.0.100:8080", True, Weights(0, 0), tracks,
                  nodes=nodes, edges={"w1": True, "w2": True}, crowded=crowded)  # fmt: skip


def printed(current: Status) -> str:
    with output.out.capture() as captured:
        print_status(current)
    return captured.get()


def test_a_crowded_track_is_a_warning_that_names_its_nodes_and_the_command_that_spreads_it() -> None:
    text = " ".join(printed(cluster_status({"stable": ["w2"]})).split())  # the console wraps long lines
    assert (
        "warning: stable is crowded onto w2, fewer nodes than it could use: a node's loss takes more of it than it "
        "must (pipeline node rebalance swarm-local)"
    ) in text


def test_a_spread_cluster_prints_no_warning() -> None:
    text = printed(cluster_status({}))
    assert "nodes: w1 ready/active, w2 ready/active" in text and "warning" not in text
