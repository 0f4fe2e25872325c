"""The kind registry (``pipeline.environment.kinds``): the one list of target kinds, and validation by kind."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol

import pytest

from pipeline.chaos import experiments
from pipeline.environment import Environment, kinds, load_environment
from pipeline.errors import ConfigError
from pipeline.project import Project
from pipeline.targets import target_for
from pipeline.testing import FakeExecutor
from tests.unit.clirun import pipeline

ROOT = Path(__file__).resolve().parents[2]
ECS = 'ecs: {region: eu-west-1, account_id: "123456789012"}\n'
STABLE = "canary: {compare_with: stable}\n"


def write(tmp_path: Path, body: str) -> None:
    path = tmp_path / "environments" / "bad" / "env.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(body)


WRONG = [
    # (env.yaml, the key path and message, the hint)
    ("target: {kind: swarm}\n", "swarm: missing: target.kind swarm needs this section", "add a swarm: section"),
    ("target: {kind: k8s}\n", "target.kind: 'k8s' is not a target kind", "available kinds: local, vm, swarm, ecs"),
    (ECS, "ecs: a section of kind ecs, but target.kind is local", "remove the ecs: section, or set target.kind: ecs"),
    (
        "target: {kind: local}\nvm: {}\n",
        "vm: a section of kind vm, but target.kind is local",
        "remove the vm: section, or set target.kind: vm",
    ),
    (
        "target: {kind: vm}\nvm: {}\n" + STABLE + ECS,
        "ecs: a section of kind ecs, but target.kind is vm",
        "remove the ecs: section, or set target.kind: ecs",
    ),
    (
        "target: {kind: ecs}\nvm: {}\n" + STABLE + ECS,
        "vm: a section of kind vm, but target.kind is ecs",
        "remove the vm: section, or set target.kind: vm",
    ),
    (
        "target: {kind: vm}\n" + STABLE,
        "vm: missing: target.kind vm needs this section",
        "add a vm: section (hosts, ssh, domain, acme)",
    ),
    ("target: {kind: ecs}\n" + STABLE, "ecs: missing: target.kind ecs needs this section", "add ecs.region and ecs.account_id"),
    (
        "target: {kind: vm}\nvm: {}\n",
        "canary.compare_with: baseline: the vm kind has no baseline track yet",
        "set canary.compare_with: stable",
    ),
    (
        "target: {kind: ecs}\n" + ECS,
        "canary.compare_with: baseline: the ecs kind has no baseline track yet",
        "set canary.compare_with: stable",
    ),
]


@pytest.mark.parametrize(("body", "where", "hint"), WRONG)
def test_a_wrong_combination_is_one_line_with_the_key_path_and_a_hint(tmp_path: Path, body: str, where: str, hint: str) -> None:
    write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_environment(tmp_path, "bad")
    assert caught.value.message == f"environments/bad/env.yaml: {where}"
    assert caught.value.hint is not None and caught.value.hint.startswith(hint)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(("body", "where", "hint"), [WRONG[0], WRONG[2], WRONG[6]])
def test_env_validate_refuses_it_with_the_user_error_code(tmp_path: Path, body: str, where: str, hint: str) -> None:
    write(tmp_path, body)
    (tmp_path / "pipeline").mkdir()
    result = pipeline("env", "validate", "bad", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"environments/bad/env.yaml: {where}" in result.stderr and hint in result.stderr
    assert "Traceback" not in result.stderr


SWARM = (
    "swarm: {managers: [{name: m1, address: 192.0.2.11}], workers: [{name: w1, address: 192.0.2.12}],"
    " edge_nodes: [m1, w1], vip: {address: 192.0.2.100}}\n"
)
RIGHT = [
    "target: {kind: local}\n",
    "target: {kind: vm}\nvm: {}\n" + STABLE,
    "target: {kind: swarm}\n" + SWARM,
    "target: {kind: ecs}\n" + ECS + STABLE,
]


def test_each_kind_loads_with_its_own_section() -> None:
    assert len(RIGHT) == len(kinds.KINDS)
    for body, name in zip(RIGHT, kinds.names(), strict=True):
        import yaml

        env = Environment.model_validate(yaml.safe_load(body), strict=True)
        assert env.target.kind == name


def test_every_kind_has_a_factory_and_its_section_is_the_models_field() -> None:
    assert kinds.names() == ("local", "vm", "swarm", "ecs")
    fields = Environment.model_fields
    from pipeline.targets import FACTORIES

    assert tuple(FACTORIES) == kinds.names()  # a factory for every kind, and none for a kind not listed
    for kind in kinds.KINDS.values():
        if kind.section is None:
            assert kind.model is None
            continue
        assert kind.model is not None and kind.section_hint
        assert fields[kind.section].annotation == kind.model | None
    # no section model outside the registry: every model of a kind's settings is one of its sections
    owned = {k.model for k in kinds.KINDS.values() if k.model is not None}
    assert {name for name, f in fields.items() if any(m | None == f.annotation for m in owned)} == set(kinds.sections())


def test_an_unknown_kind_names_the_available_ones() -> None:
    misfit = kinds.unknown("k8s")
    assert misfit is not None and misfit.key == "target.kind" and "'k8s' is not a target kind" in misfit.message
    assert misfit.hint == f"available kinds: {', '.join(kinds.names())}" and "swarm" in misfit.hint
    assert all(kinds.unknown(name) is None for name in kinds.names())


def test_the_target_factory_is_the_registrys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = load_environment(ROOT, "local")
    built: list[Any] = []

    def factory(*args: Any) -> Any:
        built.append(args)
        return "the local target"

    from pipeline import targets

    monkeypatch.setitem(targets.FACTORIES, "local", factory)
    project = Project(root=ROOT, state=tmp_path)
    assert target_for(env, FakeExecutor(), project, print) == "the local target"
    assert built and built[0][0] is env


def test_validating_does_not_import_any_target_module() -> None:
    code = (
        "import sys; from pathlib import Path; from pipeline.environment import load_environment\n"
        "for name in ('local', 'vm-local', 'aws-vm', 'aws-ecs', 'swarm-local', 'aws-swarm'):\n"
        f"    load_environment(Path({str(ROOT)!r}), name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'pulumi', 'ansible')"
        " or m.startswith('pipeline.targets')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)}, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_former_lists_of_kinds_derive_from_the_registry() -> None:
    assert kinds.names() == experiments.KINDS
    example = (ROOT / "environments" / "env.example.yaml").read_text()
    shown = re.search(r"^  kind: local +# (.*)$", example, re.M)
    assert shown is not None
    assert shown.group(1) == " | ".join(kinds.names())
    # nowhere else in the package is there a list of kind names (a Literal, a tuple, an `in (...)`)
    listed = re.compile(r"""["'](local|vm|ecs|swarm)["']\s*,\s*["'](local|vm|ecs|swarm)["']""")
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "pipeline").rglob("*.py")
        if path.name != "kinds.py" and listed.search(path.read_text())
    ]
    assert offenders == []


# --- the parts of a target ------------------------------------------------------------


def _members(protocol: type) -> set[str]:
    """The methods a part protocol asks for (its own and those of the parts it is made of)."""
    return {
        name
        for klass in protocol.__mro__
        if klass not in (object, Protocol) and getattr(klass, "_is_protocol", False)
        for name, value in vars(klass).items()
        if callable(value) and not name.startswith("_")
    }


def _classes() -> dict[str, type]:
    from pipeline.targets.ecs import EcsTarget
    from pipeline.targets.local import LocalTarget
    from pipeline.targets.swarm import SwarmTarget
    from pipeline.targets.vm import VmTarget

    return {"local": LocalTarget, "vm": VmTarget, "swarm": SwarmTarget, "ecs": EcsTarget}


def test_every_kind_has_the_core_parts() -> None:
    from pipeline.targets.base import Inspection, Lifecycle, LockStore, Target, Tracks, Traffic

    core = _members(Target)
    assert core == set().union(*(_members(p) for p in (Lifecycle, Tracks, Traffic, LockStore, Inspection)))
    assert set(_classes()) == set(kinds.names())
    for kind, cls in _classes().items():
        assert not core - set(dir(cls)), f"{kind} lacks {sorted(core - set(dir(cls)))}"


def test_a_kind_declares_exactly_the_optional_parts_its_class_has() -> None:
    from pipeline.targets.base import (
        AppSecrets,
        Certificates,
        FlagParts,
        Host,
        Nodes,
        OwnMetrics,
        Playbooks,
        Services,
        TrackPinning,
    )

    protocols = {
        "metrics": OwnMetrics,
        "pinning": TrackPinning,
        "flags": FlagParts,
        "certificates": Certificates,
        "services": Services,
        "host": Host,
        "nodes": Nodes,
        "playbooks": Playbooks,
        "secrets": AppSecrets,
    }
    assert set(protocols) == set(kinds.PARTS)
    for kind, cls in _classes().items():
        has = {part for part, protocol in protocols.items() if not _members(protocol) - set(dir(cls))}
        assert has == kinds.kind_of(kind).parts, f"{kind}: declares {sorted(kinds.kind_of(kind).parts)}, has {sorted(has)}"


@pytest.mark.parametrize(
    ("args", "words", "hint"),
    [
        # an ecs environment asks for AWS credentials when its target is built (exit 81): refused before that
        (
            ["flags", "list", "aws-ecs"],
            "aws-ecs: the ecs kind has no feature flag delivery (flags)",
            "kind local or swarm has it",
        ),
        (["cert", "local"], "local: the local kind has no TLS certificate of its own (certificates)", "kind vm has it"),
        (
            ["up", "local", "--check"],
            "local: the local kind has no hosts configured by Ansible playbooks (playbooks)",
            "kind vm or swarm has it",
        ),
    ],
)
def test_a_command_the_kind_cannot_do_is_refused_in_one_line_before_its_target_is_built(
    args: list[str], words: str, hint: str
) -> None:
    result = pipeline(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"error: {words}", f"hint: an environment of {hint}"]


def test_the_parts_are_reached_only_through_the_registry() -> None:
    """No module probes a target for what it can do (getattr/hasattr/isinstance on a target)."""
    probing = re.compile(r"(getattr|hasattr)\((self\.|ctx\.)?target\b|isinstance\((self\.|ctx\.)?target\b")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "pipeline").rglob("*.py"))
        if path.name != "testing.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if probing.search(line)
    ]
    assert found == []
