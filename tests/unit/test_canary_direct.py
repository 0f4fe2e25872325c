"""The direct deploy (``pipeline.canary.direct``): one track rolled and smoke-tested, under the lock, journalled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.canary.direct import deploy_direct, raise_for_smoke
from pipeline.canary.run import Release
from pipeline.environment import load_environment
from pipeline.errors import Locked, NotReady
from pipeline.project import Project
from pipeline.records.journal import Journal, default_path
from pipeline.records.lock import LockInfo
from pipeline.smoke import Check
from pipeline.testing import FakeCanaryTarget

ROOT = Path(__file__).resolve().parents[2]


class Smoke:
    """Stands in for ``pipeline.smoke.smoke``: records what it was asked, answers the given checks."""

    def __init__(self, *checks: Check) -> None:
        self.checks = list(checks) or [Check("healthz", True, "200")]
        self.asked: list[tuple[str, str | None]] = []

    def __call__(self, url: str, expect_version: str | None = None) -> list[Check]:
        self.asked.append((url, expect_version))
        return self.checks


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Release:
    monkeypatch.delenv("PIPELINE_JOURNAL", raising=False)
    target: Any = FakeCanaryTarget()
    return Release(load_environment(ROOT, "local"), Project(ROOT, tmp_path), target, say=lambda _m: None)


def rows(release: Release) -> list[Any]:
    with Journal(default_path(release.project.state)) as journal:
        return journal.deploys(release.env.name)


def test_the_first_release_goes_to_stable_at_weight_0_and_is_smoke_tested_for_its_version(release: Release) -> None:
    smoke = Smoke()
    result = deploy_direct(release, "stable", "v1", smoke_test=smoke)
    target: Any = release.target
    assert target.names() == ["acquire_lock", "deploy_track", "set_weights", "release_lock"]
    assert target.calls[0] == ("acquire_lock", ("direct deploy to stable",))
    assert target.weights == [0] and target.lock is None
    assert smoke.asked == [("http://127.0.0.1:8080", "v1")]
    assert result.failed == []
    raise_for_smoke(result)  # passes: nothing failed
    [row] = rows(release)
    assert (row.version, row.previous, row.reason, row.outcome, row.outcome_reason) == (
        "v1",
        None,
        "direct to stable",
        "deployed",
        "smoke passed",
    )
    assert row.policy == {"track": "stable"}


def test_a_new_stable_records_the_previous_release_and_a_failed_smoke_is_exit_11(release: Release) -> None:
    target: Any = release.target
    target.stable, target.weights, target.baselines = "v1", [0], [0]
    result = deploy_direct(release, "stable", "v2", smoke_test=Smoke(Check("version", False, "served v1")))
    assert ("label_track", ("stable", {"pipeline.previous": "v1"})) in target.calls
    assert "set_weights" not in target.names()  # the edge already has a split
    with pytest.raises(NotReady) as raised:
        raise_for_smoke(result)
    assert raised.value.exit_code == 11
    assert raised.value.message == "smoke check failed: version: served v1"
    assert raised.value.hint == "pipeline logs local"
    [row] = rows(release)
    assert (row.previous, row.outcome, row.outcome_reason) == ("v1", "failed", "smoke failed")


def test_the_canary_track_at_a_weight_is_not_held_to_the_version(release: Release) -> None:
    target: Any = release.target
    target.stable, target.weights, target.baselines = "v1", [10], [0]
    smoke = Smoke()
    deploy_direct(release, "canary", "v2", smoke_test=smoke)
    assert smoke.asked == [("http://127.0.0.1:8080", None)]
    assert "label_track" not in target.names()
    assert rows(release)[0].reason == "direct to canary"


def test_a_failed_rollout_is_journalled_and_raised_and_the_lock_released(release: Release) -> None:
    target: Any = release.target
    target.fail_deploy = "v1"
    smoke = Smoke()
    with pytest.raises(NotReady, match="0/1 tasks healthy"):
        deploy_direct(release, "stable", "v1", smoke_test=smoke)
    assert target.lock is None and target.names()[-1] == "release_lock"
    assert smoke.asked == []
    [row] = rows(release)
    assert row.outcome == "failed" and row.outcome_reason is not None and "0/1 tasks healthy" in row.outcome_reason


def test_a_locked_environment_is_refused_before_anything_runs(release: Release) -> None:
    target: Any = release.target
    other = LockInfo("someone", "elsewhere", 1, "v0", "deploy v0", 0.0)
    target.lock = other
    with pytest.raises(Locked):
        deploy_direct(release, "stable", "v1", smoke_test=Smoke())
    assert target.calls == [] and target.lock is other
    assert rows(release) == []


def test_locked_journal_releases_the_lock_when_the_block_raises(release: Release) -> None:
    target: Any = release.target
    with pytest.raises(RuntimeError), release.locked_journal("v1", "test") as journal:
        journal.event("local", "note", {"n": 1})
        raise RuntimeError("boom")
    assert target.lock is None and target.names() == ["acquire_lock", "release_lock"]


def test_a_canary_whose_baseline_image_is_gone_is_refused_before_anything_is_touched(release: Release) -> None:
    from pipeline.errors import UnknownVersion

    target: Any = release.target
    target.stable, target.registry = "v1", {"v2"}  # the registry was wiped since v1 was deployed
    with pytest.raises(UnknownVersion) as caught:
        release.canary("v2", None, "test", lambda _k, _d: None)
    assert caught.value.message == "the baseline is stable's version v1, and is not in the registry 127.0.0.1:5000/refapp"
    assert "compare_with: stable" in (caught.value.hint or "")
    assert "acquire_lock" not in target.names() and "deploy_tracks" not in target.names()
    assert rows(release) == []  # nothing journalled
