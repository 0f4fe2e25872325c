"""One self-contained HTML page per deploy, rendered from the journal.

Inline CSS and inline SVG only: no scripts, no external resources, so the page renders
offline, can be attached to a CI run and opened years later. Every string that comes
from the journal goes through ``html.escape``; a Content-Security-Policy forbids scripts
as a second line of defence.

Charts come from the deploy's ``snapshot`` events (x = seconds since the deploy started):
canary weight, error rate per track, p95 latency per track, with the policy's thresholds
as dashed lines and vertical markers for step changes and the final decision.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from pipeline import jsontext
from pipeline.records.journal import DeployRow, EventRow

__all__ = ["Marker", "Point", "Series", "line_chart", "render_report", "write_report"]

Point = tuple[float, float | None]
Series = tuple[str, list[Point]]
Marker = tuple[float, str, str]  # (x, label, css colour)

TRACKS: Final = ("stable", "baseline", "canary")
TRACK_COLOURS: Final = {"stable": "#2563eb", "baseline": "#16a34a", "canary": "#ea580c"}
PALETTE: Final = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#ca8a04")
WEIGHT_COLOUR: Final = "#7c3aed"
THRESHOLD_COLOUR: Final = "#dc2626"
OUTCOME_CLASSES: Final = {
    "promoted": "good",
    "deployed": "good",
    "rolled_back": "bad",
    "failed": "bad",
    "aborted": "warn",
}
DECISION_COLOURS: Final = {"promote": "#16a34a", "rollback": "#dc2626", "abort": "#b45309"}
FINAL_ACTIONS: Final = frozenset({"promote", "rollback", "abort"})


def esc(value: object) -> str:
    """``html.escape`` of ``str(value)``, quotes included."""
    return html.escape(str(value), quote=True)


# -- formatting --------------------------------------------------------------------


def fmt_utc(ts: float | None) -> str:
    """``2024-05-01 12:00:00 UTC`` (or an em dash)."""
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_duration(seconds: float) -> str:
    """``4.2 s``, ``3m 05s``, ``1h 02m 03s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def fmt_offset(seconds: float) -> str:
    """A time offset as ``+m:ss`` (``-`` before the start, ``+h:mm:ss`` past an hour)."""
    sign = "-" if seconds < 0 else "+"
    total = round(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"


def fmt_clock(seconds: float) -> str:
    """An axis tick for seconds: ``0:30``, ``1:00:00``."""
    return fmt_offset(seconds).lstrip("+")


def fmt_num(value: object) -> str:
    """Numbers with at most 4 significant digits; None as an em dash; anything else as text."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return jsontext.dumps(value, sort_keys=True, default=str)
    return str(value)


def _num(value: object) -> float | None:
    """A finite float, or None for anything else (missing, null, text, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


# -- the chart ---------------------------------------------------------------------


def nice_ticks(low: float, high: float, count: int = 5, steps: Sequence[float] | None = None) -> list[float]:
    """About ``count`` round tick values covering [low, high]."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    if steps:
        step = next((s for s in steps if s >= raw), steps[-1] * math.ceil(raw / steps[-1]))
    else:
        mag = 10 ** math.floor(math.log10(raw))
        step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + step * 1e-9:
        if value >= low - step * 1e-9:
            ticks.append(round(value, 10))
        value += step
    return ticks


TIME_STEPS: Final = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)


def _segments(points: Iterable[Point]) -> list[list[tuple[float, float]]]:
    """Split a series at None values (gaps)."""
    segments: list[list[tuple[float, float]]] = [[]]
    for x, y in sorted(points, key=lambda p: p[0]):
        if y is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append((x, y))
    return [s for s in segments if s]


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    threshold: tuple[str, float] | None = None,
    markers: Sequence[Marker] = (),
    y_label: str = "",
    x_label: str = "seconds since start (m:ss)",
    y_format: Callable[[float], str] = fmt_num,
    x_format: Callable[[float], str] = fmt_clock,
    step: bool = False,
    colours: Mapping[str, str] | None = None,
    y_max: float | None = None,
    width: int = 1000,
    height: int = 260,
    chart_id: str | None = None,
) -> str:
    """An inline SVG line chart: one line per series (None values leave gaps), an optional
    dashed horizontal threshold, vertical markers, axes with ticks and labels, and a legend.

    ``step`` draws step lines (the value holds until the next point), for weights.
    ``chart_id`` (default: from the title) prefixes the ids of the SVG's title/desc.
    """
    uid = chart_id or "chart-" + (re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "x")
    left, right, top, bottom = 64, 16, 36, 44
    pw, ph = width - left - right, height - top - bottom

    xs = [x for _, pts in series for x, _ in pts] + [m[0] for m in markers]
    ys = [y for _, pts in series for _, y in pts if y is not None]
    if threshold is not None:
        ys.append(threshold[1])
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    x0 = min(x0, 0.0)
    if x1 - x0 < 1.0:
        x1 = x0 + 1.0
    x1 += (x1 - x0) * 0.03  # room for a marker at the very end
    xticks = nice_ticks(x0, x1, 8, TIME_STEPS if x_format is fmt_clock else None)
    x0, x1 = min(x0, xticks[0]), max(x1, xticks[-1])
    top_value = max(ys, default=0.0)
    y_hi = y_max if y_max is not None else (top_value * 1.1 if top_value > 0 else 1.0)
    y_lo = min(0.0, min(ys, default=0.0))
    yticks = nice_ticks(y_lo, y_hi, 5)
    y_lo, y_hi = min(y_lo, yticks[0]), max(y_hi, yticks[-1])

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + ph - (y - y_lo) / (y_hi - y_lo) * ph

    palette = dict(colours or {})
    out: list[str] = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{uid}-t {uid}-d" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{uid}-t">{esc(title)}</title>',
    ]
    desc = "; ".join(
        f"{name}: {sum(1 for _, y in pts if y is not None)} points"
        + (f", max {y_format(max(v))}" if (v := [y for _, y in pts if y is not None]) else "")
        for name, pts in series
    )
    if threshold is not None:
        desc += f"; {threshold[0]} {y_format(threshold[1])}"
    out.append(f'<desc id="{uid}-d">{esc(desc or "no data")}</desc>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="plot"/>')

    # grid + ticks
    for t in yticks:
        y = sy(t)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{esc(y_format(t))}</text>')
    for t in xticks:
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" class="grid"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" class="tick" text-anchor="middle">{esc(x_format(t))}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" class="axis"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" class="axis"/>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 6}" class="label" text-anchor="middle">{esc(x_label)}</text>')
    if y_label:
        out.append(
            f'<text transform="translate(14 {top + ph / 2:.1f}) rotate(-90)" class="label" text-anchor="middle">'
            f"{esc(y_label)}</text>"
        )

    # markers
    for x, label, colour in markers:
        mx = sx(x)
        out.append(
            f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{top + ph}" stroke="{esc(colour)}" class="marker">'
            f"<title>{esc(label)} at {esc(fmt_clock(x))}</title></line>"
        )
        out.append(
            f'<text transform="translate({mx + 3:.1f} {top + 4}) rotate(90)" class="mlabel" fill="{esc(colour)}">'
            f"{esc(label)}</text>"
        )

    # threshold
    if threshold is not None:
        ty = sy(threshold[1])
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{ty:.1f}" y2="{ty:.1f}" class="threshold" stroke="{THRESHOLD_COLOUR}">'
            f"<title>{esc(threshold[0])}: {esc(y_format(threshold[1]))}</title></line>"
        )

    # series
    for i, (name, pts) in enumerate(series):
        colour = palette.get(name, PALETTE[i % len(PALETTE)])
        palette[name] = colour
        for seg in _segments(pts):
            coords: list[str] = []
            for j, (x, y) in enumerate(seg):
                if step and j:
                    coords.append(f"{sx(x):.1f},{sy(seg[j - 1][1]):.1f}")
                coords.append(f"{sx(x):.1f},{sy(y):.1f}")
            if len(seg) > 1:
                out.append(f'<polyline points="{" ".join(coords)}" fill="none" stroke="{esc(colour)}" class="line"/>')
            if len(seg) == 1 or len(pts) <= 60:
                for x, y in seg:
                    out.append(
                        f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{3.5 if len(seg) == 1 else 2.5}" fill="{esc(colour)}">'
                        f"<title>{esc(name)} {esc(x_format(x))}: {esc(y_format(y))}</title></circle>"
                    )

    # legend (top, left to right)
    lx = left
    for name, _ in series:
        out.append(f'<line x1="{lx}" x2="{lx + 18}" y1="16" y2="16" stroke="{esc(palette[name])}" class="line"/>')
        out.append(f'<text x="{lx + 24}" y="20" class="legend">{esc(name)}</text>')
        lx += 34 + 8 * len(name)
    if threshold is not None:
        out.append(f'<line x1="{lx}" x2="{lx + 18}" y1="16" y2="16" stroke="{THRESHOLD_COLOUR}" class="threshold"/>')
        text = f"{threshold[0]} ({y_format(threshold[1])})"
        out.append(f'<text x="{lx + 24}" y="20" class="legend">{esc(text)}</text>')
        lx += 34 + 7 * len(text)
    if markers:
        out.append(f'<line x1="{lx + 9}" x2="{lx + 9}" y1="8" y2="24" stroke="#64748b" class="marker"/>')
        out.append(f'<text x="{lx + 24}" y="20" class="legend">step change / decision</text>')
    if not ys:
        out.append(f'<text x="{left + pw / 2:.1f}" y="{top + ph / 2:.1f}" class="empty" text-anchor="middle">no data</text>')
    out.append("</svg>")
    return "\n".join(out)


# -- extracting data from events ---------------------------------------------------


def _thresholds(policy: Mapping[str, Any]) -> Mapping[str, Any]:
    for candidate in (policy.get("thresholds"), (policy.get("canary") or {}).get("thresholds")):
        if isinstance(candidate, Mapping):
            return candidate
    return {}


def _offset(deploy: DeployRow, ev: EventRow) -> float:
    return ev.ts - deploy.started


def _snapshot_x(deploy: DeployRow, ev: EventRow) -> float:
    t = _num(ev.data.get("t"))
    # "t" is the sample time in epoch seconds; anything else (a monotonic clock) falls back to the event's ts
    return t - deploy.started if t is not None and t >= 1e9 else _offset(deploy, ev)


def _track(data: Mapping[str, Any], track: str) -> Mapping[str, Any]:
    tracks = data.get("tracks")
    value = tracks.get(track) if isinstance(tracks, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _markers(deploy: DeployRow, events: Sequence[EventRow], snapshots: Sequence[EventRow]) -> list[Marker]:
    markers: list[Marker] = []
    steps = [e for e in events if e.kind == "step"]
    if steps:
        for ev in steps:
            weight = _num(ev.data.get("weight"))
            markers.append(
                (_offset(deploy, ev), f"{fmt_num(ev.data.get('weight'))} %" if weight is not None else "step", "#64748b")
            )
    else:  # no step events: mark weight changes seen in the snapshots
        last: float | None = None
        for ev in snapshots:
            weight = _num(ev.data.get("weight"))
            if weight is not None and weight != last:
                markers.append((_snapshot_x(deploy, ev), f"{fmt_num(ev.data.get('weight'))} %", "#64748b"))
                last = weight
    decisions = [e for e in events if e.kind == "decision" and e.data.get("action") in FINAL_ACTIONS]
    if decisions:
        final = decisions[-1]
        action = str(final.data.get("action"))
        markers.append((_offset(deploy, final), action, DECISION_COLOURS.get(action, "#0f172a")))
    return markers


def _charts(deploy: DeployRow, events: Sequence[EventRow]) -> str:
    snapshots = [e for e in events if e.kind == "snapshot"]
    if not snapshots:
        return '<p class="empty-note">No traffic data: this deploy recorded no snapshots.</p>'
    snapshots.sort(key=lambda e: _snapshot_x(deploy, e))
    markers = _markers(deploy, events, snapshots)
    thresholds = _thresholds(deploy.policy)

    weight = [(_snapshot_x(deploy, e), _num(e.data.get("weight"))) for e in snapshots]

    def track_series(key: str, scale: float = 1.0) -> list[Series]:
        result: list[Series] = []
        for track in TRACKS:
            if track == "baseline" and not any(_num(_track(e.data, track).get("requests")) for e in snapshots):
                continue  # a release without a baseline (compare_with: stable)
            pts: list[Point] = []
            for e in snapshots:
                v = _num(_track(e.data, track).get(key))
                pts.append((_snapshot_x(deploy, e), None if v is None else v * scale))
            result.append((track, pts))
        return result

    max_err = _num(thresholds.get("max_error_rate"))
    max_p95 = _num(thresholds.get("max_p95_ms"))
    charts = [
        (
            "Canary weight",
            line_chart(
                "Canary traffic weight (%) over time",
                [("canary weight", weight)],
                chart_id="weight",
                markers=markers,
                y_label="weight (%)",
                y_format=lambda v: f"{v:g}",
                step=True,
                colours={"canary weight": WEIGHT_COLOUR},
                y_max=100.0,
            ),
        ),
        (
            "Error rate",
            line_chart(
                "Error rate (%) per track over time",
                track_series("error_rate", 100.0),
                chart_id="errors",
                threshold=None if max_err is None else ("max error rate", max_err * 100.0),
                markers=markers,
                y_label="error rate (%)",
                y_format=lambda v: f"{v:.3g} %",
                colours=TRACK_COLOURS,
            ),
        ),
        (
            "p95 latency",
            line_chart(
                "p95 latency (ms) per track over time",
                track_series("p95_ms"),
                chart_id="p95",
                threshold=None if max_p95 is None else ("max p95", max_p95),
                markers=markers,
                y_label="p95 latency (ms)",
                y_format=lambda v: f"{v:.4g} ms",
                colours=TRACK_COLOURS,
            ),
        ),
    ]
    return "\n".join(f"<figure><figcaption>{esc(name)}</figcaption>\n{svg}\n</figure>" for name, svg in charts)


def _verdict_class(verdict: object) -> str:
    v = str(verdict).lower()
    if v in {"pass", "passed", "ok", "good", "true"}:
        return "good"
    if v in {"fail", "failed", "bad", "false", "rollback"}:
        return "bad"
    return "warn"


def _verdicts(events: Sequence[EventRow]) -> str:
    verdicts = [e for e in events if e.kind == "verdict"]
    if not verdicts:
        return '<p class="empty-note">No analysis verdicts recorded.</p>'
    rows: list[str] = []
    for ev in verdicts:
        raw_checks = ev.data.get("checks")
        checks = [c for c in raw_checks if isinstance(c, Mapping)] if isinstance(raw_checks, list) else []
        span = max(len(checks), 1)
        verdict = ev.data.get("verdict", "—")
        head = (
            f'<td rowspan="{span}">{esc(fmt_num(ev.data.get("step")))}</td>'
            f'<td rowspan="{span}" class="num">{esc(fmt_num(ev.data.get("weight")))} %</td>'
            f'<td rowspan="{span}"><span class="pill {_verdict_class(verdict)}">{esc(verdict)}</span></td>'
        )
        if not checks:
            rows.append(f'<tr class="group">{head}<td colspan="5" class="muted">no checks</td></tr>')
            continue
        for i, check in enumerate(checks):
            cv = check.get("verdict", "—")
            cells = (
                f"<td>{esc(check.get('name', '—'))}</td>"
                f'<td><span class="pill {_verdict_class(cv)}">{esc(cv)}</span></td>'
                f'<td class="num">{esc(fmt_num(check.get("value")))}</td>'
                f'<td class="num">{esc(fmt_num(check.get("limit")))}</td>'
                f"<td>{esc(fmt_num(check.get('detail', '')))}</td>"
            )
            cls = f"check-{_verdict_class(cv)}" + (" group" if i == 0 else "")
            rows.append(f'<tr class="{cls}">{head if i == 0 else ""}{cells}</tr>')
    return (
        '<table class="verdicts"><thead><tr><th>step</th><th>weight</th><th>verdict</th><th>check</th>'
        "<th>result</th><th>value</th><th>limit</th><th>detail</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table>"
    )


def _track_summary(name: str, t: Mapping[str, Any]) -> str:
    if not t:
        return f"{name}: no data"
    rate = _num(t.get("error_rate"))
    rate_text = "—" if rate is None else f"{rate * 100:.2f} %"
    return f"{name}: {fmt_num(t.get('requests'))} req, {rate_text} err, p95 {fmt_num(t.get('p95_ms'))} ms"


def summarize(ev: EventRow) -> str:
    """A one-line, plain-text summary of an event for the timeline."""
    d = ev.data
    match ev.kind:
        case "step":
            return f"step {fmt_num(d.get('step'))} → canary weight {fmt_num(d.get('weight'))} %"
        case "snapshot":
            shown = [t for t in TRACKS if t != "baseline" or _num(_track(d, t).get("requests"))]
            parts = [f"weight {fmt_num(d.get('weight'))} %"] + [_track_summary(t, _track(d, t)) for t in shown]
            return "; ".join(parts)
        case "ready":
            return f"every task of {', '.join(map(str, d.get('tracks') or []))} answers {d.get('path', '—')}"
        case "verify":
            if not d.get("verifiable"):
                return "live traffic: this metrics source cannot tell versions apart"
            expected = f"{d.get('track')} {d.get('expected')}" if d.get("expected") else str(d.get("track"))
            share = _num(d.get("share"))
            return (
                f"live traffic: {fmt_num(d.get('matching'))} of {fmt_num(d.get('requests'))} requests since the switch "
                f"served by {expected}" + ("" if share is None else f" ({share * 100:.1f} %)")
            )
        case "promoted":
            return f"promoted {d.get('version', '—')}: its tasks took over stable in {fmt_num(d.get('seconds'))} s" + (
                f"; {d.get('previous')} kept warm at weight 0" if d.get("previous") else ""
            )
        case "settled":
            return f"hand-over done: all traffic on the new stable {fmt_num(d.get('seconds'))} s after the promotion"
        case "reverted":
            return f"reverted to the warm {d.get('version', '—')} in {fmt_num(d.get('seconds'))} s"
        case "beside":
            if d.get("share"):
                return f"bake: the previous release serves {fmt_num(d.get('share'))} % beside the new stable for a fresh window"
            return f"bake: the previous release back to 0 % ({d.get('reason', '')})"
        case "verdict":
            raw = d.get("checks")
            checks: list[Any] = raw if isinstance(raw, list) else []
            failing = [str(c.get("name")) for c in checks if isinstance(c, Mapping) and _verdict_class(c.get("verdict")) == "bad"]
            text = f"step {fmt_num(d.get('step'))} ({fmt_num(d.get('weight'))} %): {d.get('verdict', '—')}"
            return text + (f" — failing: {', '.join(failing)}" if failing else "")
        case "decision":
            return f"{d.get('action', '—')}: {d.get('reason', '')}".rstrip(": ")
        case "lock":
            return f"lock {d.get('action', '—')} by {d.get('holder', '—')}"
        case "gate":
            where = f" at {fmt_num(d.get('weight'))} %" if d.get("weight") is not None else ""
            lines = d.get("lines") if isinstance(d.get("lines"), list) else []
            found = "; ".join(str(line) for line in lines or []) or "all thresholds held"
            return f"{d.get('gate', 'perf')} gate ({d.get('script', '—')}){where}: {d.get('verdict', '—')} — {found}"
        case _:
            text = ", ".join(f"{k}={fmt_num(v)}" for k, v in sorted(d.items()))
            return text if len(text) <= 240 else text[:239] + "…"


def _timeline(deploy: DeployRow, events: Sequence[EventRow]) -> str:
    if not events:
        return '<p class="empty-note">No events recorded.</p>'
    rows = []
    for ev in sorted(events, key=lambda e: (e.ts, e.id)):
        cls = "muted" if ev.kind == "snapshot" else ""
        if ev.kind == "decision":
            action = ev.data.get("action")
            cls = {"promote": "good", "rollback": "bad", "abort": "warn"}.get(str(action), "")
        elif (ev.kind == "gate" and not ev.data.get("ok")) or (
            ev.kind == "verdict" and _verdict_class(ev.data.get("verdict")) == "bad"
        ):
            cls = "bad"
        rows.append(
            f'<tr class="{cls}"><td class="num">{esc(fmt_offset(_offset(deploy, ev)))}</td>'
            f'<td><span class="kind">{esc(ev.kind)}</span></td><td>{esc(summarize(ev))}</td></tr>'
        )
    return (
        '<table class="timeline"><thead><tr><th>time</th><th>kind</th><th>summary</th></tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody></table>"
    )


# -- the page ----------------------------------------------------------------------

CSS: Final = """
:root { color-scheme: light; --fg:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc;
  --good:#15803d; --good-bg:#dcfce7; --bad:#b91c1c; --bad-bg:#fee2e2; --warn:#a16207; --warn-bg:#fef3c7;
  --run:#1d4ed8; --run-bg:#dbeafe; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--fg); background: var(--bg); }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 16px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.sub { color: var(--muted); margin: 0 0 16px; }
.badge { display: inline-block; padding: 3px 10px; border-radius: 999px; font-weight: 600; font-size: 13px;
  vertical-align: middle; margin-left: 8px; }
.badge.good, .pill.good { color: var(--good); background: var(--good-bg); }
.badge.bad, .pill.bad { color: var(--bad); background: var(--bad-bg); }
.badge.warn, .pill.warn { color: var(--warn); background: var(--warn-bg); }
.badge.run, .pill.run { color: var(--run); background: var(--run-bg); }
.pill { display: inline-block; padding: 0 8px; border-radius: 999px; font-weight: 600; font-size: 12px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 6px 16px; margin: 0;
  background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
dl.meta dd.wide { grid-column: 2 / -1; }
.reason { margin-top: 12px; padding: 10px 14px; border-radius: 8px; border-left: 4px solid var(--muted); background: #fff; }
.reason.good { border-color: var(--good); } .reason.bad { border-color: var(--bad); }
.reason.warn { border-color: var(--warn); } .reason.run { border-color: var(--run); }
figure { margin: 0 0 14px; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px 4px; }
figcaption { font-weight: 600; margin: 0 0 2px 4px; }
svg.chart { width: 100%; height: auto; display: block; font-family: inherit; }
svg .plot { fill: #fff; }
svg .grid { stroke: #eef2f7; stroke-width: 1; }
svg .axis { stroke: #94a3b8; stroke-width: 1; }
svg .tick { font-size: 11px; fill: var(--muted); }
svg .label { font-size: 12px; fill: #334155; }
svg .legend { font-size: 12px; fill: #334155; }
svg .line { stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; fill: none; }
svg .threshold { stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .marker { stroke-width: 1; stroke-dasharray: 2 3; }
svg .mlabel { font-size: 10px; }
svg .empty { font-size: 14px; fill: var(--muted); }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); border-radius: 8px;
  overflow: hidden; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f1f5f9; font-weight: 600; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.group td { border-top: 2px solid #cbd5e1; }
tr.check-bad td:not([rowspan]) { background: #fff5f5; }
tr.muted td { color: var(--muted); }
tr.good td:last-child { color: var(--good); font-weight: 600; }
tr.bad td:last-child { color: var(--bad); font-weight: 600; }
tr.warn td:last-child { color: var(--warn); font-weight: 600; }
.kind { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.empty-note { color: var(--muted); font-style: italic; background: #fff; border: 1px dashed var(--line);
  border-radius: 8px; padding: 16px; }
details pre { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; overflow-x: auto; }
footer { color: var(--muted); font-size: 12px; margin-top: 28px; }
"""


def _header(deploy: DeployRow, events: Sequence[EventRow]) -> str:
    outcome = deploy.outcome or ("running" if deploy.finished is None else "unknown")
    cls = "run" if deploy.finished is None else OUTCOME_CLASSES.get(outcome, "warn")
    if deploy.finished is not None:
        duration = fmt_duration(max(deploy.finished - deploy.started, 0.0))
    else:
        last = max((e.ts for e in events), default=deploy.started)
        duration = f"still running ({fmt_duration(max(last - deploy.started, 0.0))} as of the last event)"
    reason = deploy.outcome_reason if deploy.finished is not None else "The deploy has not finished (or was interrupted)."
    return f"""<header>
<h1>{esc(deploy.env)}: {esc(deploy.version)} <span class="badge {cls}">{esc(outcome.replace("_", " "))}</span></h1>
<p class="sub">Deploy #{esc(deploy.id)} · {esc(deploy.reason) if deploy.reason else "no reason given"}</p>
<dl class="meta">
<dt>environment</dt><dd>{esc(deploy.env)}</dd><dt>actor</dt><dd>{esc(deploy.actor)}</dd>
<dt>version</dt><dd><code>{esc(deploy.version)}</code></dd><dt>previous</dt><dd><code>{esc(deploy.previous or "—")}</code></dd>
<dt>started</dt><dd>{esc(fmt_utc(deploy.started))}</dd><dt>finished</dt><dd>{esc(fmt_utc(deploy.finished))}</dd>
<dt>duration</dt><dd>{esc(duration)}</dd><dt>outcome</dt><dd><span class="pill {cls}">{esc(outcome)}</span></dd>
</dl>
<div class="reason {cls}"><strong>Outcome reason:</strong> {esc(reason or "—")}</div>
</header>"""


def render_report(deploy: DeployRow, events: Sequence[EventRow]) -> str:
    """A complete, self-contained HTML5 page for one deploy and its events."""
    events = sorted(events, key=lambda e: (e.ts, e.id))
    policy = jsontext.dumps(deploy.policy, indent=2, sort_keys=True, default=str)
    title = f"Deploy #{deploy.id} · {deploy.env} · {deploy.version} · {deploy.outcome or 'running'}"
    return html_page(
        title,
        f"""{_header(deploy, events)}
<section>
<h2>Traffic and analysis</h2>
{_charts(deploy, events)}
</section>
<section>
<h2>Verdicts</h2>
{_verdicts(events)}
</section>
<section>
<h2>Timeline</h2>
{_timeline(deploy, events)}
</section>
<section>
<h2>Policy</h2>
<details><summary>policy recorded at start</summary><pre>{esc(policy)}</pre></details>
</section>
<footer>Rendered from the pipeline journal. All times UTC; offsets relative to the deploy start.</footer>""",
    )


def html_page(title: str, body: str) -> str:
    """A self-contained HTML5 page: inline CSS, no scripts (the CSP forbids them)."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{esc(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""


def write_page(path: Path, text: str) -> Path:
    """Write a page atomically (parent dirs created); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def write_report(path: Path, deploy: DeployRow, events: Sequence[EventRow]) -> Path:
    """Render the report and write it to ``path`` (parent dirs created); returns ``path``."""
    return write_page(path, render_report(deploy, events))
