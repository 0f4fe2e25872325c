"""Faults on a VM host (target kind ``vm``), over SSH: an app instance killed, a certificate about to expire.

Each fault confirms itself from outside the thing it broke: a killed instance's old
process is gone (``kill -0`` fails on the host); a near-expiry certificate is what a TLS
handshake with nginx on 127.0.0.1 now receives.
"""

from __future__ import annotations

import time
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosstack._stack import Stack
from chaosstack.vm.probes import instances, served_certificate
from pipeline.chaos import host
from pipeline.edge import Weights
from pipeline.errors import PipelineError

__all__ = ["expire_certificate", "kill_instance", "restore_certificate", "run_renewal_timer", "start_canary", "stop_canary"]

DAY = 86_400.0


def start_canary(
    weight: int = 50, hold_seconds: int = 300, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Release the stable version on the canary track too and send it ``weight`` % of the traffic
    (held for ``hold_seconds``; the host's watchdog sets it back to 0 after that)."""
    stack = Stack.from_configuration(configuration)
    stack.host()  # for kind vm only
    vm = stack.target
    version = vm.status().tracks["stable"].version
    if version is None:
        raise ActivityFailed(f"nothing runs on the stable track of {stack.env.name}: deploy a release first")
    try:
        vm.deploy_track("canary", version)
        vm.set_weights(Weights(weight), lease_until=stack.now() + hold_seconds)
    except PipelineError as exc:
        raise ActivityFailed(f"the canary did not start: {exc.message}") from exc
    weights = vm.weights()
    if weights is None or weights.canary != weight or not instances(stack, "canary"):
        raise ActivityFailed(f"the canary is not serving {weight} % (split: {weights})")
    return {"canary": version, "weight": weight}


def stop_canary(configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rollback: all traffic to stable, the canary track emptied (also when nothing was started)."""
    stack = Stack.from_configuration(configuration)
    stack.host()  # for kind vm only
    vm = stack.target
    try:
        vm.set_weights(Weights(0))
        vm.remove_track("canary")
    except PipelineError as exc:
        raise ActivityFailed(f"the canary was not stopped: {exc.message}") from exc
    return {"weight": 0, "canary": None}


def kill_instance(
    track: str = "canary",
    timeout: float = 20.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """SIGKILL the first instance of ``track`` (a systemd unit ``refapp-<track>@<port>``).

    Confirmed when its process no longer exists on the host; systemd starts a new one
    (``Restart=on-failure``), which ``chaosstack.vm.probes.wait_recovered`` waits for.
    """
    stack = Stack.from_configuration(configuration)
    login = stack.host().ssh_login()
    running = [i for i in instances(stack, track) if i[1] > 0]
    if not running:
        raise ActivityFailed(f"no running instance on the {track} track of {stack.env.name} to kill")
    unit, pid, restarts = running[0]
    stack.run(host.kill_instance(login, unit))
    stack.wait_for(
        lambda: None if stack.run(host.process_alive(login, pid)).ok else True, timeout, f"process {pid} of {unit} gone"
    )
    return stack.injected("kill_instance", unit=unit, pid=pid, restarts=restarts)


def expire_certificate(
    days: int = 2, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Make the certificate nginx serves (and certbot's record of it) one that expires in ``days`` days.

    Confirmed when a TLS handshake with the host now receives a certificate with at most
    ``days`` days left. The stand-in is self-signed (no CA issues a days-long certificate
    on demand); what it replaced is kept until :func:`restore_certificate`.
    """
    stack = Stack.from_configuration(configuration)
    login, domain = stack.host().ssh_login(), stack.certificates().certificate_domain()
    if days < 1 or days > 29:
        raise ActivityFailed(f"days must be 1-29 (inside certbot's 30-day renewal window), got {days}")
    before = served_certificate(stack)
    stack.run(host.near_expiry_certificate(login, domain, days))

    def expiring() -> bool | None:
        now = served_certificate(stack)
        return True if now is not None and now.seconds_left(time.time()) <= days * DAY else None

    stack.wait_for(expiring, 10, f"nginx serving a certificate that expires within {days} day(s)")
    after = served_certificate(stack)
    assert after is not None
    return stack.injected(
        "expire_certificate",
        days=days,
        served_before=None if before is None else before.fingerprint,
        served=after.fingerprint,
        not_after=after.not_after,
    )


def run_renewal_timer(configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start what the renewal timer starts, now rather than at its next calendar time; certbot decides.

    Not a fault: whether it renewed is for ``chaosstack.vm.probes.certificate_renewed`` to say.
    """
    stack = Stack.from_configuration(configuration)
    result = stack.run(host.run_renewal(stack.host().ssh_login()))
    return {"unit": host.RENEW_UNIT, "exit": result.returncode, "log": result.stdout.strip().splitlines()[-6:]}


def restore_certificate(configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rollback: put back what :func:`expire_certificate` replaced (a renewal since then is kept)."""
    stack = Stack.from_configuration(configuration)
    result = stack.run(host.restore_certificate(stack.host().ssh_login()))
    out = result.stdout.split()
    return {"restored": "restored" in out, "nginx_restored": "restored-nginx" in out}
