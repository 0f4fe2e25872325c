"""Kill the pipeline itself in the middle of a canary, and clean up after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosstack._stack import Stack
from pipeline.build.revision import image_ref
from pipeline.commands import docker
from pipeline.targets.base import Target

__all__ = ["abort_canary", "kill_pipeline_mid_canary"]


def _canary_version(stack: Stack, target: Target) -> str:
    """The running stable release re-tagged ``<stable>-chaos``: a canary that differs only in name."""
    stable = target.status().tracks["stable"].version
    if stable is None:
        raise ActivityFailed(f"nothing runs on the stable track of {stack.env.name}: deploy a release first")
    version = stable.split("-chaos")[0] + "-chaos"
    image = stack.env.image
    source, tagged = image_ref(image.registry, image.name, stable), image_ref(image.registry, image.name, version)
    if not stack.run(docker.image_exists(tagged)).ok:
        stack.run(docker.tag(source, tagged))
        stack.run(docker.push(tagged))
    return version


def kill_pipeline_mid_canary(
    timeout: float = 180.0, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Start ``pipeline deploy`` of a canary and SIGKILL it once the edge sends the canary traffic.

    Confirmed when the process died by SIGKILL while the edge still held a canary weight
    above 0: nobody is left to set it back, except the edge's lease watchdog.
    """
    stack = Stack.from_configuration(configuration)
    target = stack.target
    version = _canary_version(stack, target)
    log = open(stack.run_dir / "canary-deploy.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "deploy",
            stack.env.name,
            "--version",
            version,
            "--reason",
            "chaos: killed mid-canary",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=stack.project.root,
        env={**os.environ, "PIPELINE_ROOT": str(stack.project.root)},
        start_new_session=True,
    )
    log.close()
    try:

        def split() -> int | None:
            if proc.poll() is not None:
                raise ActivityFailed(f"the deploy ended (exit {proc.returncode}) before the canary got traffic")
            weights = target.weights()
            return weights.canary if weights is not None and weights.canary > 0 else None

        weight = stack.wait_for(split, timeout, "the canary getting traffic", step=1.0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    after = target.weights()
    if proc.returncode != -signal.SIGKILL or after is None or after.canary == 0:
        raise ActivityFailed(f"the deploy was not killed mid-canary (exit {proc.returncode}, weights {after})")
    return stack.injected("kill_pipeline_mid_canary", version=version, pid=proc.pid, weight_at_kill=weight)


def abort_canary(configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Remove an orphaned canary (weight 0, tasks gone, stale lock taken over): ``pipeline canary abort``."""
    stack = Stack.from_configuration(configuration)
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "canary", "abort", stack.env.name],
        capture_output=True,
        text=True,
        cwd=stack.project.root,
        env={**os.environ, "PIPELINE_ROOT": str(stack.project.root)},
        timeout=300,
        check=False,
    )
    if result.returncode not in (0, 8):  # 8: nothing to do, no canary left
        raise ActivityFailed(f"pipeline canary abort exited {result.returncode}: {result.stderr.strip()[-300:]}")
    return {"aborted": result.returncode == 0}
