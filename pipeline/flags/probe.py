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
import json, socket, sys, time, urllib.request
services, port, mode, want = sys.argv[1].split(","), int(sys.argv[2]), sys.argv[3], sys.argv[4]
deadline, interval, user = time.time() + float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
def tasks():
    found = []
    for s in services:
        try:
            found += [(s, a[4][0]) for a in socket.getaddrinfo("tasks." + s, port, proto=socket.IPPROTO_TCP)]
        except OSError:
            pass
    return sorted(set(found))
def ask(ip):
    req = urllib.request.Request("http://%s:%d/flags" % (ip, port), headers={"X-User-Key": user})
    with urllib.request.urlopen(req, timeout=2) as r:
        return json.load(r)
last, rounds, known, resolved = {}, 0, [], 0.0
while time.time() < deadline and rounds < 100000:
    rounds += 1
    if time.time() - resolved > 1.0:
        known, resolved = tasks(), time.time()
    for service, ip in known:
        try:
            data = ask(ip)
        except Exception as exc:
            print(json.dumps({"t": time.time(), "task": ip, "service": service, "error": str(exc)}), flush=True)
            continue
        rev = data.get("revision")
        if mode == "once" or last.get(ip) != rev:
            line = {"t": time.time(), "task": ip, "service": service, "revision": rev, "values": data.get("values")}
            print(json.dumps(line), flush=True)
        last[ip] = rev
    if mode == "once" or (mode == "until" and known and all(last.get(ip) == want for _, ip in known)):
        sys.exit(0)
    time.sleep(interval)
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

    @classmethod
    def parse(cls, line: str) -> Observation | None:
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            return None
        if not isinstance(d, dict) or "task" not in d:
            return None
        return cls(float(d["t"]), d["task"], d.get("service", ""), d.get("revision"), d.get("values"), d.get("error"))


def probe_command(
    image: str,
    network: str,
    services: Sequence[str],
    name: str,
    labels: dict[str, str],
    mode: str = "once",
    want: str = "",
    timeout: float = 20.0,
    interval: float = 0.02,
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
