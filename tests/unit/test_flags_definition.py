"""Validation of flagd definition sets: schema subset and semantic checks, one exit code each."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from pipeline.errors import FlagsError, FlagsNotJson, FlagValueInvalid, RolloutInvalid, UnknownFlag
from pipeline.flags import definition


def _defaults() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(definition.defaults_text())
    return data


def test_shipped_defaults_are_valid_and_use_every_type() -> None:
    flags = definition.parse(definition.defaults_text(), "featureflags/flags.json")
    types = {definition.flag_type(f) for f in flags["flags"].values()}
    assert types == {"boolean", "string", "number", "object"}


def test_not_json_is_51_with_position() -> None:
    with pytest.raises(FlagsNotJson) as info:
        definition.parse('{"flags": {', "f.json")
    assert info.value.exit_code == 51
    assert "f.json: not valid JSON" in info.value.message and "line 1" in info.value.message


def _broken(edit: Any) -> dict[str, Any]:
    data = _defaults()
    edit(data)
    return data


@pytest.mark.parametrize(
    ("edit", "error", "code", "words"),
    [
        (
            lambda d: d["flags"]["notes-excerpt"]["variants"].update(maybe="yes"),
            FlagValueInvalid,
            53,
            "flags/notes-excerpt/variants",
        ),
        (lambda d: d["flags"]["notes-excerpt"].update(defaultVariant="maybe"), UnknownFlag, 52, "defaultVariant: 'maybe'"),
        (
            lambda d: d["flags"]["new-notes-ui"]["targeting"].update(fractional=[["on", 10], ["of", 90]]),
            UnknownFlag,
            52,
            "targeting names variant 'of'",
        ),
        (
            lambda d: d["flags"]["new-notes-ui"]["targeting"].update(fractional=[["on", 10], ["off", 80]]),
            RolloutInvalid,
            54,
            "add up to 90, not 100",
        ),
        (lambda d: d["flags"]["greeting"]["targeting"]["if"].__setitem__(1, "warm"), UnknownFlag, 52, "variant 'warm'"),
        (lambda d: d["flags"]["notes-excerpt"].update(state="ON"), FlagsError, 50, "flags/notes-excerpt"),
        (lambda d: d.update(flagz={}), FlagsError, 50, "flagz"),
        (lambda d: d.pop("flags"), FlagsError, 50, "flags:"),
        (lambda d: d["flags"]["ui-theme"]["variants"].update(light=[1, 2]), FlagValueInvalid, 53, "types"),
    ],
)
def test_each_mistake_has_its_code_and_key_path(edit: Any, error: type[FlagsError], code: int, words: str) -> None:
    data = _broken(edit)
    with pytest.raises(error) as info:
        definition.validate(data, "env/flags.json")
    assert info.value.exit_code == code
    assert words in info.value.message
    assert info.value.message.startswith("env/flags.json: ")


def test_validation_does_not_modify_its_input() -> None:
    data = _defaults()
    before = copy.deepcopy(data)
    definition.validate(data, "x")
    assert data == before


def test_fractional_with_a_custom_bucketing_key_is_checked_too() -> None:
    data = _defaults()
    data["flags"]["new-notes-ui"]["targeting"] = {"fractional": [{"var": "email"}, ["on", 50], ["off", 49]]}
    with pytest.raises(RolloutInvalid):
        definition.validate(data, "x")
    data["flags"]["new-notes-ui"]["targeting"] = {"fractional": [{"var": "email"}, ["on", 50], ["off", 50]]}
    definition.validate(data, "x")


def test_environment_baseline_falls_back_to_featureflags(tmp_path: Any) -> None:
    (tmp_path / "environments" / "a").mkdir(parents=True)
    (tmp_path / "featureflags").mkdir()
    assert definition.baseline_path(tmp_path, "a") == tmp_path / "featureflags" / "flags.json"
    (tmp_path / "environments" / "a" / "flags.json").write_text("{}")
    assert definition.baseline_path(tmp_path, "a") == tmp_path / "environments" / "a" / "flags.json"
