"""Parse and validate a flagd flag-definition set.

Order of the checks, so each mistake gets its own exit code and a key path:
JSON (51) -> per flag: variant types (53) -> schema subset (50) -> default variant and
variants named by targeting (52) -> fractional percentages (54).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in the locks

from pipeline.errors import FlagsError, FlagsNotJson, FlagValueInvalid, RolloutInvalid, UnknownFlag

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "featureflags" / "schema" / "flags.schema.json"
DEFAULTS_PATH = Path(__file__).resolve().parents[2] / "featureflags" / "flags.json"
FlagSet = dict[str, Any]


@cache
def _validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft7Validator(schema)


def parse(text: str, source: str) -> FlagSet:
    """JSON text -> a validated definition set; raises a ``FlagsError`` naming ``source``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FlagsNotJson(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            hint="fix the JSON syntax; nothing was changed",
        ) from None
    validate(data, source)
    return dict(data)


def value_type(value: Any) -> str:
    """The flagd type of one variant value: boolean, string, number or object."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def flag_type(flag: Mapping[str, Any]) -> str:
    variants = flag.get("variants") or {}
    return value_type(next(iter(variants.values()))) if variants else "unknown"


def validate(data: Any, source: str) -> None:
    """Raise the first problem of a parsed definition set, with its key path."""
    if not isinstance(data, dict) or not isinstance(data.get("flags"), dict):
        raise FlagsError(
            f"{source}: flags: a definition set is an object with a `flags` object", hint="see featureflags/flags.json"
        )
    for key, flag in data["flags"].items():
        variants = flag.get("variants") if isinstance(flag, dict) else None
        if isinstance(variants, dict) and variants:
            types = {value_type(v) for v in variants.values()}
            if len(types) > 1:
                raise FlagValueInvalid(
                    f"{source}: flags/{key}/variants: values of different types ({', '.join(sorted(types))})",
                    hint="all variants of a flag are boolean, string, number or object",
                )
            if types - {"boolean", "string", "number", "object"}:
                raise FlagValueInvalid(
                    f"{source}: flags/{key}/variants: {types.pop()} is not a flag value type",
                    hint="variants are booleans, strings, numbers or objects",
                )
    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise FlagsError(f"{source}: {path}: {error.message}", hint="see featureflags/schema/flags.schema.json")
    for key, flag in data["flags"].items():
        _check_flag(source, key, flag)


def _check_flag(source: str, key: str, flag: Mapping[str, Any]) -> None:
    variants = flag["variants"]
    default = flag.get("defaultVariant")
    if default is not None and default not in variants:
        raise UnknownFlag(
            f"{source}: flags/{key}/defaultVariant: '{default}' is not a variant",
            hint=f"one of {', '.join(sorted(variants))}",
        )
    targeting = flag.get("targeting") or {}
    for path, name in _named_variants(targeting, f"flags/{key}/targeting"):
        if name not in variants:
            raise UnknownFlag(
                f"{source}: {path}: targeting names variant '{name}', which is not defined",
                hint=f"one of {', '.join(sorted(variants))}",
            )
    for path, weights in _fractionals(targeting, f"flags/{key}/targeting"):
        total = sum(weights)
        if total != 100:
            raise RolloutInvalid(
                f"{source}: {path}: fractional percentages add up to {total}, not 100",
                hint="give every variant a whole percentage; together 100",
            )


def _fractionals(rule: Any, path: str) -> Iterator[tuple[str, list[int]]]:
    """Every ``fractional`` operation under a rule, with its percentages."""
    if isinstance(rule, dict):
        for op, args in rule.items():
            if op == "fractional" and isinstance(args, list):
                buckets = [a for a in args if isinstance(a, list)]
                weights = [b[1] if len(b) == 2 and isinstance(b[1], int) and not isinstance(b[1], bool) else 1 for b in buckets]
                if any(len(b) != 2 for b in buckets):
                    raise RolloutInvalid(
                        f"{path}/fractional: each bucket is [variant, percentage]",
                        hint='e.g. {"fractional": [["on", 10], ["off", 90]]}',
                    )
                yield f"{path}/fractional", weights
            else:
                yield from _fractionals(args, f"{path}/{op}")
    elif isinstance(rule, list):
        for i, item in enumerate(rule):
            yield from _fractionals(item, f"{path}/{i}")


def _named_variants(rule: Any, path: str) -> Iterator[tuple[str, str]]:
    """Variant names a rule can return: fractional bucket names and the string results of ``if``."""
    if isinstance(rule, dict):
        for op, args in rule.items():
            here = f"{path}/{op}"
            if op == "fractional" and isinstance(args, list):
                for i, bucket in enumerate(args):
                    if isinstance(bucket, list) and bucket and isinstance(bucket[0], str):
                        yield f"{here}/{i}", bucket[0]
            elif op == "if" and isinstance(args, list):
                for i, arg in enumerate(args):
                    is_result = i % 2 == 1 or i == len(args) - 1
                    if is_result and isinstance(arg, str):
                        yield f"{here}/{i}", arg
                    else:
                        yield from _named_variants(arg, f"{here}/{i}")
            elif op != "var":
                yield from _named_variants(args, here)
    elif isinstance(rule, list):
        for i, item in enumerate(rule):
            yield from _named_variants(item, f"{path}/{i}")


def dumps(data: Mapping[str, Any]) -> str:
    """The canonical text of a definition set (stable key order, one trailing newline)."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def defaults_text() -> str:
    return DEFAULTS_PATH.read_text()


def baseline_path(root: Path, env: str) -> Path:
    """An environment's committed flag baseline: environments/<env>/flags.json, else featureflags/flags.json."""
    own = root / "environments" / env / "flags.json"
    return own if own.is_file() else root / "featureflags" / "flags.json"
