"""``pipeline flags``: read the live set, change it, validate, show the diff, deliver, journal.

Nothing is written before the whole new set passed ``definition.validate``; a change that
changes nothing writes nothing. Every delivered change is a ``flag`` event in the journal
(who, what, when, revisions), which ``pipeline history`` lists beside the deploys.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.flags import definition, state
from pipeline.flags.change import FlagDiff, diff
from pipeline.flags.definition import FlagSet
from pipeline.flags.delivery import FlagDelivery
from pipeline.records.journal import Journal, actor


@dataclass
class FlagChange:
    """The outcome of one ``pipeline flags`` change."""

    env: str
    action: str
    flag: str | None
    before: str
    after: str
    changes: list[FlagDiff]
    where: str
    delivered: bool
    dry_run: bool
    by: str = field(default_factory=actor)

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.env,
            "action": self.action,
            "flag": self.flag,
            "revision_before": self.before,
            "revision": self.after,
            "changes": [c.as_dict() for c in self.changes],
            "where": self.where,
            "delivered": self.delivered,
            "dry_run": self.dry_run,
            "by": self.by,
        }


def _bare(flags: FlagSet) -> FlagSet:
    out = copy.deepcopy(flags)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("revision", None)
        if not meta:
            out.pop("metadata")
    return out


def change(
    delivery: FlagDelivery,
    root: Path,
    env: str,
    action: str,
    flag: str | None,
    mutate: Callable[[FlagSet], FlagSet],
    journal_path: Path,
    dry_run: bool = False,
    detail: dict[str, Any] | None = None,
) -> FlagChange:
    """Apply ``mutate`` to the live set; validate, diff, deliver (unless nothing changes) and journal."""
    current, _ = state.current(delivery, root, env)
    new = mutate(copy.deepcopy(current))
    definition.validate(new, f"flags {action}")
    new = state.stamped(_bare(new))
    changes = diff(_bare(current), _bare(new))
    result = FlagChange(
        env, action, flag, state.revision_of(current), new["metadata"]["revision"], changes, delivery.where, False, dry_run
    )
    if not changes and delivery.read() is not None:
        return result
    delivery.deliver(definition.dumps(new))
    result.delivered = not dry_run
    if not dry_run:
        with Journal(journal_path) as journal:
            journal.event(
                env,
                "flag",
                {
                    "action": action,
                    "flag": flag,
                    "by": result.by,
                    "revision": result.after,
                    "previous": result.before,
                    "changes": [line for c in changes for line in c.lines()],
                    **(detail or {}),
                },
            )
    return result
