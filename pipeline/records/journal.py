"""The journal: an append-mostly SQLite audit log of deploys and what happened during them.

The deploy target holds the live state; the journal records who deployed what, when,
why, under which policy, every step and analysis of a canary, and how it ended. It is
one SQLite file (``default_path``) in WAL mode with a busy timeout, and every write is
its own short ``BEGIN IMMEDIATE`` transaction, so several processes (a deploy, a flag
toggle, a chaos run, a ``status`` reader) can open the same file at once.

Tables::

    deploys(id, env, version, previous, actor, reason, started, finished, outcome, outcome_reason, policy JSON)
    events(id, deploy_id -> deploys NULL, env, ts, kind, data JSON)

Times are Unix epoch seconds (floats). ``finished``/``outcome`` stay NULL while a deploy
runs (``open_deploys``); ``outcome`` is one of ``OUTCOMES``.

Event kinds written by the canary controller (``data`` shown as JSON)::

    step      {"step": 1, "weight": 25}                      traffic moved to the next canary weight
    snapshot  {"t": 1700000000.0, "weight": 25,              metrics of one sampling window; "t" is the
               "tracks": {"stable": {"requests", "errors",    sample time in epoch seconds (the event's
                                     "error_rate", "p50_ms",  ts when absent); error_rate is a share 0..1;
                                     "p95_ms", "p99_ms"},     any metric may be null (no data)
                          "canary": {...}}}
    verdict   {"step": 1, "weight": 25, "verdict": "pass"|"fail"|"inconclusive",
               "checks": [{"name", "verdict", "value", "limit", "detail"}]}
    decision  {"action": "next"|"extend"|"promote"|"rollback"|"abort", "reason": "..."}
    lock      {"action": "acquired"|"released"|"broken", "holder": "user@host"}
    gate      {"name": "smoke", "ok": true, "summary": "..."}
    bake      {...}                                           post-promotion bake period

Standalone events (``deploy_id`` NULL, tied only to an env): ``flag`` (a feature flag
toggle), ``chaos`` (a chaos run), ``rollback`` (a manual rollback outside a deploy).
Other kinds are accepted; readers must ignore what they do not know.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from pipeline import jsontext, redact

__all__ = [
    "EVENT_KINDS",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "DeployRow",
    "EventRow",
    "Journal",
    "actor",
    "default_path",
]

SCHEMA_VERSION: Final = 1
BUSY_TIMEOUT_MS: Final = 10_000
OUTCOMES: Final = frozenset({"promoted", "rolled_back", "aborted", "failed", "deployed"})
EVENT_KINDS: Final = frozenset(
    {"step", "snapshot", "verdict", "decision", "lock", "gate", "bake", "flag", "chaos", "rollback", "node"}
)

# Each entry migrates from user_version == index to index + 1. Append only; never edit.
_MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE IF NOT EXISTS deploys (
        id INTEGER PRIMARY KEY,
        env TEXT NOT NULL,
        version TEXT NOT NULL,
        previous TEXT NULL,
        actor TEXT NOT NULL,
        reason TEXT NOT NULL,
        started REAL NOT NULL,
        finished REAL NULL,
        outcome TEXT NULL,
        outcome_reason TEXT NULL,
        policy TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY,
        deploy_id INTEGER NULL REFERENCES deploys(id),
        env TEXT NOT NULL,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX IF NOT EXISTS events_env_ts ON events(env, ts);
    CREATE INDEX IF NOT EXISTS events_deploy ON events(deploy_id);
    CREATE INDEX IF NOT EXISTS deploys_env_started ON deploys(env, started);
    """,
)
assert len(_MIGRATIONS) == SCHEMA_VERSION


def _dumps(value: Mapping[str, Any]) -> str:
    # default=str: an audit write must not fail on a Path or a datetime in the payload;
    # a non-finite number is stored as null (strict JSON, ``pipeline.jsontext``); a registered
    # secret or a URL password never reaches the audit log (``pipeline.redact``).
    return jsontext.dumps(redact.data(dict(value)), sort_keys=True, separators=(",", ":"), default=str)


def _loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"_raw": text}
    return value if isinstance(value, dict) else {"_value": value}


@dataclass(frozen=True)
class DeployRow:
    """One deploy as recorded in the journal (``finished``/``outcome`` are None while it runs)."""

    id: int
    env: str
    version: str
    previous: str | None
    actor: str
    reason: str
    started: float
    finished: float | None
    outcome: str | None
    outcome_reason: str | None
    policy: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def running(self) -> bool:
        """True while the deploy has no outcome yet."""
        return self.finished is None

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, or None while running."""
        return None if self.finished is None else self.finished - self.started

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (policy already decoded)."""
        return {
            "id": self.id,
            "env": self.env,
            "version": self.version,
            "previous": self.previous,
            "actor": self.actor,
            "reason": self.reason,
            "started": self.started,
            "finished": self.finished,
            "outcome": self.outcome,
            "outcome_reason": self.outcome_reason,
            "policy": self.policy,
        }

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> DeployRow:
        return cls(
            id=row["id"],
            env=row["env"],
            version=row["version"],
            previous=row["previous"],
            actor=row["actor"],
            reason=row["reason"],
            started=row["started"],
            finished=row["finished"],
            outcome=row["outcome"],
            outcome_reason=row["outcome_reason"],
            policy=_loads(row["policy"]),
        )


@dataclass(frozen=True)
class EventRow:
    """One journal event; ``deploy_id`` is None for standalone events (flag, chaos, rollback)."""

    id: int
    deploy_id: int | None
    env: str
    ts: float
    kind: str
    data: dict[str, Any] = field(default_factory=dict, hash=False)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (data already decoded)."""
        return {"id": self.id, "deploy_id": self.deploy_id, "env": self.env, "ts": self.ts, "kind": self.kind, "data": self.data}

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> EventRow:
        return cls(
            id=row["id"], deploy_id=row["deploy_id"], env=row["env"], ts=row["ts"], kind=row["kind"], data=_loads(row["data"])
        )


class Journal:
    """The SQLite journal at ``path``; creates parent dirs and the schema, migrates older files.

    One connection per object, used from one thread. Open one ``Journal`` per process
    (or several: they coordinate through SQLite's locks and the busy timeout).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; every write opens its own below.
        self._db: sqlite3.Connection | None = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except BaseException:
            self.close()
            raise

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise ValueError("journal is closed")
        return self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; takes the write lock up front (waits up to the busy timeout)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self) -> None:
        """Bring the schema to SCHEMA_VERSION; safe to run concurrently and repeatedly."""
        if self.schema_version() >= SCHEMA_VERSION:
            return
        with self._write() as conn:
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            for version in range(current, SCHEMA_VERSION):
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")

    def schema_version(self) -> int:
        """The schema version of the file (PRAGMA user_version)."""
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    # -- writes ------------------------------------------------------------------

    def start_deploy(
        self,
        env: str,
        version: str,
        previous: str | None,
        actor: str,
        reason: str,
        policy: dict[str, Any],
        ts: float | None = None,
    ) -> int:
        """Record the start of a deploy of ``version`` to ``env`` (replacing ``previous``); returns its id."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO deploys (env, version, previous, actor, reason, started, policy) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (env, version, previous, actor, redact.text(reason), time.time() if ts is None else ts, _dumps(policy)),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def event(self, env: str, kind: str, data: dict[str, Any], deploy_id: int | None = None, ts: float | None = None) -> int:
        """Append one event (of a deploy, or standalone when ``deploy_id`` is None); returns its id.

        Raises ``sqlite3.IntegrityError`` if ``deploy_id`` names no deploy.
        """
        if not kind:
            raise ValueError("event kind must not be empty")
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO events (deploy_id, env, ts, kind, data) VALUES (?, ?, ?, ?, ?)",
                (deploy_id, env, time.time() if ts is None else ts, kind, _dumps(data)),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_deploy(self, deploy_id: int, outcome: str, reason: str, ts: float | None = None) -> None:
        """Record how a deploy ended. ``outcome`` is one of ``OUTCOMES``.

        Raises ``ValueError`` for an unknown outcome, an unknown deploy, or one already finished
        (an audit record is not rewritten).
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(sorted(OUTCOMES))}")
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE deploys SET finished = ?, outcome = ?, outcome_reason = ? WHERE id = ? AND finished IS NULL",
                (time.time() if ts is None else ts, outcome, redact.text(reason), deploy_id),
            )
            if cur.rowcount != 1:
                exists = conn.execute("SELECT outcome FROM deploys WHERE id = ?", (deploy_id,)).fetchone()
                if exists is None:
                    raise ValueError(f"no deploy with id {deploy_id}")
                raise ValueError(f"deploy {deploy_id} already finished ({exists['outcome']})")

    # -- reads -------------------------------------------------------------------

    def deploy(self, deploy_id: int) -> DeployRow | None:
        """The deploy with this id, or None."""
        row = self._conn.execute("SELECT * FROM deploys WHERE id = ?", (deploy_id,)).fetchone()
        return None if row is None else DeployRow._from_row(row)

    def deploys(self, env: str, limit: int = 20) -> list[DeployRow]:
        """The last ``limit`` deploys of ``env``, newest first."""
        rows = self._conn.execute(
            "SELECT * FROM deploys WHERE env = ? ORDER BY started DESC, id DESC LIMIT ?", (env, limit)
        ).fetchall()
        return [DeployRow._from_row(r) for r in rows]

    def open_deploys(self, env: str) -> list[DeployRow]:
        """Deploys of ``env`` without an outcome yet (running, or interrupted), newest first."""
        rows = self._conn.execute(
            "SELECT * FROM deploys WHERE env = ? AND finished IS NULL ORDER BY started DESC, id DESC", (env,)
        ).fetchall()
        return [DeployRow._from_row(r) for r in rows]

    def events(self, deploy_id: int) -> list[EventRow]:
        """Every event of one deploy, oldest first."""
        rows = self._conn.execute("SELECT * FROM events WHERE deploy_id = ? ORDER BY ts, id", (deploy_id,)).fetchall()
        return [EventRow._from_row(r) for r in rows]

    def env_events(self, env: str, kinds: Sequence[str] | None = None, limit: int = 100) -> list[EventRow]:
        """The last ``limit`` events of ``env`` (of any deploy or none), newest first, optionally only ``kinds``."""
        if isinstance(kinds, str):
            kinds = [kinds]
        sql = "SELECT * FROM events WHERE env = ?"
        params: list[Any] = [env]
        if kinds is not None:
            if not kinds:
                return []
            sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
            params.extend(kinds)
        sql += " ORDER BY ts DESC, id DESC LIMIT ?"
        params.append(limit)
        return [EventRow._from_row(r) for r in self._conn.execute(sql, params).fetchall()]


def default_path(state_dir: Path) -> Path:
    """``state_dir / "journal.sqlite"``, or the path in ``$PIPELINE_JOURNAL`` when set."""
    override = os.environ.get("PIPELINE_JOURNAL", "").strip()
    return Path(override).expanduser() if override else Path(state_dir) / "journal.sqlite"


def _user(environ: Mapping[str, str]) -> str:
    for var in ("USER", "LOGNAME"):
        if environ.get(var):
            return environ[var]
    uid = os.getuid()
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid{uid}"


def actor(environ: Mapping[str, str] | None = None) -> str:
    """Who is acting: ``user@host``; ``<GITHUB_ACTOR>@host`` under GitHub Actions; `` (ci)`` appended when CI=true."""
    env = os.environ if environ is None else environ
    user = env.get("GITHUB_ACTOR") or _user(env)
    who = f"{user}@{socket.gethostname()}"
    if env.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        who += " (ci)"
    return who
