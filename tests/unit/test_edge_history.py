"""``pipeline.targets.edge_history``: the one way a report after the fact reads what users saw."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipeline.analysis.source import EdgeLogsSource
from pipeline.environment import load_environment
from pipeline.targets import edge_history

ROOT = Path(__file__).resolve().parents[2]


class OneEdge:
    def __init__(self, size: int) -> None:
        self.size = size

    def log_size(self) -> int:
        return self.size

    def log_reader(self) -> Callable[[int], bytes]:
        return lambda _offset: b""


class Cluster(OneEdge):
    def __init__(self) -> None:
        super().__init__(0)
        self.asked: list[int] = []

    def edge_logs(self, tail_bytes: int) -> EdgeLogsSource:
        self.asked.append(tail_bytes)
        return EdgeLogsSource({})


def test_one_edge_is_read_from_the_offset_given_else_from_the_tail_before_its_end() -> None:
    env = load_environment(ROOT, "local")
    assert edge_history(env, OneEdge(5000), 1000).offset == 4000  # type: ignore[arg-type]
    assert edge_history(env, OneEdge(500), 1000).offset == 0  # type: ignore[arg-type]
    assert edge_history(env, OneEdge(5000), 1000, offset=1234).offset == 1234  # type: ignore[arg-type]


def test_a_cluster_reads_every_edge_replicas_log_as_one() -> None:
    cluster = Cluster()
    source = edge_history(load_environment(ROOT, "swarm-local"), cluster, 4096)  # type: ignore[arg-type]
    assert isinstance(source, EdgeLogsSource) and cluster.asked == [4096]
