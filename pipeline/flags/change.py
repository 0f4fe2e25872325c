"""The operations behind ``pipeline flags``: each takes the live definition set and returns a new one.

They check their own input first (unknown flag 52, wrong value type 53, percentages 54);
the result is validated as a whole by ``definition.validate`` before anything is written.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.errors import FlagValueInvalid, RolloutInvalid, UnknownFlag
from pipeline.flags.definition import FlagSet, flag_type, value_type


def _flag(flags: FlagSet, key: str) -> dict[str, Any]:
    found = flags["flags"].get(key)
    if found is None:
        known = ", ".join(sorted(flags["flags"])) or "none"
        raise UnknownFlag(f"flags/{key}: no such flag", hint=f"known flags: {known}")
    flag: dict[str, Any] = found
    return flag


def _variant(flag: Mapping[str, Any], key: str, variant: str) -> None:
    if variant not in flag["variants"]:
        raise UnknownFlag(
            f"flags/{key}/variants/{variant}: no such variant",
            hint=f"one of {', '.join(sorted(flag['variants']))}",
        )


def parse_value(raw: str) -> Any:
    """A variant value from the command line: JSON (true, 20, "text", {...}), else a plain string."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def set_variant(flags: FlagSet, key: str, variant: str, value: Any = None, keep_targeting: bool = False) -> FlagSet:
    """Serve ``variant`` to everyone (targeting removed unless kept); ``value`` (re)defines the variant."""
    new = copy.deepcopy(flags)
    flag = _flag(new, key)
    if value is not None:
        expected = flag_type(flag)
        if value_type(value) != expected:
            raise FlagValueInvalid(
                f"flags/{key}/variants/{variant}: {json.dumps(value)} is a {value_type(value)}, the flag is {expected}",
                hint=f"give a {expected} value",
            )
        flag["variants"][variant] = value
    _variant(flag, key, variant)
    flag["defaultVariant"] = variant
    flag["state"] = "ENABLED"
    if not keep_targeting:
        flag.pop("targeting", None)
    return new


def kill(flags: FlagSet, key: str, variant: str | None = None) -> FlagSet:
    """The kill switch: a boolean flag serves its ``false`` variant to everyone, at once."""
    flag = _flag(flags, key)
    if variant is None:
        if flag_type(flag) != "boolean":
            raise FlagValueInvalid(
                f"flags/{key}: a {flag_type(flag)} flag has no 'off' value",
                hint="name the variant to serve: --variant NAME",
            )
        offs = [name for name, value in flag["variants"].items() if value is False]
        if not offs:
            raise UnknownFlag(f"flags/{key}/variants: no variant is false", hint="add one, or name it with --variant")
        variant = offs[0]
    return set_variant(flags, key, variant)


def parse_split(items: Sequence[str]) -> list[tuple[str, int]]:
    """``["on=10", "off=90"]`` -> ``[("on", 10), ("off", 90)]``; percentages must add up to 100."""
    split: list[tuple[str, int]] = []
    for item in items:
        name, sep, pct = item.partition("=")
        if not sep or not name or not pct.strip().isdigit():
            raise RolloutInvalid(f"rollout: '{item}' is not VARIANT=PERCENT", hint="e.g. on=10 off=90")
        split.append((name, int(pct)))
    total = sum(p for _, p in split)
    if total != 100:
        raise RolloutInvalid(f"rollout: percentages add up to {total}, not 100", hint="e.g. on=10 off=90")
    return split


def rollout(flags: FlagSet, key: str, split: Sequence[tuple[str, int]]) -> FlagSet:
    """A fractional rollout, sticky per user (bucketed by flag key and targeting key)."""
    new = copy.deepcopy(flags)
    flag = _flag(new, key)
    for variant, _ in split:
        _variant(flag, key, variant)
    flag["state"] = "ENABLED"
    flag["targeting"] = {"fractional": [[variant, pct] for variant, pct in split]}
    return new


@dataclass(frozen=True)
class FlagDiff:
    """What changes in one flag: added, removed or changed, with the old and new definitions."""

    key: str
    change: str
    before: Any
    after: Any

    def lines(self) -> list[str]:
        if self.change == "added":
            return [f"+ {self.key}: {json.dumps(self.after, sort_keys=True)}"]
        if self.change == "removed":
            return [f"- {self.key}"]
        out = [f"~ {self.key}"]
        for field in sorted(set(self.before) | set(self.after)):
            old, new = self.before.get(field), self.after.get(field)
            if old != new:
                out.append(f"    {field}: {json.dumps(old, sort_keys=True)} -> {json.dumps(new, sort_keys=True)}")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"flag": self.key, "change": self.change, "before": self.before, "after": self.after}


def diff(before: FlagSet, after: FlagSet) -> list[FlagDiff]:
    """Per-flag differences between two definition sets (top-level changes show as the flag `(set)`)."""
    old, new = before.get("flags", {}), after.get("flags", {})
    out: list[FlagDiff] = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            out.append(FlagDiff(key, "added", None, new[key]))
        elif key not in new:
            out.append(FlagDiff(key, "removed", old[key], None))
        elif old[key] != new[key]:
            out.append(FlagDiff(key, "changed", old[key], new[key]))
    rest_old = {k: v for k, v in before.items() if k != "flags"}
    rest_new = {k: v for k, v in after.items() if k != "flags"}
    if rest_old != rest_new:
        out.append(FlagDiff("(set)", "changed", rest_old, rest_new))
    return out
