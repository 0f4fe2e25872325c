"""How fast the CLI starts: a few commands, each run N times as a fresh process.

``python -m pipeline.bench.cli [ENV] [--runs N] [--against REV] [--json]``: each command runs
as ``sys.executable -m pipeline ...`` with the environment make gives its recipes; it prints the
median, p90 and min wall time of each. Goal (issue 19): ``--help`` and ``env validate local``
in at most 0.3 s. Three floors are timed first: ``python -c pass`` (the interpreter's own
start), ``import typer.rich_utils`` (typer draws every help page with it) and ``import typer,
rich.console, pipeline.environment`` (what ``env validate`` needs to parse, load and print).

``--against REV`` runs the same commands in a throwaway git worktree of REV too (in a temp
dir, removed afterwards), the two trees taking turns run by run, so that a load that comes
and goes on the host weighs on both alike; it prints the ratio of the medians (this tree /
REV's). Beside each run's wall time it reports its CPU time (user + system), which a busy host
inflates much less. Every command must exit 0; one that does not stops the bench.

Bytecode is cached in a private prefix (``PYTHONPYCACHEPREFIX`` in the temp dir, after one
untimed run of each command): every timed run is a warm start, as on any machine after the
first, also where ``PYTHONDONTWRITEBYTECODE`` is set, and the shared venv is not written.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

GOAL_SECONDS = 0.3


def commands(env: str) -> dict[str, list[str]]:
    """Name -> the arguments after ``python``: the floors first, then the commands."""
    return {
        "python -c pass": ["-c", "pass"],
        # what --help cannot do without: typer renders it with rich (markdown, syntax, traceback, tables)
        "import typer.rich_utils": ["-c", "import typer.rich_utils"],
        # what env validate cannot do without: typer, rich's console, pydantic, yaml and the model
        "import typer, rich.console, pipeline.environment": ["-c", "import typer, rich.console, pipeline.environment"],
        "pipeline --help": ["-m", "pipeline", "--help"],
        f"pipeline env validate {env}": ["-m", "pipeline", "env", "validate", env],
        "pipeline version": ["-m", "pipeline", "version"],
    }


def child_env(tree: Path, pycache: Path) -> dict[str, str]:
    """make's environment for a run in ``tree``: its code and its environments, warm bytecode."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    path = os.pathsep.join([str(tree), *filter(None, [env.get("PYTHONPATH")])])
    return env | {"PYTHONPATH": path, "PIPELINE_ROOT": str(tree), "PYTHONPYCACHEPREFIX": str(pycache)}


class Run(NamedTuple):
    wall: float  # seconds from the start of the process to its exit
    cpu: float  # its user + system CPU seconds: what a loaded host inflates least


def run_once(args: list[str], tree: Path, env: dict[str, str]) -> Run:
    """One fresh process of ``python ARGS`` in ``tree``; a failed command stops the bench."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, *args], cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            stderr.seek(0)
            said = stderr.read().decode(errors="replace").strip()[-300:]
            raise SystemExit(f"error: `python {' '.join(args)}` in {tree} exited {code}: {said}")
    return Run(wall, usage.ru_utime + usage.ru_stime)


def summary(runs: list[Run]) -> dict[str, Any]:
    wall = [r.wall for r in runs]
    cpu = [r.cpu for r in runs]
    p90 = statistics.quantiles(wall, n=10, method="inclusive")[-1] if len(wall) > 1 else wall[0]
    return {
        "runs": len(runs),
        "wall": {"median": round(statistics.median(wall), 4), "p90": round(p90, 4), "min": round(min(wall), 4)},
        "cpu": {"median": round(statistics.median(cpu), 4), "min": round(min(cpu), 4)},
    }


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()


def measure(trees: dict[str, Path], runs: int, env_name: str, pycache: Path) -> dict[str, dict[str, list[Run]]]:
    """Runs per command and tree; the trees take turns run by run, after one untimed warm-up each."""
    envs = {label: child_env(tree, pycache) for label, tree in trees.items()}
    todo = commands(env_name)
    for args in todo.values():  # compiles the bytecode into the private prefix
        for label, tree in trees.items():
            run_once(args, tree, envs[label])
    times: dict[str, dict[str, list[Run]]] = {name: {label: [] for label in trees} for name in todo}
    for _ in range(runs):
        for name, args in todo.items():
            for label, tree in trees.items():
                times[name][label].append(run_once(args, tree, envs[label]))
    return times


def report(times: dict[str, dict[str, list[Run]]], trees: dict[str, Path], load_before: float) -> dict[str, Any]:
    rows = []
    for name, by_tree in times.items():
        row: dict[str, Any] = {"command": name, **{label: summary(r) for label, r in by_tree.items()}}
        if "against" in by_tree:
            now, then = row["current"], row["against"]
            row["ratio"] = {k: round(now[k]["median"] / then[k]["median"], 3) for k in ("wall", "cpu")}
        rows.append(row)
    described: dict[str, dict[str, Any]] = {
        label: {"path": str(tree), "commit": git(tree, "rev-parse", "--short", "HEAD")} for label, tree in trees.items()
    }
    described["current"]["dirty"] = bool(git(trees["current"], "status", "--porcelain", "--untracked-files=no"))
    return {
        "python": sys.version.split()[0],
        "cores": os.cpu_count(),
        "load_average": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
        "goal_seconds": GOAL_SECONDS,
        "trees": described,
        "commands": rows,
    }


def print_table(data: dict[str, Any]) -> None:
    trees = data["trees"]
    load = data["load_average"]
    runs = data["commands"][0]["current"]["runs"]
    print(f"{runs} runs each; wall: median / p90 / min, cpu (user + system): median; seconds")
    print(f"load average {load['before']} before, {load['after']} after, {data['cores']} cores; python {data['python']}")
    for label, tree in trees.items():
        print(f"  {label}: {tree['commit']}{' (dirty)' if tree.get('dirty') else ''} {tree['path']}")
    for row in data["commands"]:
        cells = [
            f"{label} {w['median']:.3f} / {w['p90']:.3f} / {w['min']:.3f} cpu {row[label]['cpu']['median']:.3f}"
            for label in trees
            for w in [row[label]["wall"]]
        ]
        ratio = f"   ratio wall {row['ratio']['wall']:.2f} cpu {row['ratio']['cpu']:.2f}" if "ratio" in row else ""
        print(f"{row['command']:>48}: {'   '.join(cells)}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env", nargs="?", default="local")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--against", metavar="REV", help="also time REV (a throwaway git worktree), turn about")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs: at least 1")

    root = Path(git(Path.cwd(), "rev-parse", "--show-toplevel"))
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        trees = {"current": root}
        if args.against:
            commit = git(root, "rev-parse", "--verify", f"{args.against}^{{commit}}")
            trees["against"] = Path(tmp) / "against"
            git(root, "worktree", "add", "--detach", "--quiet", str(trees["against"]), commit)
        try:
            times = measure(trees, args.runs, args.env, Path(tmp) / "pycache")
            data = report(times, trees, load_before)
        finally:
            if args.against:
                git(root, "worktree", "remove", "--force", str(trees["against"]))
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print_table(data)


if __name__ == "__main__":
    main()
