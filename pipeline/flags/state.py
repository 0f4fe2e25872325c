"""The flags in force on an environment, and the revision stamped into every delivered set.

Sources, in order: what the target serves (``FlagDelivery.read``: the live state, changed by
``pipeline flags``), else the environment's committed baseline (``environments/<env>/flags.json``,
else ``featureflags/flags.json``). ``pipeline up`` and deploys deliver the baseline only
where the target has no flags yet, so a toggle survives a redeploy.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline.flags import definition
from pipeline.flags.definition import FlagSet
from pipeline.flags.delivery import FlagDelivery


def revision_of(flags: FlagSet) -> str:
    """A content hash of a definition set, ignoring its own ``metadata.revision``."""
    bare = copy.deepcopy(flags)
    bare.get("metadata", {}).pop("revision", None)
    return hashlib.sha256(json.dumps(bare, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]


def stamped(flags: FlagSet) -> FlagSet:
    """The set with ``metadata.revision`` = its content hash; each replica reports it at /flags."""
    out = copy.deepcopy(flags)
    out.setdefault("metadata", {})["revision"] = revision_of(flags)
    return out


def baseline(root: Path, env: str) -> tuple[FlagSet, str]:
    path = definition.baseline_path(root, env)
    source = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    return definition.parse(path.read_text(), source), source


def current(delivery: FlagDelivery, root: Path, env: str) -> tuple[FlagSet, str]:
    """The live set and where it came from (the target, or the baseline when the target has none)."""
    text = delivery.read()
    if text is None:
        return baseline(root, env)
    return definition.parse(text, delivery.where), delivery.where


def ensure_delivered(delivery: FlagDelivery, root: Path, env: str) -> dict[str, Any]:
    """Give a target its baseline flags if it has none (idempotent; never overwrites a toggle)."""
    if delivery.read() is not None:
        return {"delivered": False, "where": delivery.where}
    flags, source = baseline(root, env)
    delivery.deliver(definition.dumps(stamped(flags)))
    return {"delivered": True, "where": delivery.where, "source": source}
