"""Golden buckets of flagd's fractional rollout, with the evaluator pinned in requirements/app.in.

flagd's evaluator changed its bucketing between major versions (the hash input became CBOR of
[flag key, targeting key]). These users must land in these buckets in every release of the
app; an upgrade of openfeature-flagd-core that moves them fails here, before users see it.
"""

from __future__ import annotations

import json
from importlib.metadata import version

from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.evaluation_context import EvaluationContext

ROLLOUTS = {
    "flags": {
        "rollout-3": {
            "state": "ENABLED",
            "variants": {"a": "a", "b": "b", "c": "c"},
            "defaultVariant": "a",
            "targeting": {"fractional": [["a", 34], ["b", 33], ["c", 33]]},
        },
        "new-notes-ui": {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "off",
            "targeting": {"fractional": [["on", 10], ["off", 90]]},
        },
    }
}
GOLDEN_3 = {
    "user-0": "c",
    "user-1": "a",
    "user-2": "c",
    "user-3": "c",
    "user-4": "b",
    "user-5": "a",
    "user-6": "b",
    "user-7": "c",
    "user-8": "b",
    "user-9": "a",
    "user-10": "a",
    "user-11": "c",
    "alice@example.com": "c",
    "bob@example.org": "a",
}
GOLDEN_ON_OF_60 = ["user-0", "user-21", "user-24", "user-26", "user-54"]


def _core() -> FlagdCore:
    core = FlagdCore()
    core.set_flags_and_get_changed_keys(json.dumps(ROLLOUTS))
    return core


def test_the_evaluator_is_the_pinned_major() -> None:
    assert version("openfeature-flagd-core").split(".")[0] == "2"


def test_three_way_rollout_buckets_are_golden() -> None:
    core = _core()
    got = {key: core.resolve_string_value("rollout-3", "x", EvaluationContext(targeting_key=key)).variant for key in GOLDEN_3}
    assert got == GOLDEN_3


def test_ten_percent_rollout_picks_the_same_users() -> None:
    core = _core()
    users = [f"user-{i}" for i in range(60)]
    on = [u for u in users if core.resolve_boolean_value("new-notes-ui", False, EvaluationContext(targeting_key=u)).value]
    assert on == GOLDEN_ON_OF_60
