"""Write data through the API while a fault happens."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosstack._stack import Stack

__all__ = ["start_writes"]


def start_writes(
    tag: str = "data",
    seconds: float = 30.0,
    rate: float = 4.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start writing notes through the edge in the background (``rate``/s for ``seconds``, bounded).

    Every note the API acknowledged (201) is recorded; :func:`chaosstack.data.probes.acknowledged_writes_lost`
    reads each one back afterwards.
    """
    if not 0 < seconds <= 600 or not 0 < rate <= 50:
        raise ActivityFailed("start_writes: seconds must be 0-600 and rate 0-50")
    stack = Stack.from_configuration(configuration)
    out = stack.run_dir / f"writes-{tag}.jsonl"
    for stale in (out, out.with_name(out.name + ".done")):
        stale.unlink(missing_ok=True)
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaosstack.data.writer", stack.url, str(out), tag, str(seconds), str(rate)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH", "")]))},
        start_new_session=True,
    )
    stack.remember(f"writes-{tag}", {"pid": proc.pid, "out": str(out), "seconds": seconds})
    return {"tag": tag, "pid": proc.pid, "planned": int(seconds * rate)}
