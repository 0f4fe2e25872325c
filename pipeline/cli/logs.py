"""``pipeline logs``: every part's lines of an environment as records, merged in time order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from pipeline.cli import output
from pipeline.cli.app import app
from pipeline.cli.options import EnvArg, JsonOpt
from pipeline.errors import UserError
from pipeline.wiring import context

if TYPE_CHECKING:
    from pipeline.observability.logs import LogFeed, LogQuery, LogRecord

# the parts whose lines ``--follow`` shows as the engine prints them
FOLLOWED = ("app-stable", "app-canary", "db", "cache", "edge")
_COLOURS = {"debug": "dim", "info": "green", "warning": "yellow", "error": "red", "critical": "bold red"}


@app.command()
def logs(
    env: EnvArg,
    service: Annotated[
        list[str] | None,
        typer.Option(
            "--service",
            "-s",
            help="a part: app-stable, app-canary (a track: the slot serving it), app-baseline, edge, db, cache, "
            "prometheus or alertmanager; repeat it for several (default: every part there is)",
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="from when: a duration back from now (10m, 2h, 30s) or an RFC 3339 time")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="until when: a duration back from now or an RFC 3339 time")] = None,
    grep: Annotated[
        str | None, typer.Option("--grep", help="only records whose message or fields match this regular expression")
    ] = None,
    level: Annotated[
        str | None,
        typer.Option("--level", help="only records at this level or above (debug, info, warning, error, critical)"),
    ] = None,
    tail: Annotated[
        int | None, typer.Option("--tail", help="the last N records (default 100; with --since or --until: all; 0: all)")
    ] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="one part's lines as they come (one --service)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Logs of the environment's parts, every task's, merged in time order."""
    import time

    from pipeline.observability.logs import LOG_PARTS, LogQuery, parse_grep, parse_level, parse_time

    parts = list(dict.fromkeys(service or ()))
    for part in parts:
        if part not in LOG_PARTS:
            raise UserError(f"--service: unknown service '{part}'", hint=f"one of {', '.join(LOG_PARTS)}")
    if tail is not None and tail < 0:
        raise UserError(f"--tail {tail}: must be 0 or more", hint="--tail 100; --tail 0 shows every record in the window")
    if follow:
        _follow(env, parts, tail, as_json or any(o is not None for o in (since, until, grep, level)))
        return
    now = time.time()
    start = parse_time(since, "--since", now) if since is not None else None
    end = parse_time(until, "--until", now) if until is not None else None
    if start is not None and end is not None and end < start:
        raise UserError(f"--until {until}: before --since {since}", hint="--until is later than --since")
    query = LogQuery(
        since=start,
        until=end,
        grep=parse_grep(grep) if grep is not None else None,
        level=parse_level(level) if level is not None else None,
        tail=(100 if start is None and end is None else None) if tail is None else tail or None,
    )
    ctx = context(env)
    feeds = ctx.target.read_logs(tuple(parts), query)
    shown = _merged(feeds, query)
    if as_json:
        output.emit_json([record.as_dict() for record in shown])
        return
    for record in shown:
        output.out.print(_line(record, ctx.env.stack + "-"), soft_wrap=True, highlight=False)
    if not shown:
        output.say("no log lines" + (" match" if query.filters else " in the window"))


def _follow(env: str, parts: list[str], tail: int | None, windowed: bool) -> None:
    if len(parts) != 1 or windowed:
        raise UserError(
            "--follow shows one part's lines as they come: it needs one --service, without --since, --until, "
            "--grep, --level or --json",
            hint=f"pipeline logs {env} --service edge --follow",
        )
    if parts[0] not in FOLLOWED:
        raise UserError(f"--follow --service {parts[0]}: not followed", hint=f"one of {', '.join(FOLLOWED)}")
    context(env).target.logs(parts[0], 100 if tail is None else tail, True)


def _merged(feeds: list[LogFeed], query: LogQuery) -> list[LogRecord]:
    """The query's records of every feed; a feed that could not be read is a warning (all of them: an error)."""
    from pipeline.errors import NotReady
    from pipeline.observability.logs import select

    failed = [feed for feed in feeds if feed.error]
    for feed in failed:
        where = f"{feed.service} ({feed.source})" if feed.source else feed.service or "logs"
        output.err.print(f"[yellow]warning[/yellow]: {escape(output.clean(f'{where}: {feed.error}'))}", soft_wrap=True)
    if feeds and len(failed) == len(feeds):
        raise NotReady(f"no logs could be read: {failed[0].error}", hint="pipeline status ENV: is the environment up?")
    return select(feeds, query)


def _line(record: LogRecord, prefix: str) -> str:
    """One record as a line: time (ms), part, task, level, message, then its fields as ``key=value``."""
    clean = output.clean
    colour = _COLOURS.get(record.level or "", "dim")
    level = f"[{colour}]{(record.level or '-'):<8}[/{colour}]"
    task = record.task.removeprefix(prefix)
    fields = " ".join(f"{key}={_short(value)}" for key, value in record.fields.items())
    text = f"[dim]{record.time[:23]}Z[/dim] [cyan]{escape(record.service):<12}[/cyan] [dim]{escape(clean(task))}[/dim] {level} "
    return text + escape(clean(record.message)) + (f" [dim]{escape(clean(fields))}[/dim]" if fields else "")


def _short(value: object, width: int = 120) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
