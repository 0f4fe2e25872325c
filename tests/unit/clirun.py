"""The ``pipeline`` CLI in a fresh process, as a user runs it: the unit tests' one way to call it so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pipeline(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m pipeline ARGS`` in ``cwd`` (its project root), with a bare environment plus ``env``.

    PYTHONPATH is this checkout's code, also when ``cwd`` is a tmp_path (the venv may be another
    checkout's); HOME is a directory that does not exist, so nothing of the user's is read."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PIPELINE_ROOT": str(cwd),
            "COLUMNS": "200",
            "PYTHONPATH": str(ROOT),
            "HOME": "/nonexistent",
            **(env or {}),
        },
        timeout=60,
    )
