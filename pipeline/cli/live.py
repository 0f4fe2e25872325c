"""The live view of a canary: step, weight, requests per track and each check's verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pipeline.cli import output

COLOURS = {"pass": "green", "fail": "red", "insufficient": "yellow", "skipped": "dim"}


class LiveView:
    """Feed it the controller's events; it redraws on stderr (a plain log when not a terminal)."""

    def __init__(self, env: str, version: str, steps: list[int], enabled: bool = True) -> None:
        self.env = env
        self.version = version
        self.steps = steps
        self.enabled = enabled
        self.phase = "starting"
        self.step = 0
        self.weight = 0
        self.tracks: dict[str, dict[str, Any]] = {}
        self.checks: list[dict[str, Any]] = []
        self.decision = ""
        self.live: Live | None = None

    def __enter__(self) -> LiveView:
        if self.enabled and output.err.is_terminal:
            self.live = Live(self.render(), console=output.err, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self.render())
            self.live.__exit__(None, None, None)

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "phase":
            self.phase = str(data.get("phase"))
            self._log(f"{self.phase}")
        elif kind == "step":
            self.step, self.weight, self.checks = int(data["step"]), int(data["weight"]), []
            self.phase = "analysing"
            self._log(f"step {self.step}/{len(self.steps)}: canary weight {self.weight}%")
        elif kind == "snapshot":
            self.tracks = data.get("tracks", {})
            self.weight = int(data.get("weight", self.weight))
        elif kind == "verdict":
            self.checks = list(data.get("checks", []))
            failing = [c for c in self.checks if c.get("verdict") == "fail"]
            self._log(f"verdict {data.get('verdict')}" + (f": {failing[0]['detail']}" if failing else ""))
        elif kind == "decision":
            self.decision = f"{data.get('action')}: {data.get('reason')}"
            self._log(f"decision {self.decision}")
        elif kind == "promoted":
            self._log(f"promoted {data.get('version')}: its tasks took over stable in {data.get('seconds')} s")
        elif kind == "settled":
            self._log(f"hand-over done: all traffic on the new stable {data.get('seconds')} s after the promotion")
        elif kind == "reverted":
            self._log(f"reverted to the warm {data.get('version')} in {data.get('seconds')} s")
        elif kind == "beside":
            self._log(_beside_line(data))
        elif kind == "ready":
            self._log(f"every {' and '.join(data.get('tracks', []))} task answers {data.get('path')}")
        elif kind == "verify":
            if data.get("verifiable"):
                self._log(
                    f"verified: {data.get('matching')} of {data.get('requests')} requests since the switch by {data.get('track')}"
                )
        elif kind == "outcome":
            self.phase = str(data.get("outcome"))
        if self.live is not None:
            self.live.update(self.render())

    def _log(self, line: str) -> None:
        if self.enabled and self.live is None:
            output.say(line)

    def render(self) -> Group:
        head = Text.assemble(
            ("canary ", "bold"),
            (self.version, "cyan"),
            f" on {self.env}: {self.phase}",
            f" — step {self.step}/{len(self.steps)}, weight {self.weight}%" if self.step else "",
        )
        tracks = Table(box=None, pad_edge=False)
        for column in ("track", "requests", "errors", "error rate", "p95 ms", "p99 ms"):
            tracks.add_column(column, justify="right" if column != "track" else "left")
        for name in ("stable", "baseline", "canary"):
            t = self.tracks.get(name, {})
            if name == "baseline" and not t.get("requests"):
                continue  # no baseline in this release (compare_with: stable), or no traffic to it yet
            rate = t.get("error_rate")
            tracks.add_row(
                name,
                str(t.get("requests", 0)),
                str(t.get("errors", 0)),
                "-" if rate is None else f"{rate:.2%}",
                _ms(t.get("p95_ms")),
                _ms(t.get("p99_ms")),
            )
        checks = Table(box=None, pad_edge=False, show_header=False)
        for c in self.checks:
            colour = COLOURS.get(str(c.get("verdict")), "white")
            checks.add_row(Text(str(c.get("verdict")), style=colour), str(c.get("name")), str(c.get("detail")))
        parts: list[Any] = [head, tracks]
        if self.checks:
            parts.append(checks)
        if self.decision:
            parts.append(Text(self.decision, style="bold"))
        return Group(*parts)


def _ms(value: object) -> str:
    return "-" if value is None else f"{float(value):.0f}"  # type: ignore[arg-type]


def _beside_line(data: dict[str, Any]) -> str:
    """The warm previous release's share beside the new stable in the bake, or its end."""
    share = data.get("share")
    if share:
        return f"bake: the previous release serves {share}% beside the new stable for a fresh window ({data.get('reason')})"
    return f"bake: the previous release back to 0% ({data.get('reason')})"
