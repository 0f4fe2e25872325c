"""Dependabot auto-merge: patch updates only, merged by GitHub once every required check passed.

Run by dependabot-automerge.yml as ``make automerge`` with ``UPDATE_TYPE`` (from
dependabot/fetch-metadata) and ``PR_URL``; ``gh pr merge --auto`` leaves the merge to
branch protection, which waits for the required checks. Standard library only.
"""

from __future__ import annotations

import os
import sys

from pipeline.commands import Command, cmd
from pipeline.commands.executor import DryRunExecutor, Executor, SubprocessExecutor
from pipeline.errors import PipelineError

PATCH = "version-update:semver-patch"


def plan(update_type: str, pr_url: str) -> list[Command]:
    """What to run for one dependabot PR: nothing unless it is a patch update."""
    if update_type != PATCH or not pr_url:
        return []
    return [cmd("gh", "pr", "merge", "--auto", "--squash", pr_url, description="enable auto-merge (waits for required checks)")]


def main(ex: Executor | None = None) -> int:
    update_type = os.environ.get("UPDATE_TYPE", "")
    pr_url = os.environ.get("PR_URL", "")
    if not pr_url:
        print("error: PR_URL is not set\nhint: env PR_URL: ${{ github.event.pull_request.html_url }}", file=sys.stderr)
        return 2
    commands = plan(update_type, pr_url)
    if not commands:
        print(f"not a patch update ({update_type or 'unknown'}): left for a person to review")
        return 0
    real = SubprocessExecutor()
    runner = ex or (DryRunExecutor(real, print) if os.environ.get("DRY_RUN") else real)
    try:
        for command in commands:
            runner.run(command)
    except PipelineError as exc:
        print(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr)
        return exc.exit_code
    print(f"auto-merge enabled for {pr_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
