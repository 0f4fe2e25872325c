"""An environment's logs as records, merged across its parts and tasks in time order (``pipeline logs``).

A target reads each part's lines as one ``LogFeed`` (text as the reader gave it, and how its lines
are written); nothing here runs a command. The forms:

* ``stamped``: ``docker logs --timestamps``, ``<RFC 3339 time, nanoseconds> <line>``;
* ``service``: ``docker service logs --timestamps``, ``<time> <service>.<slot>.<task>@<node>    | <line>``;
* ``journal``: ``journalctl -o json``, one object a line (the vm kind's units);
* ``cloudwatch``: CloudWatch Logs events as JSON lines (``timestamp`` in ms, ``message``, ``logStreamName``);
* ``access``: the edge's JSON access log (``pipeline.edge.LOG_FORMAT``: ``msec``, ``status`` ...).

A line whose text is a JSON object (the app's, ``app/refapp/logging.py``) gives its level, message
and fields; any other line (PostgreSQL, Redis, nginx's error log, Prometheus) keeps its text as the
message, with a level only where its own format says one unmistakably, else none. Each feed's
records are sorted (a service's tasks interleave), then all feeds are merged (``heapq.merge``).
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pipeline.commands import Result
from pipeline.errors import UserError

#: the parts ``pipeline logs`` reads, in this order (a kind reads those it has; the default: every one there is)
LOG_PARTS = ("app-stable", "app-canary", "app-baseline", "edge", "db", "cache", "prometheus", "alertmanager")
LogForm = Literal["stamped", "service", "journal", "cloudwatch", "access"]
LEVELS = ("debug", "info", "warning", "error", "critical")  # least to most severe
ACCESS_LINES = 20_000  # the most lines of an edge's access log one read takes (its window when filtering)
_NS = 1_000_000_000

_ALIASES = {
    "trace": "debug",
    "verbose": "debug",
    "notice": "info",
    "log": "info",
    "warn": "warning",
    "err": "error",
    "fatal": "critical",
    "crit": "critical",
    "alert": "critical",
    "emerg": "critical",
    "panic": "critical",
}
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:?\d{2})")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# docker service logs' context: <service>.<slot>[.<task id>]@<node><padding> |
_TASK = re.compile(r"(\S+?)@(\S+)\s+\|(?: |$)")
_REDIS = {".": "debug", "-": "debug", "*": "info", "#": "warning"}  # its verbosity marks
# the few plain formats whose level is unmistakable: the pattern, and its words' levels ({}: the word is one)
_GUESSES: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = (
    (re.compile(r"\b(DEBUG[1-5]|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC):  "), {}),  # PostgreSQL
    (re.compile(r"^\d+:[XCSM] \d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2}\.\d{3} ([.*#-]) "), _REDIS),  # Redis
    (re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[(\w+)\] "), {}),  # nginx's error log
    (re.compile(r"(?:^|\s)level=\"?(\w+)"), {}),  # logfmt (Prometheus)
)


@dataclass(frozen=True)
class LogFeed:
    """One source's lines: the part it belongs to, the task or container when its lines do not say
    (``source``), how they are written, and the text; ``error``: why it could not be read."""

    service: str
    form: LogForm
    text: str = ""
    source: str = ""
    error: str = ""
    units: tuple[tuple[str, str], ...] = ()  # journal: (unit name prefix, part) pairs


def feed_of(result: Result, service: str, form: LogForm, source: str = "") -> LogFeed:
    """What a read gave: both streams (``docker logs`` writes a container's stderr on its own), or
    why it failed (its last line)."""
    if not result.ok:
        said = (result.stderr or result.stdout).strip().splitlines()
        return LogFeed(service, form, source=source, error=said[-1] if said else f"exit {result.returncode}")
    return LogFeed(service, form, result.stdout + ("\n" + result.stderr if result.stderr else ""), source)


@dataclass(frozen=True)
class LogRecord:
    """One log line: when (ns since the epoch), which part and task, its level (None: not said), its message and fields."""

    ns: int
    service: str
    task: str
    level: str | None
    message: str
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def time(self) -> str:
        """RFC 3339, UTC, to the nanosecond."""
        return f"{datetime.fromtimestamp(self.ns // _NS, UTC):%Y-%m-%dT%H:%M:%S}.{self.ns % _NS:09d}Z"

    def text(self) -> str:
        """What ``--grep`` searches: the message and every field as ``key=value``."""
        return " ".join([self.message, *(f"{k}={_flat(v)}" for k, v in self.fields.items())])

    def as_dict(self) -> dict[str, Any]:
        return {"time": self.time, "service": self.service, "task": self.task, "level": self.level,
                "message": self.message, "fields": self.fields}  # fmt: skip


@dataclass(frozen=True)
class LogQuery:
    """Which records to show: a time window (ns), a pattern over the text, the least level, the last ``tail``."""

    since: int | None = None
    until: int | None = None
    grep: re.Pattern[str] | None = None
    level: str | None = None
    tail: int | None = None

    @property
    def filters(self) -> bool:
        """Whether records are dropped by more than time alone (each source must then be read whole)."""
        return self.grep is not None or self.level is not None

    def keeps(self, record: LogRecord) -> bool:
        if self.since is not None and record.ns < self.since:
            return False
        if self.until is not None and record.ns > self.until:
            return False
        if self.level is not None and (record.level is None or LEVELS.index(record.level) < LEVELS.index(self.level)):
            return False
        return self.grep is None or self.grep.search(record.text()) is not None


# --- the options -----------------------------------------------------------------------------


def parse_time(text: str, option: str, now: float) -> int:
    """``--since``/``--until``: a duration back from ``now`` (``10m``, ``2h``, ``1h30m``, ``30s``) or an
    RFC 3339 time, as ns since the epoch; anything else is the user's mistake, naming the option."""
    if re.fullmatch(f"(?:{_DURATION.pattern})+", text):
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))
        return int(now * _NS) - int(seconds * _NS)
    stamp = stamp_ns(text)
    if stamp is None or _TIME.fullmatch(text) is None:
        raise UserError(
            f"{option} {text!r}: not a duration or an RFC 3339 time",
            hint=f"{option} 10m, {option} 2h30m, {option} 30s or {option} 2024-05-01T12:00:00Z",
        )
    return stamp


def parse_grep(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UserError(
            f"--grep {pattern!r}: not a regular expression ({exc.msg})",
            hint="--grep takes a Python regular expression; escape a literal ( [ * + ? with a backslash",
        ) from None


def parse_level(level: str) -> str:
    name = _level(level)
    if name is None:
        raise UserError(f"--level {level!r}: not a level", hint=f"one of {', '.join(LEVELS)}")
    return name


def stamp_ns(text: str) -> int | None:
    """An RFC 3339 time at the start of ``text`` as ns since the epoch (None: there is none)."""
    found = _TIME.match(text)
    if found is None:
        return None
    date, clock, fraction, zone = found.groups()
    try:
        when = datetime.fromisoformat(f"{date}T{clock}{'+00:00' if zone in 'Zz' else zone}")
    except ValueError:
        return None
    return int(when.timestamp()) * _NS + int((fraction or "").ljust(9, "0"))


# --- lines into records ----------------------------------------------------------------------


def records(feed: LogFeed) -> list[LogRecord]:
    """The feed's lines as records, in time order; a line with no time of its own is dropped."""
    parse = {"stamped": _stamped, "service": _stamped, "journal": _journal, "cloudwatch": _cloudwatch, "access": _access}[
        feed.form
    ]
    out: list[LogRecord] = []
    for line in feed.text.splitlines():
        record = parse(feed, line) if line.strip() else None
        if record is not None:
            out.append(record)
    out.sort(key=_ns)  # stable: lines of one time keep their order
    return out


def merge(feeds: Iterable[LogFeed]) -> Iterator[LogRecord]:
    """Every feed's records, in one time order."""
    return heapq.merge(*(records(feed) for feed in feeds), key=_ns)


def select(feeds: Iterable[LogFeed], query: LogQuery) -> list[LogRecord]:
    """The records the query keeps, in time order (its last ``tail`` when it has one)."""
    kept = [record for record in merge(feeds) if query.keeps(record)]
    return kept[-query.tail :] if query.tail else kept


def _ns(record: LogRecord) -> int:
    return record.ns


def payload(service: str, task: str, ns: int, text: str) -> LogRecord:
    """A record of one line's text: a JSON object's level, message and fields, else the text as it is."""
    data = _object(text)
    if data is None:
        return LogRecord(ns, service, task, guess_level(text), text)
    level = data.pop("level", None)
    message = data.pop("message", None)
    if message is None:
        message = data.pop("msg", "")
    data.pop("time", None)
    return LogRecord(ns, service, task, _level(str(level)) if level is not None else None, _flat(message), data)


def guess_level(text: str) -> str | None:
    """The level a plain line's own format says (PostgreSQL, Redis, nginx, logfmt); None when none does."""
    for pattern, names in _GUESSES:
        found = pattern.search(text)
        if found:
            word = found.group(1)
            return names[word] if names else _level(re.sub(r"\d$", "", word))
    return None


def _stamped(feed: LogFeed, line: str) -> LogRecord | None:
    stamp, _, rest = line.partition(" ")
    ns = stamp_ns(stamp) if _TIME.fullmatch(stamp) else None
    if ns is None:  # docker stamps every line: this one is the CLI's own (a warning on its stderr)
        return None
    task = feed.source
    if feed.form == "service":
        context = _TASK.match(rest)
        if context is not None:
            task, rest = f"{context.group(1)}@{context.group(2)}", rest[context.end() :]
    return payload(feed.service, task, ns, rest)


def _journal(feed: LogFeed, line: str) -> LogRecord | None:
    entry = _object(line)
    if entry is None or not str(entry.get("__REALTIME_TIMESTAMP", "")).isdigit():
        return None
    message = entry.get("MESSAGE", "")
    if isinstance(message, list):  # journald gives a message that is not UTF-8 as its bytes
        message = bytes(b for b in message if isinstance(b, int) and 0 <= b < 256).decode("utf-8", "replace")
    unit = str(entry.get("_SYSTEMD_UNIT") or entry.get("SYSLOG_IDENTIFIER") or "")
    service = next((part for prefix, part in feed.units if unit.startswith(prefix)), feed.service or unit)
    instance = unit.partition("@")[2].removesuffix(".service")
    task = "@".join(p for p in (instance, str(entry.get("_HOSTNAME", ""))) if p)
    record = payload(service, task, int(entry["__REALTIME_TIMESTAMP"]) * 1000, str(message))
    priority = str(entry.get("PRIORITY", ""))
    if record.level is None and priority.isdigit() and int(priority) < 5:  # said outright (every stdout line is 6)
        level = ("critical", "critical", "critical", "error", "warning")[int(priority)]
        record = LogRecord(record.ns, record.service, record.task, level, record.message, record.fields)
    return record


def _cloudwatch(feed: LogFeed, line: str) -> LogRecord | None:
    event = _object(line)
    if event is None or not isinstance(event.get("timestamp"), int):
        return None
    return payload(feed.service, str(event.get("logStreamName", feed.source)), event["timestamp"] * 1_000_000,
                   str(event.get("message", "")))  # fmt: skip


def _access(feed: LogFeed, line: str) -> LogRecord | None:
    data = _object(line)
    if data is None:
        return None
    try:
        seconds, _, millis = str(data.pop("msec")).partition(".")
        ns = int(seconds) * _NS + int(millis.ljust(9, "0")[:9])
    except (KeyError, ValueError):
        return None
    status = data.get("status")
    code = status if isinstance(status, int) else 0
    level = "error" if code >= 500 else "warning" if code >= 400 else "info"
    message = f"{data.get('method', '')} {data.get('uri', '')} {status}"
    data.pop("time", None)
    return LogRecord(ns, feed.service, feed.source, level, message, data)


def _object(text: str) -> dict[str, Any] | None:
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _level(word: str) -> str | None:
    name = word.strip().lower()
    name = _ALIASES.get(name, name)
    return name if name in LEVELS else None


def _flat(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


def source_tail(query: LogQuery) -> int | None:
    """How many lines from its end each source is read: the query's ``tail`` suffices unless records are
    filtered by more than time or cut at ``--until`` (a source reads back from now); None: its whole window."""
    return query.tail if query.tail and not query.filters and query.until is None else None


def window_args(query: LogQuery) -> list[str]:
    """The ``--since`` and ``--tail`` of a ``docker (service) logs`` read for ``query``."""
    args: list[str] = []
    if query.since is not None:
        args += ["--since", f"{query.since // _NS}.{query.since % _NS:09d}"]
    tail = source_tail(query)
    return args + (["--tail", str(tail)] if tail else [])


def file_lines(query: LogQuery) -> int:
    """How many lines of a log file (the edge's access log) one read takes for ``query``."""
    return min(source_tail(query) or ACCESS_LINES, ACCESS_LINES)
