"""The CLI imports what a command needs when it runs (issue 19: a fast start).

Each check runs the CLI in a fresh interpreter and lists the modules it imported; no timing
(that is ``make bench-cli``). A module-level import of the environment model, a target, the
analysis or rich's tables in a ``pipeline/cli`` module, ``pipeline.wiring`` or
``pipeline.targets.base`` fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from pipeline.cli.main import COMMAND_MODULES

ROOT = Path(__file__).resolve().parents[2]

# imported by no command before it runs: what registering the commands and `--help` must not load
HEAVY = (
    "pydantic",
    "yaml",
    "jsonschema",
    "pipeline.environment",
    "pipeline.targets.local",
    "pipeline.targets.vm",
    "pipeline.targets.ecs",
    "pipeline.analysis",
    "pipeline.canary",
    "pipeline.chaos",
    "pipeline.flags",
    "pipeline.gates",
    "pipeline.gha",
    "pipeline.records.journal",
)
# what the commands print with (typer's help is drawn with rich's tables: not checked after --help)
TABLES = ("rich.table", "rich.live")

# the child prints the modules it imported, also when the CLI exits
_LIST = "import json, sys\ntry:\n{body}\nfinally:\n    print('\\nMODULES ' + json.dumps(sorted(sys.modules)))\n"


def imported(body: str, *args: str) -> set[str]:
    code = _LIST.format(body="\n".join("    " + line for line in body.splitlines()))
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PIPELINE_ROOT": str(ROOT), "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.rsplit("MODULES ", 1)[1]))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The modules of ``modules`` that are one of ``names`` or inside one of them."""
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_registering_every_command_imports_nothing_heavy() -> None:
    modules = imported(
        "import typer.main\nfrom pipeline.cli.main import _register, app\n_register()\ntyper.main.get_command(app)"
    )
    assert "pipeline.cli.flags" in modules and "pipeline.cli.deploy" in modules  # the commands did register
    assert loaded(modules, HEAVY + TABLES) == []
    assert "typer.rich_utils" not in modules  # typer imports it to render help or an error, not to register


def test_help_imports_nothing_heavy() -> None:
    modules = imported("from pipeline.cli.main import run\nrun(sys.argv[1:])", "--help")
    assert "typer.rich_utils" in modules  # the help was rendered
    assert loaded(modules, HEAVY) == []


@pytest.mark.parametrize("args", [("env", "--help"), ("deploy", "--help"), ("flags", "set", "--help")])
def test_a_command_s_help_imports_nothing_of_ours_that_is_heavy(args: tuple[str, ...]) -> None:
    modules = imported("from pipeline.cli.main import run\nrun(sys.argv[1:])", *args)
    assert "typer.rich_utils" in modules
    # pydantic is typer's own here: it coerces the parent group's parameters with a TypeAdapter
    assert loaded(modules, tuple(n for n in HEAVY if n != "pydantic")) == []


def test_env_validate_loads_the_model_and_nothing_of_the_targets() -> None:
    modules = imported("from pipeline.cli.main import run\nrun(sys.argv[1:])", "env", "validate", "local")
    assert "pipeline.environment.model" in modules
    assert loaded(modules, tuple(f"pipeline.cli.{m}" for m in COMMAND_MODULES)) == ["pipeline.cli.stack"]
    assert loaded(modules, tuple(n for n in HEAVY if n not in ("pydantic", "yaml", "pipeline.environment")) + TABLES) == []


def test_the_table_of_command_modules_names_what_each_registers() -> None:
    import importlib

    from pipeline.cli.app import app

    for module in COMMAND_MODULES:
        importlib.import_module(f"pipeline.cli.{module}")
    registered: dict[str, set[str]] = {}
    for command in app.registered_commands:
        assert command.callback is not None
        name = command.name or typer.main.get_command_name(command.callback.__name__)
        registered.setdefault(command.callback.__module__, set()).add(name)
    for group in app.registered_groups:
        first = group.typer_instance.registered_commands[0].callback if group.typer_instance else None
        assert first is not None and group.name
        registered.setdefault(first.__module__, set()).add(group.name)
    assert registered == {f"pipeline.cli.{module}": set(words) for module, words in COMMAND_MODULES.items()}


@pytest.mark.parametrize("command", ["deploy", "provision", "cert"])
def test_a_module_of_one_command_alone_still_makes_a_group(command: str) -> None:
    # typer runs a lone command as the program itself ("Usage: pipeline [OPTIONS] ENV"); the app's callback stops that
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", command, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PIPELINE_ROOT": str(ROOT), "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"Usage: python -m pipeline {command} [OPTIONS]" in done.stdout
