"""Load and validate env files; every problem becomes one ``ConfigError`` line.

Env files are validated strictly: an integer is written as one (``10``; not ``10.0``,
``"10"`` or ``true``), a number field takes ``10`` or ``10.5`` but not ``true``, a string is
a string. Duplicate keys, nesting deeper than ``yamlfile.MAX_DEPTH`` and text that is not
UTF-8 are refused with the file and the line. Values of ``app.env`` under secret-looking
names are registered with ``pipeline.redact``: no output shows them.
"""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pipeline import redact
from pipeline.environment import yamlfile
from pipeline.environment.model import Environment
from pipeline.errors import ConfigError, UnknownEnvironment

ENV_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")


def environments_dir(root: Path) -> Path:
    return root / "environments"


def known_environments(root: Path) -> list[str]:
    base = environments_dir(root)
    if not base.is_dir():
        return []
    return sorted(p.parent.name for p in base.glob("*/env.yaml"))


def load_environment(root: Path, name: str) -> Environment:
    """Load ``environments/<name>/env.yaml`` below ``root``."""
    if not ENV_NAME.fullmatch(name):
        raise UnknownEnvironment(
            f"'{name}' is not a valid environment name",
            hint="lowercase letters, digits and '-', e.g. ENV=local",
        )
    path = environments_dir(root) / name / "env.yaml"
    if not path.is_file():
        known = known_environments(root)
        raise UnknownEnvironment(
            f"unknown environment '{name}': {_rel(path, root)} does not exist",
            hint=f"known environments: {', '.join(known) or 'none'}",
        )
    return load_file(path, name=name, root=root)


def load_file(path: Path, name: str | None = None, root: Path | None = None) -> Environment:
    shown = _rel(path, root) if root else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror}", hint="check the path") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{shown}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})",
            hint="save the file as UTF-8",
        ) from None
    try:
        data = yamlfile.parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or "not valid YAML"
        hint = (
            "each key may appear once in a mapping"
            if problem.endswith("duplicate key")
            else "an env file is a few levels deep: see environments/env.example.yaml"
            if problem.startswith("nested deeper")
            else "fix the YAML syntax"
        )
        raise ConfigError(f"{shown}: {where}{problem}", hint=hint) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}: the top level must be a mapping of keys", hint="see environments/env.example.yaml")
    data.setdefault("name", name or path.parent.name)
    try:
        environment = Environment.model_validate(data, strict=True)
    except ValidationError as exc:
        raise _config_error(shown, exc) from None
    # app.env is the user's: a value under a secret-looking name is never shown (pipeline.redact)
    redact.register_env(environment.app.env)
    return environment


def _config_error(shown: str, exc: ValidationError) -> ConfigError:
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    key = ".".join(loc) or "(top level)"
    more = len(exc.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    if first["type"] == "extra_forbidden":
        known = _known_keys(loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys here: {', '.join(known)}"
        return ConfigError(f"{shown}: {key}: unknown key{tail}", hint=hint)
    message = str(first["msg"]).removeprefix("Value error, ")
    # a model's own check names the key it is about ("steps: ..."): fold it into the key path
    named = re.match(r"([a-z_]+(?:\.[a-z0-9_]+)*): (.*)", message, re.S)
    if named and named.group(1).split(".")[0] in _known_keys(loc):
        loc = [*loc, *named.group(1).split(".")]
        key, message = ".".join(loc), named.group(2)
    # a check that knows the fix gives it (``hint`` in the error's context, e.g. the kind checks)
    given = (first.get("ctx") or {}).get("hint")
    return ConfigError(f"{shown}: {key}: {message}{tail}", hint=given if isinstance(given, str) else _hint_for(loc))


def _model_in(annotation: Any) -> Any:
    """The model an annotation holds: itself, or the model of an optional section (``Vm | None``) or a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _known_keys(loc: list[str]) -> list[str]:
    model: Any = Environment
    for part in loc:
        if part.isdigit():  # an item of a list of models (swarm.workers.1)
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = _model_in(field.annotation)
    fields = getattr(model, "model_fields", None)
    return sorted(fields) if fields else []


def _hint_for(loc: list[str]) -> str:
    model: Any = Environment
    description: str | None = None
    for part in loc:
        if part.isdigit():
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            break
        description = fields[part].description
        model = _model_in(fields[part].annotation) or fields[part].annotation
    if description:
        return description
    if isinstance(model, type) and issubclass(model, BaseModel) and model.__doc__:
        return str(model.__doc__.strip().splitlines()[0])
    return "see environments/env.example.yaml for every key, annotated"


def _rel(path: Path, root: Path | None) -> str:
    if root is None:
        return str(path)
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
