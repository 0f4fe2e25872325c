"""Jinja filters that put a value into a systemd unit or EnvironmentFile as exactly one value.

* ``systemd_arg``: one argument of ``ExecStart=`` (and the other command lines): double
  quotes, ``\\`` and ``"`` escaped, ``%`` doubled (specifiers) and ``$`` doubled (variable
  expansion), as systemd.service(5) "Command lines" says.
* ``systemd_env``: the value of a ``NAME=value`` line in an ``EnvironmentFile=``: double
  quotes, with ``\\``, ``"``, ``$`` and the backtick escaped; the same text means the same value to
  systemd and to a POSIX shell that sources the file.
* ``systemd_env_name``: the ``NAME`` of such a line, checked.

A control character (a newline would start a directive or a variable of its own) is refused:
the task fails instead of writing the unit.
"""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _text(value: Any, what: str) -> str:
    text = str(value)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise AnsibleFilterError(f"{what}: a control character cannot be put in a systemd unit")
    return text


def systemd_arg(value: Any) -> str:
    text = _text(value, "systemd_arg")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def systemd_env(value: Any) -> str:
    text = _text(value, "systemd_env")
    escaped = re.sub(r'([\\"$`])', r"\\\1", text)
    return f'"{escaped}"'


def systemd_env_name(value: Any) -> str:
    text = str(value)
    if not _NAME.match(text):
        raise AnsibleFilterError("systemd_env_name: an environment variable name is letters, digits and _")
    return text


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"systemd_arg": systemd_arg, "systemd_env": systemd_env, "systemd_env_name": systemd_env_name}
