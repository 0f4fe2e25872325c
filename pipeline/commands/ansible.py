"""Ansible from the pipeline's venv, as ``Command`` values: the inventory of a ``kind: vm``
environment (a YAML inventory dumped from a dict: a value can never become a host variable
of its own, as it could in an INI line), and ``ansible-playbook`` runs of playbooks/ with a
variables file.

The JSON callback gives the play recap as data (``changed`` per host), so ``up`` can say
"changed=0" on a second run and tests can check it."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.commands import Command
from pipeline.commands.ssh import Login


def host_entry(login: Login, **host_vars: Any) -> dict[str, Any]:
    """One host of an inventory: how Ansible logs in, and the host's own variables.

    ``ansible_ssh_common_args`` is split by Ansible with shell rules, so each setting is quoted."""
    common = " ".join(f"-o {shlex.quote(setting)}" for setting in login.settings())
    return {
        "ansible_host": login.host,
        "ansible_port": login.port,
        "ansible_user": login.user,
        "ansible_connection": "ssh",
        "ansible_ssh_private_key_file": str(login.key),
        "ansible_ssh_common_args": common,
        **host_vars,
    }


def inventory_of(groups: dict[str, dict[str, dict[str, Any]]]) -> str:
    """A YAML inventory of groups of hosts (name -> ``host_entry``), built as data and dumped:
    whatever a value holds stays inside that one value (it can never become a variable of its own,
    as it could in an INI line)."""
    data = {"all": {"children": {group: {"hosts": hosts} for group, hosts in groups.items()}}}
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=True)


def inventory(login: Login) -> str:
    """A YAML inventory with one group, ``vm``, holding the environment's host."""
    return inventory_of({"vm": {login.host: host_entry(login)}})


def ansible_bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def playbook(
    root: Path,
    name: str,
    inventory_path: Path,
    vars_path: Path,
    check: bool = False,
    extra: dict[str, Any] | None = None,
    timeout: float = 1200.0,
) -> Command:
    argv = [ansible_bin("ansible-playbook"), "-i", str(inventory_path), "-e", f"@{vars_path}"]
    if extra:
        argv += ["-e", json.dumps(extra, sort_keys=True)]
    if check:
        argv.append("--check")
    argv.append(str(root / "playbooks" / name))
    return Command(
        tuple(argv),
        description=f"ansible-playbook {name}" + (" --check" if check else ""),
        env={
            "ANSIBLE_CONFIG": str(root / "playbooks" / "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "json",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "0",
        },
        check=False,
        timeout=timeout,
        mutates=not check,
    )


@dataclass(frozen=True)
class Recap:
    """What a playbook run did, per the JSON callback."""

    ok: int
    changed: int
    failed: int
    unreachable: int
    failures: list[str]
    changes: tuple[str, ...] = ()  # "task on host" of every change (what a second run should not show)

    @property
    def success(self) -> bool:
        return self.failed == 0 and self.unreachable == 0


def recap(stdout: str) -> Recap:
    """Parse the JSON callback's output (it may be preceded by warnings)."""
    start = stdout.find("{")
    try:
        data = json.loads(stdout[start:]) if start >= 0 else {}
    except ValueError:
        return Recap(0, 0, 1, 0, [stdout.strip().splitlines()[-1] if stdout.strip() else "no output"])
    stats = data.get("stats", {})
    total = {k: sum(int(h.get(k, 0)) for h in stats.values()) for k in ("ok", "changed", "failures", "unreachable")}
    failures: list[str] = []
    changes: list[str] = []
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                name = task.get("task", {}).get("name", "?")
                if result.get("failed") or result.get("unreachable"):
                    message = str(result.get("msg") or result.get("stderr") or "").strip()
                    failures.append(f"{name} on {host}: {message}")
                elif result.get("changed"):
                    changes.append(f"{name} on {host}")
    return Recap(total["ok"], total["changed"], total["failures"], total["unreachable"], failures, tuple(changes))
