"""Ask every app task which flags it serves: a short-lived container on the environment's overlay.

The tasks sit on an attachable overlay network the host cannot route to, so the probe runs
inside it: the app's own image, ``python3 -c PROBE`` resolving ``tasks.<service>`` through
Docker's DNS and calling ``GET /flags`` on each task directly (not through the edge). It is
bounded in time and in rounds, and prints one JSON line per observation:
``{"t": <unix time>, "task": <ip>, "service": ..., "revision": ..., "values": {...}}``.

Modes: ``once`` (every task once), ``until`` (until every task serves a revision, or the
deadline), ``watch`` (a line whenever a task's revision changes, until the deadline).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.commands import Command

PROBE = r"""
import json, socket, sys, threading, time, urllib.request
services, port, mode, want = sys.argv[1].split(","), int(sys.argv[2]), sys.argv[3], sys.argv[4]
deadline, interval, user = time.time() + float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
out, last, known = threading.Lock(), {}, {}
def emit(line):
    with out:
        print(json.dumps(line), flush=True)
def tasks():
    found = {}
    for s in services:
        try:
            found.update((a[4][0], s) for a in socket.getaddrinfo("tasks." + s, port, proto=socket.IPPROTO_TCP))
        except OSError:
            pass
    return found
def ask(ip):
    sent = time.time()
    req = urllib.request.Request("http://%s:%d/flags" % (ip, port), headers={"X-User-Key": user})
    with urllib.request.urlopen(req, timeout=2) as r:
        data = json.load(r)
    return sent, data
def follow(ip, service):  # one thread per task: a slow task never delays the others
    rounds = 0
    while time.time() < deadline and rounds < 100000 and ip in known:
        rounds += 1
        try:
            sent, data = ask(ip)
        except Exception as exc:
            emit({"t": time.time(), "task": ip, "service": service, "error": str(exc)})
            time.sleep(0.2)
            continue
        rev = data.get("revision")
        if mode == "once" or last.get(ip) != rev:
            emit({"t": time.time(), "sent": sent, "task": ip, "service": service, "revision": rev,
                  "loaded_at": data.get("loaded_at"), "values": data.get("values")})
        last[ip] = rev
        if mode == "once":
            return
        time.sleep(interval)
threads = []
while time.time() < deadline:
    for ip, service in tasks().items():
        if ip not in known:
            known[ip] = service
            threads.append(threading.Thread(target=follow, args=(ip, service), daemon=True))
            threads[-1].start()
    if mode == "once":
        for t in threads:
            t.join(5)
        sys.exit(0)
    if mode == "until" and known and all(last.get(ip) == want for ip in known):
        sys.exit(0)
    time.sleep(0.05 if mode == "until" else 1.0)
sys.exit(1 if mode == "until" else 0)
"""


@dataclass(frozen=True)
class Observation:
    t: float
    task: str
    service: str
    revision: str | None
    values: dict[str, Any] | None
    error: str | None = None
    sent: float | None = None
    loaded_at: float | None = None

    @classmethod
    def parse(cls, line: str) -> Observation | None:
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            return None
        if not isinstance(d, dict) or "task" not in d:
            return None
        return cls(
            float(d["t"]),
            d["task"],
            d.get("service", ""),
            d.get("revision"),
            d.get("values"),
            d.get("error"),
            d.get("sent"),
            d.get("loaded_at"),
        )


def probe_command(
    image: str,
    network: str,
    services: Sequence[str],
    name: str,
    labels: dict[str, str],
    mode: str = "once",
    want: str = "",
    timeout: float = 20.0,
    interval: float = 0.05,
    port: int = 8000,
    user: str = "probe",
) -> Command:
    if mode not in ("once", "until", "watch"):
        raise ValueError(f"unknown probe mode {mode}")
    argv = ["docker", "run", "--rm", "--name", name, "--network", network, "--entrypoint", "python3"]
    for key, value in sorted(labels.items()):
        argv += ["--label", f"{key}={value}"]
    argv += [image, "-c", PROBE, ",".join(services), str(port), mode, want or "-", str(timeout), str(interval), user]
    return Command(
        tuple(argv), description=f"probe the flags of every task ({mode})", mutates=False, check=False, timeout=timeout + 60
    )


def parse_output(stdout: str) -> list[Observation]:
    return [o for o in (Observation.parse(line) for line in stdout.splitlines()) if o is not None]


def latest_by_task(observations: Sequence[Observation]) -> dict[str, Observation]:
    out: dict[str, Observation] = {}
    for o in observations:
        out[o.task] = o
    return out
