"""The one required check: fails unless every job it needs succeeded.

Run by the ``required`` job of ci.yml as ``make ci-verdict`` with ``NEEDS`` set to
``${{ toJSON(needs) }}``. Standard library only (it runs before any venv exists).
"""

from __future__ import annotations

import json
import os
import sys


def failed_jobs(needs: dict[str, dict[str, object]]) -> list[str]:
    """Jobs whose result is not ``success`` (failure, cancelled, skipped)."""
    return sorted(f"{name}: {job.get('result', 'unknown')}" for name, job in needs.items() if job.get("result") != "success")


def main() -> int:
    raw = os.environ.get("NEEDS", "").strip()
    try:
        needs = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        needs = None
    if not isinstance(needs, dict) or not needs:
        print("error: NEEDS is not the JSON of the required jobs\nhint: env NEEDS: ${{ toJSON(needs) }}", file=sys.stderr)
        return 2
    failed = failed_jobs(needs)
    if failed:
        print(f"error: required jobs did not pass: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(needs)} required jobs passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
