"""Probes of a VM host: the certificate nginx serves, HTTPS answering, a track's instances recovered."""

from __future__ import annotations

import hashlib
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

from chaosstack._stack import Stack
from pipeline.chaos import host
from pipeline.targets.vm import track_ports

__all__ = [
    "certificate_days_left",
    "certificate_renewed",
    "https_answers",
    "served_certificate",
    "wait_recovered",
]

DAY = 86_400.0
TIMEOUT = 10.0


@dataclass(frozen=True)
class ServedCertificate:
    fingerprint: str  # sha256 of the DER, hex
    not_after: float  # epoch seconds
    trusted: bool  # verifies for the domain against the environment's CA root

    def seconds_left(self, now: float) -> float:
        return self.not_after - now


def instances(stack: Stack, track: str) -> list[tuple[str, int, int]]:
    """(unit, main pid, restarts) of the track's active instances, sorted by unit."""
    result = stack.run(host.instances(stack.host().ssh_login(), track))
    found = []
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            found.append((parts[0], int(parts[1]), int(parts[2])))
    return sorted(found)


def _address(stack: Stack) -> tuple[str, int, str]:
    """(address to connect to, HTTPS port, domain): the local stand-in answers on 127.0.0.1 only."""
    return stack.host().tls_endpoint()


def _context(stack: Stack, verify: bool) -> ssl.SSLContext:
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=stack.host().tls_trust())


def _handshake(stack: Stack, verify: bool) -> bytes | None:
    """The DER certificate the host presents for the domain; None when the handshake fails."""
    address, port, domain = _address(stack)
    try:
        with (
            socket.create_connection((address, port), timeout=TIMEOUT) as raw,
            _context(stack, verify).wrap_socket(raw, server_hostname=domain) as tls,
        ):
            return tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError, ValueError):
        return None


def served_certificate(stack: Stack) -> ServedCertificate | None:
    """What a TLS handshake with the host receives now; None when nothing answers."""
    from cryptography import x509

    der = _handshake(stack, verify=False)
    if der is None:
        return None
    cert = x509.load_der_x509_certificate(der)
    return ServedCertificate(
        fingerprint=hashlib.sha256(der).hexdigest(),
        not_after=cert.not_valid_after_utc.timestamp(),
        trusted=_handshake(stack, verify=True) == der,
    )


def certificate_days_left(configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> float:
    """Days until the certificate nginx serves expires (negative once expired; -1e9 when nothing answers)."""
    served = served_certificate(Stack.from_configuration(configuration))
    return -1e9 if served is None else round(served.seconds_left(time.time()) / DAY, 3)


def https_answers(
    path: str = "/edge/healthz", configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> bool:
    """True when HTTPS on the domain answers ``path`` with 200 and an unexpired certificate.

    The chain is not verified here: while a certificate fault is injected the host serves a
    stand-in; that the CA's certificate comes back is ``certificate_renewed``'s question.
    """
    stack = Stack.from_configuration(configuration)
    address, port, domain = _address(stack)
    served = served_certificate(stack)
    if served is None or served.seconds_left(time.time()) <= 0:
        return False
    request = f"GET {path} HTTP/1.1\r\nHost: {domain}\r\nConnection: close\r\nUser-Agent: chaosstack\r\n\r\n".encode()
    try:
        with (
            socket.create_connection((address, port), timeout=TIMEOUT) as raw,
            _context(stack, verify=False).wrap_socket(raw, server_hostname=domain) as tls,
        ):
            tls.sendall(request)
            head = tls.recv(64).decode("latin-1")
    except (OSError, ssl.SSLError):
        return False
    return head.startswith(("HTTP/1.1 200", "HTTP/1.0 200"))


def certificate_renewed(
    min_days: float = 30.0,
    timeout: float = 180.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float:
    """Wait until nginx serves a certificate the CA issued (it verifies) with at least ``min_days`` left,
    other than the one the fault put there; return seconds since the fault was confirmed."""
    stack = Stack.from_configuration(configuration)
    fault = stack.recall("fault") or {}
    injected = float(fault.get("injected_at", stack.now()))
    stand_in = fault.get("served")

    def renewed() -> bool | None:
        served = served_certificate(stack)
        if served is None or not served.trusted or served.fingerprint == stand_in:
            return None
        return True if served.seconds_left(time.time()) >= min_days * DAY else None

    stack.wait_for(renewed, timeout, f"a trusted certificate with {min_days:g}+ days served", step=1.0)
    return round(max(0.0, stack.now() - injected), 2)


def wait_recovered(
    track: str = "canary",
    path: str = "/api/notes?limit=1",
    timeout: float = 120.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float:
    """Wait until every instance of ``track`` runs again (the killed one with a new process) and
    answers ``/readyz``, and ``path`` answers 200 through nginx; return seconds since the fault."""
    from chaosstack.edge.probes import answers

    stack = Stack.from_configuration(configuration)
    fault = stack.recall("fault") or {}
    injected = float(fault.get("injected_at", stack.now()))
    killed = (fault.get("unit"), fault.get("pid"))
    ports = track_ports(track, getattr(stack.env.tracks, track).replicas)
    login = stack.host().ssh_login()

    def recovered() -> bool | None:
        running = {unit: pid for unit, pid, _ in instances(stack, track) if pid > 0}
        if len(running) < len(ports) or (killed[0] in running and running[killed[0]] == killed[1]):
            return None
        if not stack.run(host.instances_ready(login, ports)).ok:
            return None
        return True if answers(path, configuration=configuration) else None

    stack.wait_for(recovered, timeout, f"the {track} track's {len(ports)} instance(s) recovered", step=1.0)
    return round(max(0.0, stack.now() - injected), 2)
