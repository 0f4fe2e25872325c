"""A direct deploy: one track rolled to a version (zero downtime), then smoke-tested through the edge.

No canary walk: the very first release of an environment, or ``pipeline deploy --track``. It holds
the same lock and writes the same journal rows as a canary run (``Release.locked_journal``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.canary.run import Release
from pipeline.edge import Weights
from pipeline.environment.model import Faults
from pipeline.errors import NotReady, PipelineError
from pipeline.records.journal import actor
from pipeline.smoke import Check, smoke
from pipeline.targets.base import TrackName

SmokeTest = Callable[..., list[Check]]  # smoke(url, expect_version=...) -> checks


@dataclass(frozen=True)
class DirectResult:
    env: str
    track: TrackName
    version: str
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def deploy_direct(
    release: Release, track: TrackName, version: str, faults: Faults | None = None, smoke_test: SmokeTest = smoke
) -> DirectResult:
    """Roll ``track`` to ``version`` under the lock, journalled as one deploy; smoke-test it through the edge.

    The journal row ends ``deployed`` (smoke passed) or ``failed`` (the rollout or the smoke check
    failed); a failed rollout raises its error. ``raise_for_smoke`` turns a failed smoke check into ``NotReady``.
    """
    target, env = release.target, release.env.name
    with release.locked_journal(version, f"direct deploy to {track}") as journal:
        previous = target.status().tracks[track].version
        deploy_id = journal.start_deploy(env, version, previous, actor(), f"direct to {track}", {"track": track})
        try:
            target.deploy_track(track, version, faults=faults)
            if track == "stable" and previous and previous != version:
                target.label_track("stable", {"pipeline.previous": previous})
        except PipelineError as exc:
            journal.finish_deploy(deploy_id, "failed", exc.message)
            raise
        current = target.status()
        if current.weights is None:
            target.set_weights(Weights(0))
        only_stable = current.weights is None or current.weights.canary == 0
        checks = smoke_test(current.url, expect_version=version if track == "stable" and only_stable else None)
        result = DirectResult(env, track, version, checks)
        journal.finish_deploy(
            deploy_id, "failed" if result.failed else "deployed", "smoke failed" if result.failed else "smoke passed"
        )
    return result


def raise_for_smoke(result: DirectResult) -> None:
    if result.failed:
        first = result.failed[0]
        raise NotReady(f"smoke check failed: {first.name}: {first.detail}", hint=f"pipeline logs {result.env}")
