"""``pipeline cert ENV``: the HTTPS certificate of a ``kind: vm`` environment: how long it
has left, and a renewal on demand (certbot with the environment's explicit ACME server;
the deploy hook tests nginx's configuration before the graceful reload)."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import DryOpt, EnvArg, JsonOpt
from pipeline.errors import UserError
from pipeline.wiring import context


@app.command()
def cert(
    env: EnvArg,
    renew: Annotated[bool, typer.Option("--renew", help="run certbot renew now (renews within 30 days of expiry)")] = False,
    force: Annotated[bool, typer.Option("--force", help="with --renew: renew even when far from expiry")] = False,
    dry_run: DryOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Days left on a vm environment's certificate; --renew [--force] renews it."""
    from pipeline.targets import certificates

    ctx = context(env, dry_run, needs=("certificates",))
    target = certificates(ctx.env, ctx.target)
    if force and not renew:
        raise UserError("--force needs --renew", hint="pipeline cert ENV --renew --force")
    target.reach()
    if renew:
        target.renew_certificate(force=force)
    left = target.certificate_seconds_left() if not dry_run else None
    days = None if left is None else round(left / 86400, 2)
    if as_json:
        output.emit_json(
            {"environment": env, "domain": target.certificate_domain(), "days_left": days, "renewed": renew and not dry_run}
        )
    elif not dry_run:
        output.out.print(f"{target.certificate_domain()}: {'unreadable' if days is None else f'{days} days left'}")
