"""The flag operations (set, kill, rollout) and the diff."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.errors import FlagValueInvalid, RolloutInvalid, UnknownFlag
from pipeline.flags import change, definition


def _flags() -> dict[str, Any]:
    return definition.parse(definition.defaults_text(), "defaults")


def test_set_serves_one_variant_and_drops_targeting() -> None:
    before = _flags()
    after = change.set_variant(before, "new-notes-ui", "on")
    assert after["flags"]["new-notes-ui"]["defaultVariant"] == "on"
    assert "targeting" not in after["flags"]["new-notes-ui"]
    assert "targeting" in before["flags"]["new-notes-ui"]  # the input is not modified
    kept = change.set_variant(before, "new-notes-ui", "on", keep_targeting=True)
    assert "targeting" in kept["flags"]["new-notes-ui"]


def test_set_with_a_value_checks_its_type() -> None:
    after = change.set_variant(_flags(), "notes-page-size", "small", change.parse_value("10"))
    assert after["flags"]["notes-page-size"]["variants"]["small"] == 10
    with pytest.raises(FlagValueInvalid) as info:
        change.set_variant(_flags(), "notes-page-size", "small", change.parse_value("ten"))
    assert info.value.exit_code == 53 and "is a string, the flag is number" in info.value.message


@pytest.mark.parametrize(("flag", "variant"), [("nope", "on"), ("notes-excerpt", "maybe")])
def test_unknown_flag_or_variant_is_52(flag: str, variant: str) -> None:
    with pytest.raises(UnknownFlag) as info:
        change.set_variant(_flags(), flag, variant)
    assert info.value.exit_code == 52


def test_kill_serves_the_false_variant() -> None:
    after = change.kill(_flags(), "uploads-enabled")
    assert after["flags"]["uploads-enabled"]["defaultVariant"] == "off"
    with pytest.raises(FlagValueInvalid):
        change.kill(_flags(), "greeting")
    assert change.kill(_flags(), "greeting", "plain")["flags"]["greeting"]["defaultVariant"] == "plain"


def test_rollout_writes_a_fractional_rule() -> None:
    split = change.parse_split(["on=25", "off=75"])
    after = change.rollout(_flags(), "notes-excerpt", split)
    assert after["flags"]["notes-excerpt"]["targeting"] == {"fractional": [["on", 25], ["off", 75]]}
    definition.validate(after, "x")


@pytest.mark.parametrize("items", [["on=10", "off=80"], ["on=10", "off"], ["on=x", "off=90"], ["=50", "off=50"]])
def test_bad_split_is_54(items: list[str]) -> None:
    with pytest.raises(RolloutInvalid) as info:
        change.parse_split(items)
    assert info.value.exit_code == 54


def test_diff_names_each_changed_field() -> None:
    before = _flags()
    after = change.rollout(before, "notes-excerpt", [("on", 10), ("off", 90)])
    diffs = change.diff(before, after)
    assert [d.key for d in diffs] == ["notes-excerpt"]
    assert diffs[0].lines() == ["~ notes-excerpt", '    targeting: null -> {"fractional": [["on", 10], ["off", 90]]}']
    assert change.diff(before, before) == []
    removed = {**before, "flags": {k: v for k, v in before["flags"].items() if k != "greeting"}}
    assert [(d.key, d.change) for d in change.diff(before, removed)] == [("greeting", "removed")]
    assert [(d.key, d.change) for d in change.diff(removed, before)] == [("greeting", "added")]
