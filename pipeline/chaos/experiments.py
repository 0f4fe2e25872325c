"""Find, load and validate the experiments in ``chaos/experiments/*.yaml`` before anything runs.

An experiment is valid when Chaos Toolkit's own validation passes (it imports every
python activity and checks its arguments) and it follows the harness's rules: a
steady-state hypothesis with at least one probe, at least one action of the
``chaosstack`` extension, rollbacks, the ``safeguard`` control, and a weight
(``extensions: [{name: pipeline, weight: 1-10}]``) for the resilience score.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.environment import kinds
from pipeline.errors import ChaosInvalid, UnknownExperiment

EXTENSION_DIR = "chaos"
EXPERIMENTS_DIR = "chaos/experiments"
SAFEGUARD = "chaosstack.controls.safeguard"
ENV_VAR = "PIPELINE_CHAOS_ENV"
KINDS = kinds.names()  # the kinds an experiment may name (extensions: pipeline.targets)
DEFAULT_TARGETS = ("local",)


@dataclass(frozen=True)
class Experiment:
    """One validated experiment."""

    name: str
    path: Path
    title: str
    weight: int
    actions: tuple[str, ...]
    rollbacks: tuple[str, ...]
    data: dict[str, Any]
    error_budget: int | None = None  # failed requests before the safeguard aborts; None: the environment's
    targets: tuple[str, ...] = DEFAULT_TARGETS  # target kinds it applies to (extensions: pipeline.targets)

    def plan(self) -> list[str]:
        """What a run does, in words (for ``--dry-run``)."""
        lines = [f"# {self.name} (weight {self.weight}): {self.title}"]
        lines += [f"#   fault: {a}" for a in self.actions]
        lines += [f"#   rollback: {r}" for r in self.rollbacks]
        return lines


def extension_path(root: Path) -> Path:
    return root / EXTENSION_DIR


def discover(root: Path) -> dict[str, Path]:
    """Every experiment file by name (the file name without ``.yaml``)."""
    folder = root / EXPERIMENTS_DIR
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def select(root: Path, names: list[str], default: list[str] | None = None) -> list[Path]:
    """The experiments named (all, or ``default`` when none are named); an unknown name is refused."""
    known = discover(root)
    wanted = names or default or list(known)
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise UnknownExperiment(
            f"unknown experiment '{unknown[0]}': no {EXPERIMENTS_DIR}/{unknown[0]}.yaml",
            hint=f"known: {', '.join(known) or 'none'}",
        )
    if not wanted:
        raise UnknownExperiment(f"no experiments in {EXPERIMENTS_DIR}", hint="add one: chaos/experiments/<name>.yaml")
    return [known[n] for n in wanted]


def _names(activities: list[dict[str, Any]], kind: str | None = None) -> tuple[str, ...]:
    return tuple(str(a.get("name")) for a in activities if kind is None or a.get("type") == kind)


def _ours(data: dict[str, Any]) -> dict[str, Any]:
    for extension in data.get("extensions") or []:
        if isinstance(extension, dict) and extension.get("name") == "pipeline":
            return extension
    return {}


def _weight(data: dict[str, Any]) -> int | None:
    weight = _ours(data).get("weight")
    return weight if isinstance(weight, int) and 1 <= weight <= 10 else None


def _targets(data: dict[str, Any]) -> tuple[str, ...] | None:
    targets = _ours(data).get("targets", list(DEFAULT_TARGETS))
    if not isinstance(targets, list) or not targets or any(t not in KINDS for t in targets):
        return None
    return tuple(targets)


def _budget(data: dict[str, Any]) -> int | None:
    budget = _ours(data).get("error_budget")
    return budget if isinstance(budget, int) and budget >= 0 else None


def _our_rules(data: dict[str, Any]) -> str | None:
    """The harness's own rules; the first broken one, or None."""
    hypothesis = data.get("steady-state-hypothesis") or {}
    if not hypothesis.get("probes"):
        return "steady-state-hypothesis: needs at least one probe (it is checked continuously during the method)"
    method = data.get("method") or []
    ours = [
        a for a in method if a.get("type") == "action" and str(a.get("provider", {}).get("module", "")).startswith("chaosstack.")
    ]
    if not ours:
        return "method: needs at least one action of the chaosstack extension (a fault that confirms itself)"
    if not data.get("rollbacks"):
        return "rollbacks: needs at least one rollback (every fault is undone)"
    controls = [c.get("provider", {}).get("module") for c in data.get("controls") or []]
    if SAFEGUARD not in controls:
        return f"controls: needs the {SAFEGUARD} control (unconfirmed faults and the error budget stop the run)"
    if _weight(data) is None:
        return "extensions: needs {name: pipeline, weight: 1-10} (the experiment's weight in the resilience score)"
    if _targets(data) is None:
        return f"extensions: pipeline.targets must list target kinds it applies to, of {', '.join(KINDS)}"
    if "error_budget" in _ours(data) and _budget(data) is None:
        return "extensions: pipeline.error_budget must be a count of failed requests (0 or more)"
    return None


def load(path: Path, root: Path, env_name: str = "") -> Experiment:
    """Parse and validate one experiment file; ChaosInvalid (one line: file and reason) when it is not valid."""
    rel = path.relative_to(root) if path.is_relative_to(root) else path
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ChaosInvalid(f"{rel}: not readable YAML: {first}", hint="fix the file's syntax") from None
    if not isinstance(data, dict):
        raise ChaosInvalid(f"{rel}: an experiment is a mapping (title, steady-state-hypothesis, method ...)")
    problem = _chaostoolkit_validation(data, root, env_name)
    if problem:
        raise ChaosInvalid(f"{rel}: {problem}", hint="see https://chaostoolkit.org/reference/api/experiment/")
    problem = _our_rules(data)
    if problem:
        raise ChaosInvalid(f"{rel}: {problem}", hint="compare with chaos/experiments/kill-app-task.yaml")
    return Experiment(
        name=path.stem,
        path=path,
        title=str(data.get("title", path.stem)),
        weight=_weight(data) or 1,
        actions=_names(data.get("method") or [], "action"),
        rollbacks=_names(data.get("rollbacks") or []),
        data=data,
        error_budget=_budget(data),
        targets=_targets(data) or DEFAULT_TARGETS,
    )


def _chaostoolkit_validation(data: dict[str, Any], root: Path, env_name: str) -> str | None:
    """Chaos Toolkit's ``ensure_experiment_is_valid``, with the extension importable; its first complaint."""
    from chaoslib.exceptions import ChaosException
    from chaoslib.experiment import ensure_experiment_is_valid

    extension = str(extension_path(root))
    if extension not in sys.path:
        sys.path.insert(0, extension)
    saved = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = env_name or saved or "validation"  # the experiments read the environment from it
    quiet = logging.getLogger("chaostoolkit")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            ensure_experiment_is_valid(data)
    except ChaosException as exc:
        errors = getattr(exc, "errors", None)
        if errors:
            return "; ".join(str(e) for e in list(errors)[:2])
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    except Exception as exc:  # validation of a broken file may fail in odd ways: still the user's file
        return f"{type(exc).__name__}: {exc}"
    finally:
        quiet.setLevel(level)
        if saved is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = saved
    return None


def load_all(paths: list[Path], root: Path, env_name: str = "") -> list[Experiment]:
    """Validate every experiment first: one invalid file stops everything before any fault."""
    return [load(p, root, env_name) for p in paths]


def for_kind(experiments: list[Experiment], kind: str, named: bool) -> list[Experiment]:
    """The experiments that apply to a target kind. Named ones must all apply (else one line,
    UnknownExperiment); without names the others are left out quietly."""
    foreign = [e for e in experiments if kind not in e.targets]
    if named and foreign:
        raise UnknownExperiment(
            f"experiment '{foreign[0].name}' is for {', '.join(foreign[0].targets)} targets, not {kind}",
            hint="`pipeline chaos list` shows the target kinds of each experiment",
        )
    kept = [e for e in experiments if kind in e.targets]
    if not kept:
        raise UnknownExperiment(
            f"no experiment in {EXPERIMENTS_DIR} applies to a {kind} target",
            hint=f"an experiment names its kinds in extensions: [{{name: pipeline, targets: [{kind}]}}]",
        )
    return kept
