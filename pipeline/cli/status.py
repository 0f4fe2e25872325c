"""What runs and where traffic goes: weights, status, versions (``logs``: ``pipeline.cli.logs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import DryOpt, EnvArg, JsonOpt
from pipeline.errors import UserError
from pipeline.wiring import context

if TYPE_CHECKING:
    from pipeline.targets.base import Status


@app.command()
def weights(
    env: EnvArg,
    canary: Annotated[int, typer.Option("--canary", help="percent of traffic for the canary track, 0-100")],
    hold: Annotated[
        int, typer.Option("--hold", help="seconds the split is held before the edge resets it to 0; 0 holds it until changed")
    ] = 900,
    dry_run: DryOpt = False,
) -> None:
    """Set the traffic split between the tracks (graceful reload, no request dropped)."""
    import time

    from pipeline.edge import Weights

    new = Weights(canary)
    if hold < 0:
        raise UserError(f"--hold {hold}: must be 0 or more seconds")
    ctx = context(env, dry_run)
    ctx.target.set_weights(new, lease_until=time.time() + hold if hold else None)
    if not dry_run:
        output.out.print(f"weights: stable {new.stable}% canary {new.canary}%")


@app.command()
def status(env: EnvArg, as_json: JsonOpt = False) -> None:
    """What runs in the environment, read back from the target."""
    current = context(env).target.status()
    if as_json:
        output.emit_json(current.as_dict())
        return
    print_status(current)


def print_status(current: Status) -> None:
    from rich.table import Table

    w = current.weights
    table = Table(title=f"{current.environment} ({current.kind}) — {current.url}", title_justify="left")
    for column in ("track", "version", "replicas", "health", "weight"):
        table.add_column(column)
    for name, track in current.tracks.items():
        weight = "-" if w is None else f"{w.as_dict()[name]}%" if name in ("stable", "canary") else "-"
        colour = {"healthy": "green", "degraded": "yellow", "down": "red"}.get(track.health, "dim")
        table.add_row(
            name, track.version or "-", f"{track.running}/{track.desired}", f"[{colour}]{track.health}[/{colour}]", weight
        )
    output.out.print(table)
    services = ", ".join(f"{s.name} {s.running}/{s.desired}" for s in current.services.values())
    output.out.print(f"edge: {'running' if current.edge_running else 'stopped'}; services: {services or 'none'}")
    if current.edges:
        output.out.print(
            "edge replicas: " + ", ".join(f"{n} {'running' if up else '[red]stopped[/red]'}" for n, up in current.edges.items())
        )
    if current.nodes:
        output.out.print(
            "nodes: " + ", ".join(f"{n['name']} {n['state']}/{n['availability']}" + (f" ({n['role']})" if n["role"] else "")
                                  for n in current.nodes)
        )  # fmt: skip
    for crowded, nodes in current.crowded.items():
        output.out.print(
            f"[yellow]warning[/yellow]: {crowded} is crowded onto {', '.join(nodes)}, fewer nodes than it could use: "
            f"a node's loss takes more of it than it must (pipeline node rebalance {current.environment})"
        )


@app.command()
def versions(env: EnvArg, as_json: JsonOpt = False) -> None:
    """Releases in the registry that can be deployed."""
    output.emit_list(context(env).target.versions(), as_json)
