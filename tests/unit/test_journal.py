from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from pipeline.records.journal import SCHEMA_VERSION, DeployRow, EventRow, Journal, actor, default_path

POLICY = {"steps": [5, 25, 50, 100], "thresholds": {"max_error_rate": 0.01, "max_p95_ms": 500.0}}


@pytest.fixture
def journal(tmp_path: Path):
    with Journal(tmp_path / "state" / "journal.sqlite") as j:
        yield j


def test_creates_parent_dirs_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.sqlite"
    with Journal(path) as j:
        assert path.is_file()
        assert j.schema_version() == SCHEMA_VERSION
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
        assert {"deploys", "events", "events_env_ts", "events_deploy"} <= tables
    finally:
        db.close()


def test_deploy_and_events_round_trip(journal: Journal) -> None:
    dep = journal.start_deploy("local", "abc123", "old999", "alice@box", "ship it", POLICY, ts=1000.0)
    e1 = journal.event("local", "step", {"step": 1, "weight": 5}, deploy_id=dep, ts=1001.0)
    e2 = journal.event("local", "decision", {"action": "promote", "reason": "all green"}, deploy_id=dep, ts=1002.0)
    journal.finish_deploy(dep, "promoted", "all steps passed", ts=1010.0)

    row = journal.deploy(dep)
    assert row == DeployRow(
        id=dep,
        env="local",
        version="abc123",
        previous="old999",
        actor="alice@box",
        reason="ship it",
        started=1000.0,
        finished=1010.0,
        outcome="promoted",
        outcome_reason="all steps passed",
        policy=POLICY,
    )
    assert row.duration == 10.0 and not row.running
    events = journal.events(dep)
    assert [(e.id, e.kind, e.ts) for e in events] == [(e1, "step", 1001.0), (e2, "decision", 1002.0)]
    assert events[0].data == {"step": 1, "weight": 5}
    assert journal.deploy(dep + 100) is None


def test_as_dict_is_json_ready_and_decoded(journal: Journal) -> None:
    dep = journal.start_deploy("local", "v1", None, "a", "r", POLICY, ts=5.0)
    journal.event("local", "snapshot", {"tracks": {"canary": {"p95_ms": 12.5, "errors": None}}}, deploy_id=dep, ts=6.0)
    d = journal.deploy(dep)
    assert d is not None
    as_dict = json.loads(json.dumps(d.as_dict()))
    assert as_dict["policy"]["thresholds"]["max_p95_ms"] == 500.0
    assert as_dict["previous"] is None and as_dict["finished"] is None
    ev = journal.events(dep)[0].as_dict()
    assert ev["data"]["tracks"]["canary"] == {"p95_ms": 12.5, "errors": None}
    assert ev["deploy_id"] == dep


def test_deploys_newest_first_with_limit_and_per_env(journal: Journal) -> None:
    ids = [journal.start_deploy("local", f"v{i}", None, "a", "r", {}, ts=100.0 + i) for i in range(5)]
    journal.start_deploy("ci", "other", None, "a", "r", {}, ts=500.0)
    assert [d.id for d in journal.deploys("local")] == ids[::-1]
    assert [d.version for d in journal.deploys("local", limit=2)] == ["v4", "v3"]
    assert [d.version for d in journal.deploys("ci")] == ["other"]


def test_open_deploys(journal: Journal) -> None:
    a = journal.start_deploy("local", "v1", None, "a", "r", {}, ts=1.0)
    b = journal.start_deploy("local", "v2", "v1", "a", "r", {}, ts=2.0)
    journal.start_deploy("ci", "v3", None, "a", "r", {}, ts=3.0)
    journal.finish_deploy(a, "rolled_back", "p95 too high", ts=4.0)
    assert [d.id for d in journal.open_deploys("local")] == [b]
    journal.finish_deploy(b, "aborted", "operator", ts=5.0)
    assert journal.open_deploys("local") == []


def test_finish_rejects_bad_outcome_unknown_and_repeat(journal: Journal) -> None:
    dep = journal.start_deploy("local", "v1", None, "a", "r", {})
    with pytest.raises(ValueError, match="unknown outcome"):
        journal.finish_deploy(dep, "great", "x")
    with pytest.raises(ValueError, match="no deploy"):
        journal.finish_deploy(dep + 1, "failed", "x")
    journal.finish_deploy(dep, "failed", "boom")
    with pytest.raises(ValueError, match="already finished"):
        journal.finish_deploy(dep, "promoted", "rewrite history")
    d = journal.deploy(dep)
    assert d is not None and d.outcome == "failed" and d.outcome_reason == "boom"


def test_event_for_unknown_deploy_is_refused(journal: Journal) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        journal.event("local", "step", {}, deploy_id=42)


def test_env_events_standalone_kinds_and_order(journal: Journal) -> None:
    dep = journal.start_deploy("local", "v1", None, "a", "r", {}, ts=1.0)
    journal.event("local", "step", {"weight": 5}, deploy_id=dep, ts=2.0)
    journal.event("local", "flag", {"name": "search", "on": True}, ts=3.0)
    journal.event("local", "chaos", {"fault": "latency"}, ts=4.0)
    journal.event("ci", "flag", {"name": "x"}, ts=5.0)
    assert [e.kind for e in journal.env_events("local")] == ["chaos", "flag", "step"]
    flags = journal.env_events("local", kinds=["flag", "rollback"])
    assert [(e.kind, e.deploy_id, e.data["name"]) for e in flags] == [("flag", None, "search")]
    assert len(journal.env_events("local", limit=1)) == 1
    assert journal.env_events("local", kinds=[]) == []


def test_events_oldest_first_even_if_written_out_of_order(journal: Journal) -> None:
    dep = journal.start_deploy("local", "v1", None, "a", "r", {}, ts=1.0)
    journal.event("local", "b", {}, deploy_id=dep, ts=20.0)
    journal.event("local", "a", {}, deploy_id=dep, ts=10.0)
    assert [e.kind for e in journal.events(dep)] == ["a", "b"]


def test_two_journals_on_one_file_write_alternately(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as one, Journal(path) as two:
        dep = one.start_deploy("local", "v1", None, "a", "r", {}, ts=1.0)
        for i in range(10):
            (one if i % 2 else two).event("local", "snapshot", {"i": i}, deploy_id=dep, ts=2.0 + i)
        two.finish_deploy(dep, "promoted", "ok", ts=50.0)
        # each sees the other's writes immediately (no long-lived transaction)
        assert [e.data["i"] for e in one.events(dep)] == list(range(10))
        d = one.deploy(dep)
        assert d is not None and d.outcome == "promoted"


def _write_events(path: str, tag: int, count: int) -> None:
    with Journal(Path(path)) as j:
        for i in range(count):
            j.event("local", "chaos", {"tag": tag, "i": i})


def test_processes_create_and_write_one_file_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "journal.sqlite"  # they also race to create and migrate it
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_events, args=(str(path), tag, 50)) for tag in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=30)
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    with Journal(path) as j:
        rows = j.env_events("local", limit=1000)
    assert sorted((e.data["tag"], e.data["i"]) for e in rows) == [(t, i) for t in range(3) for i in range(50)]


def test_reopen_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as j:
        dep = j.start_deploy("local", "v1", None, "a", "r", {"k": 1})
    for _ in range(2):
        with Journal(path) as j:
            assert j.schema_version() == SCHEMA_VERSION
            d = j.deploy(dep)
            assert d is not None and d.policy == {"k": 1}


def test_migrates_an_unversioned_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    sqlite3.connect(path).close()
    with Journal(path) as j:
        assert j.schema_version() == SCHEMA_VERSION
        assert j.deploys("local") == []


def test_closed_journal_refuses_use(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    j.close()
    j.close()
    with pytest.raises(ValueError, match="closed"):
        j.deploys("local")


def test_rows_are_frozen(journal: Journal) -> None:
    dep = journal.start_deploy("local", "v1", None, "a", "r", {})
    row = journal.deploy(dep)
    assert row is not None
    with pytest.raises(AttributeError):
        row.version = "v2"  # type: ignore[misc]
    ev = EventRow(id=1, deploy_id=None, env="local", ts=1.0, kind="flag", data={"a": 1})
    assert hash(ev) == hash(EventRow(id=1, deploy_id=None, env="local", ts=1.0, kind="flag", data={"b": 2}))


def test_default_path_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPELINE_JOURNAL", raising=False)
    assert default_path(tmp_path) == tmp_path / "journal.sqlite"
    monkeypatch.setenv("PIPELINE_JOURNAL", str(tmp_path / "elsewhere" / "j.db"))
    assert default_path(tmp_path) == tmp_path / "elsewhere" / "j.db"
    with Journal(default_path(tmp_path)) as j:
        j.event("local", "flag", {})
    assert (tmp_path / "elsewhere" / "j.db").is_file()


def test_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "box")
    assert actor({"USER": "alice"}) == "alice@box"
    assert actor({"LOGNAME": "bob"}) == "bob@box"
    assert actor({"USER": "alice", "CI": "true"}) == "alice@box (ci)"
    assert actor({"USER": "runner", "CI": "true", "GITHUB_ACTOR": "octocat"}) == "octocat@box (ci)"
    fallback = actor({})
    assert fallback.endswith("@box") and len(fallback) > len("@box")
