"""``pipeline node list|drain|activate|rebalance ENV``: the nodes of a cluster (kind swarm) one by one. A
drain is planned: an edge node hands its virtual IP over first, then swarm moves every task away
(0 failed requests, measured by ``swarm-drain-node``). Each drain and activation is journalled."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import DryOpt, EnvArg, JsonOpt
from pipeline.wiring import context

node_app = typer.Typer(no_args_is_help=True, help="The nodes of a cluster (kind swarm): list, drain, activate, rebalance.")
app.add_typer(node_app, name="node")

NodeArg = Annotated[str, typer.Argument(help="a node's name (env.yaml swarm: managers, workers)", show_default=False)]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=5, max=1800, help="seconds to wait for the tasks to move")]


def _nodes(env: str, dry_run: bool) -> tuple[Any, Any]:
    from pipeline.targets import nodes

    ctx = context(env, dry_run, needs=("nodes",))
    return ctx, nodes(ctx.env, ctx.target)


def _journal(ctx: Any, action: str, node: str) -> None:
    from pipeline.records.journal import Journal, default_path

    with Journal(default_path(ctx.project.state)) as journal:
        journal.event(ctx.env.name, "node", {"action": action, "node": node})


@node_app.command("list")
def node_list(env: EnvArg, as_json: JsonOpt = False) -> None:
    """Each node as the manager sees it, which edge node holds the virtual IP, and where an edge task runs."""
    _, cluster = _nodes(env, False)
    holder = cluster.vip_holder()
    rows = [
        {**row, "vip": row["name"] == holder, "edge": cluster.edge_container_on(row["name"]) is not None}
        for row in cluster.nodes_status()
    ]
    if as_json:
        output.emit_json({"environment": env, "vip_holder": holder, "nodes": rows})
        return
    from rich.table import Table

    table = Table(title=f"{env}: nodes", title_justify="left")
    for column in ("node", "state", "availability", "role", "edge", "virtual IP"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["state"], row["availability"], row["role"] or "worker",
                      "yes" if row["edge"] else "-", "[green]holds it[/green]" if row["vip"] else "-")  # fmt: skip
    output.out.print(table)


@node_app.command("drain")
def node_drain(
    env: EnvArg, node: NodeArg, timeout: TimeoutOpt = 120.0, dry_run: DryOpt = False, as_json: JsonOpt = False
) -> None:
    """Take a node out of service without failing a request: the virtual IP leaves it first, then its tasks."""
    ctx, cluster = _nodes(env, dry_run)
    cluster.node_executor(node)  # a node of this environment, or one line (exit 2) before anything runs
    with output.err.status(f"draining {node}: the virtual IP first, then its tasks"):
        cluster.drain(node, timeout)
    if not dry_run:
        _journal(ctx, "drain", node)
    _done(env, "drained", node, dry_run, as_json)


@node_app.command("activate")
def node_activate(
    env: EnvArg, node: NodeArg, timeout: TimeoutOpt = 120.0, dry_run: DryOpt = False, as_json: JsonOpt = False
) -> None:
    """Put a drained node back in service (its edge task starts; the virtual IP stays where it is; the
    app's tracks spread over it again)."""
    ctx, cluster = _nodes(env, dry_run)
    cluster.node_executor(node)
    with output.err.status(f"activating {node}"):
        spread = cluster.activate(node, timeout)
    for service in spread:
        output.err.print(f"• {service}: its tasks spread over {node} again")
    if not dry_run:
        _journal(ctx, "activate", node)
    _done(env, "active", node, dry_run, as_json)


def _done(env: str, state: str, node: str, dry_run: bool, as_json: bool) -> None:
    if as_json:
        output.emit_json({"environment": env, "node": node, "state": state, "dry_run": dry_run})
    elif not dry_run:
        output.out.print(f"{env}: node {node} {state}")


@node_app.command("rebalance")
def node_rebalance(env: EnvArg, timeout: TimeoutOpt = 300.0, dry_run: DryOpt = False, as_json: JsonOpt = False) -> None:
    """Spread the app's tracks over every ready node again (swarm moves nothing back to a node that
    returns after a loss or a partition): a crowded track grows onto the nodes it misses, then
    shrinks back, never below its size."""
    ctx, cluster = _nodes(env, dry_run)
    with output.err.status("spreading the app's tracks over the ready nodes"):
        spread = cluster.rebalance(timeout)
    if spread and not dry_run:
        _journal(ctx, "rebalance", ",".join(spread))
    if as_json:
        output.emit_json({"environment": env, "spread": spread, "dry_run": dry_run})
    elif not dry_run:
        output.out.print(f"{env}: {', '.join(spread) + ' spread again' if spread else 'every app track is spread already'}")
