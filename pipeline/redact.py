"""Secrets never leave their place: one registry of secret values, masked wherever text is shown.

Masking is by *value*, not by name. Whoever reads or generates a secret registers it::

    from pipeline import redact
    redact.register(password, token)          # or Command(..., secrets=(password,))

and from then on, for the rest of the process, every place the pipeline shows or keeps
text passes it through here: a ``--dry-run`` line and the ``command was:`` hint of a failed
command (``Command.shell``), progress lines (``pipeline.console``) and errors (``pipeline.cli.output``), every string
of ``--json`` output (``data``) and the journal's reasons and event data. ``text`` replaces

1. every registered value, wherever it appears and whatever it is called;
2. the password of a URL, ``scheme://user:pw@host`` -> ``scheme://user:***@host``, and the
   user part of an ``http(s)://key@host`` URL (a Sentry DSN, a token in a git remote);
3. the value of a ``NAME=value`` whose (upper-case) name looks secret (``DB_PASSWD``,
   ``SMTP_AUTH``, ``SENTRY_DSN`` ...) and of a JSON ``"db_password": "..."``, for values that
   were never registered.

Values shorter than ``MIN_LENGTH`` are not registered (masking every "1" would make output
unreadable), nor are switches such as ``true`` or ``0`` under a secret-looking name; rules 2
and 3 still catch them. Registering a URL also registers its password or key on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASK", "MIN_LENGTH", "Redactor", "arg", "args", "clear", "data", "looks_secret", "register", "register_env", "text"]

MASK = "***"
MIN_LENGTH = 4

SECRET_WORDS = r"PASS|PWD|SECRET|TOKEN|KEY|AUTH|DSN|CREDENTIAL|PRIVATE|SALT|SIGNATURE|COOKIE|SESSION"
_SECRET_NAME = re.compile(rf"[A-Z0-9_]*({SECRET_WORDS})[A-Z0-9_]*", re.IGNORECASE)
_NAME_ARG = re.compile(rf"((?![A-Z0-9_]*_FILE=)[A-Z0-9_]*(?:{SECRET_WORDS})[A-Z0-9_]*=)(.+)", re.DOTALL)
_NAME_VALUE = re.compile(rf"(?<![A-Za-z0-9_])((?![A-Z0-9_]*_FILE=)[A-Z0-9_]*(?:{SECRET_WORDS})[A-Z0-9_]*=)([^\s'\"]+)")
_SWITCH = re.compile(r"-?\d+(\.\d+)?|true|false|yes|no|on|off|none|null", re.IGNORECASE)
_JSON_VALUE = re.compile(rf"(\"[A-Za-z0-9_]*(?:{SECRET_WORDS})[A-Za-z0-9_]*\"\s*:\s*\")((?:[^\"\\]|\\.)+)(\")", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)([^@/\s]+)(@)")
_URL_USER_KEY = re.compile(r"(https?://)([^:/@\s]+)(@)")


def looks_secret(name: str) -> bool:
    """A variable name that says it holds a secret: ``*PASS*``, ``*TOKEN*``, ``*_DSN``, ``*AUTH*`` ...

    ``*_FILE`` names (``DJANGO_SECRET_KEY_FILE=/run/secrets/...``) hold a path, not the secret.
    """
    return _SECRET_NAME.fullmatch(name) is not None and not name.upper().endswith("_FILE")


class Redactor:
    """A set of secret values and the masking rules; ``text`` applies them."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def register(self, *values: str | None) -> None:
        """Mask these values from now on; a URL's password or key (``redis://:pw@``, a DSN) also on its own."""
        for value in values:
            if value and len(value) >= MIN_LENGTH:
                self._values.add(value)
                parts = [m.group(2) for m in (*_URL_PASSWORD.finditer(value), *_URL_USER_KEY.finditer(value))]
                self._values.update(p for p in parts if len(p) >= MIN_LENGTH)

    def register_env(self, env: Mapping[str, str]) -> None:
        """Register the values of a mapping of variables whose names look secret (a switch such as
        ``PEBBLE_AUTHZREUSE=0`` or ``..._AUTH=true`` is not a secret and is left alone)."""
        self.register(*(value for key, value in env.items() if looks_secret(key) and not _SWITCH.fullmatch(value)))

    def clear(self) -> None:
        self._values.clear()

    def text(self, shown: str) -> str:
        """Free text (a command line, an error): every rule."""
        shown = self.value(shown)
        shown = _JSON_VALUE.sub(lambda m: m.group(1) + MASK + m.group(3), shown)
        return _NAME_VALUE.sub(lambda m: m.group(1) + MASK, shown)

    def value(self, shown: str) -> str:
        """Registered values and URL credentials only: for a string value of structured output."""
        # longest first, so a secret that contains another is masked whole
        for value in sorted(self._values, key=len, reverse=True):
            if value in shown:
                shown = shown.replace(value, MASK)
        shown = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), shown)
        return _URL_USER_KEY.sub(lambda m: m.group(1) + MASK + m.group(3), shown)

    def data(self, data: Any) -> Any:
        """``data`` (dicts, lists, strings ...) with ``value`` applied to every string in it; keys are kept."""
        if isinstance(data, str):
            return self.value(data)
        if isinstance(data, Mapping):
            return {k: self.data(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.data(v) for v in data]
        return data

    def arg(self, argument: str) -> str:
        """One argv element: a whole ``NAME=value`` with a secret-looking name is masked after the ``=``."""
        named = _NAME_ARG.fullmatch(argument)
        return self.text(named.group(1) + MASK if named else argument)

    def args(self, argv: Iterable[str]) -> list[str]:
        return [self.arg(a) for a in argv]


_registry = Redactor()
register = _registry.register
register_env = _registry.register_env
clear = _registry.clear
text = _registry.text
arg = _registry.arg
data = _registry.data
args = _registry.args
