"""`pipeline node list|drain|activate`: refused in one line for a kind without nodes or a node
that is not the environment's, before anything is reached."""

from __future__ import annotations

import pytest

from tests.unit.clirun import pipeline


@pytest.mark.parametrize(
    ("args", "lines"),
    [
        (
            ("node", "drain", "local", "w1"),
            [
                "error: local: the local kind has no cluster of nodes to act on one by one (nodes)",
                "hint: an environment of kind swarm has it",
            ],
        ),
        (
            ("node", "drain", "swarm-local", "w9", "--dry-run"),
            ["error: no node 'w9' in swarm-local", "hint: one of m1, w1, w2 (env.yaml swarm:)"],
        ),
        (
            ("node", "activate", "swarm-local", "x;y"),
            ["error: no node 'x;y' in swarm-local", "hint: one of m1, w1, w2 (env.yaml swarm:)"],
        ),
    ],
)
def test_a_wrong_node_or_kind_is_one_line_and_exit_2(args: tuple[str, ...], lines: list[str]) -> None:
    result = pipeline(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == lines


def test_a_dry_run_drain_prints_the_hand_over_and_the_drain_on_the_right_nodes() -> None:
    result = pipeline("node", "drain", "swarm-local", "w1", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    touch = out.index("sudo touch /var/lib/pipeline/edge-maintenance")
    drain = out.index("docker node update --availability drain w1")
    assert touch < drain
    assert "-p 22112" in next(line for line in out.splitlines() if "sudo touch" in line)  # on w1


def test_rebalance_is_refused_in_one_line_for_a_kind_without_nodes() -> None:
    result = pipeline("node", "rebalance", "local", "--json")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[0] == "error: local: the local kind has no cluster of nodes to act on one by one (nodes)"
