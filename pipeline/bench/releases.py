"""The judge bench's bad releases, as data: fault knobs, or real code changes kept as patches.

A patch release (``perf/releases/<name>.patch``, a genuine bug in the app's code) becomes a
deployable version by :func:`build_patched`: a throwaway git worktree of HEAD under the
state dir, the patch applied and committed with a fixed identity and HEAD's own dates (so the
same HEAD and patch always give the same commit, hence the same tag), then the project's
normal image build of that worktree. The tag is the patched commit plus ``-bad-<name>``.
Patches are never applied to the checkout itself.

    from pipeline.bench.releases import BAD_RELEASES, build_patched
    version = build_patched(ex, project, env, say, project.root / BAD_RELEASES["errors-writes"].patch)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.build.image import build_image
from pipeline.canary.controller import Outcome
from pipeline.commands import Command
from pipeline.commands.executor import Executor
from pipeline.environment import Environment
from pipeline.errors import UserError
from pipeline.project import Project

Say = Callable[[str], None]
PATCHES = Path("perf") / "releases"
PATCH_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
#: Who commits a patched release: fixed, so the commit (and the tag) is reproducible.
IDENTITY = {"name": "pipeline bench", "email": "bench@pipeline.invalid"}


@dataclass(frozen=True)
class BadRelease:
    """One bad release of the bench: what it is, how it is made, what a good judge does with it.

    Exactly one of ``faults`` (``--fault`` items for the canary track) and ``patch`` (a path
    relative to the project root) is set.
    """

    name: str
    description: str
    faults: tuple[str, ...] = ()
    patch: Path | None = None
    expect: Outcome = Outcome.ROLLED_BACK

    def __post_init__(self) -> None:
        if bool(self.faults) == (self.patch is not None):
            raise ValueError(f"bad release {self.name}: give either faults or a patch")


def _table(*releases: BadRelease) -> dict[str, BadRelease]:
    return {r.name: r for r in releases}


BAD_RELEASES: dict[str, BadRelease] = _table(
    BadRelease(
        "errors-one-endpoint",
        "code: the notes list logs a 3 % sample of its paging parameters and reads ?offset= "
        "that the client did not send (KeyError): 500 on about 3 % of GET /api/notes?limit=5, "
        "every other endpoint fine",
        patch=PATCHES / "notes-list-paging-stats.patch",
    ),
    BadRelease(
        "errors-writes",
        "code: 5 % of new notes get an audit row in a table whose migration was never written: "
        "503 (database error) on about 5 % of POST /api/notes, reads fine",
        patch=PATCHES / "notes-create-audit.patch",
    ),
    BadRelease(
        "slow-endpoint",
        "code: a debugging asyncio.sleep(0.25) left in the notes list: +250 ms on GET /api/notes only",
        patch=PATCHES / "notes-list-debug-sleep.patch",
    ),
    BadRelease(
        "errors-writes-knob",
        "knob: 10 % of POST requests answered 500, reads fine",
        faults=("error_rate=0.1", "methods=POST"),
    ),
    BadRelease(
        "errors-small",
        "knob: 3 % of requests answered 500 (over the 1 % limit, under the old ratio check's noise)",
        faults=("error_rate=0.03",),
    ),
    BadRelease(
        "latency-minority",
        "knob: +300 ms on 10 % of the requests (the median barely moves, p95 does)",
        faults=("latency_ms=300", "latency_share=0.1"),
    ),
    BadRelease("readiness", "knob: /readyz answers 503 from the start (/healthz fine)", faults=("readiness_fail=true",)),
    BadRelease(
        "readiness-later",
        "knob: /readyz starts answering 503 once the task has run 25 s (during the walk)",
        faults=("readiness_fail=true", "after_seconds=25"),
    ),
    BadRelease(
        "turns-bad",
        "knob: 20 % of requests answered 500 once the task has run 45 s (after the walk, in the bake)",
        faults=("error_rate=0.2", "after_seconds=45"),
    ),
)


def patch_name(patch: Path) -> str:
    """The name a patch gives its release's tag: its file name without ``.patch``."""
    name = patch.name.removesuffix(".patch")
    if patch.suffix != ".patch" or not PATCH_NAME.fullmatch(name):
        raise UserError(f"{patch}: not a release patch", hint="name it like perf/releases/notes-list-bug.patch")
    return name


def _git(root: Path, *args: str, mutates: bool = True, **kwargs: object) -> Command:
    return Command(("git", "-C", str(root), *args), mutates=mutates, **kwargs)  # type: ignore[arg-type]


def commit_env(date: str) -> dict[str, str]:
    """Author and committer of a patched release: the fixed identity, at HEAD's own date."""
    env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    for role in ("AUTHOR", "COMMITTER"):
        env |= {f"GIT_{role}_NAME": IDENTITY["name"], f"GIT_{role}_EMAIL": IDENTITY["email"], f"GIT_{role}_DATE": date}
    return env


def worktree_path(project: Project, name: str) -> Path:
    return project.state / "bench" / "releases" / name


def patched_tree_commands(root: Path, tree: Path, head: str, date: str, patch: Path, name: str) -> list[Command]:
    """A fresh worktree of ``head`` at ``tree`` with ``patch`` applied and committed."""
    return [
        Command(("rm", "-rf", str(tree)), description="clear an earlier worktree of this release"),
        _git(root, "worktree", "prune", description="forget worktrees that are gone"),
        _git(root, "worktree", "add", "--detach", "--force", str(tree), head, description=f"worktree of {head[:12]}"),
        _git(tree, "apply", "--index", str(patch.resolve()), description=f"apply {patch.name}"),
        _git(
            tree,
            "commit",
            "--quiet",
            "--no-verify",
            "--no-gpg-sign",
            "-m",
            f"bench: bad release {name} (from {patch.name}, on {head[:12]})",
            env=commit_env(date),
            description=f"commit the bad release {name}",
        ),
    ]


def remove_worktree(root: Path, tree: Path) -> Command:
    return _git(root, "worktree", "remove", "--force", str(tree), check=False, description="remove the throwaway worktree")


def build_patched(ex: Executor, project: Project, env: Environment, say: Say, patch: Path, push: bool = True) -> str:
    """Build (and push) the image of HEAD with ``patch`` applied; returns its version (the tag).

    The checkout is untouched: uncommitted changes in it are not part of the build.
    """
    name = patch_name(patch)
    if not patch.is_file():
        raise UserError(f"{patch}: no such patch", hint=f"the bench's patches are in {PATCHES}/")
    root = project.root
    head = ex.run(_git(root, "rev-parse", "HEAD", mutates=False, description="the commit to patch")).stdout.strip()
    date = ex.run(_git(root, "log", "-1", "--format=%cI", head, mutates=False, description="its date")).stdout.strip()
    tree = worktree_path(project, name)
    say(f"bad release {name}: {head[:12]} + {patch.name} in {tree}")
    try:
        for command in patched_tree_commands(root, tree, head, date, patch, name):
            ex.run(command)
        if ex.dry_run:
            say(f"bad release {name}: the image build runs on the patched commit, which a dry run does not make")
            return f"{head[:12]}-bad-{name}"
        return build_image(ex, Project(root=tree, state=project.state), env, say, push=push, suffix=f"bad-{name}")
    finally:
        ex.run(remove_worktree(root, tree))
