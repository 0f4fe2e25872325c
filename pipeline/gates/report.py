"""One self-contained HTML page per perf gate run: latency percentiles over time per track,
the absolute thresholds as lines, and the verdict. No scripts, no external resources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.environment.perf import THRESHOLD
from pipeline.records.page import PALETTE, TRACK_COLOURS, Series, esc, html_page, line_chart, write_page

if TYPE_CHECKING:
    from pipeline.gates.perf import GateResult, PerfPlan

PERCENTILES = (("p50", 1), ("p95", 2), ("p99", 3))


def latency_limit(thresholds: Mapping[str, Sequence[str]], percentile: str) -> float | None:
    """The ``http_req_duration`` limit for ``p(50|95|99)`` (or med for p50), if one is set."""
    wanted = {"p50": ("med", "p(50)"), "p95": ("p(95)",), "p99": ("p(99)",)}[percentile]
    for expression in thresholds.get("http_req_duration", []):
        match = THRESHOLD.match(expression)
        if match and match.group(1) in wanted and match.group(4) in ("<", "<="):
            return float(match.group(5))
    return None


def render_perf_report(plan: PerfPlan, result: GateResult, series: Mapping[str, list[tuple[float, float, float, float]]]) -> str:
    charts = []
    colours = dict(TRACK_COLOURS)
    for i, track in enumerate(t for t in series if t not in colours):
        colours[track] = PALETTE[(i + 2) % len(PALETTE)]
    for name, index in PERCENTILES:
        chart_lines: list[Series] = [(track, [(row[0], row[index]) for row in rows]) for track, rows in series.items()]
        limit = latency_limit(plan.thresholds, name)
        charts.append(
            line_chart(
                f"{name} latency per second by track (ms)",
                chart_lines,
                threshold=(f"threshold {name} < {limit:g} ms", limit) if limit is not None else None,
                y_label="ms",
                colours=colours,
            )
        )
    rows = "".join(
        f"<tr><td>{esc(t)}</td><td>{s.get('requests')}</td><td>{s.get('error_rate', 0):.2%}</td>"
        f"<td>{s.get('p50_ms')}</td><td>{s.get('p95_ms')}</td><td>{s.get('p99_ms')}</td></tr>"
        for t, s in result.tracks.items()
    )
    lines = "".join(f"<li>{esc(line)}</li>" for line in result.lines) or "<li>all thresholds held</li>"
    lines += "".join(f"<li>not the release: {esc(line)}</li>" for line in result.host)
    thresholds = "".join(f"<li><code>{esc(m)}: {esc(', '.join(e))}</code></li>" for m, e in sorted(plan.thresholds.items()))
    verdict_class = {"pass": "good", "fail": "bad"}.get(result.verdict.value, "warn")
    title = f"Perf gate · {plan.env} · {plan.script} · {result.verdict.value}"
    return html_page(
        title,
        f"""<header><h1>{esc(title)}</h1>
<p class="{verdict_class}">{esc(result.verdict.value.upper())}: {esc(result.reason)}</p>
<p>{plan.rate} requests/s{" per track" if plan.script == "compare" else ""} for {plan.seconds} s against {esc(plan.url)}</p>
</header>
<section><h2>Latency over time</h2>{"".join(charts)}</section>
<section><h2>Tracks</h2>
<table><thead><tr><th>track</th><th>requests</th><th>errors</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr></thead>
<tbody>{rows}</tbody></table></section>
<section><h2>Findings</h2><ul>{lines}</ul></section>
<section><h2>Thresholds</h2><ul>{thresholds}</ul></section>
<footer>Rendered by the pipeline from k6's raw points (track from the edge's X-Edge-Track header).</footer>""",
    )


def write_perf_report(
    path: Path, plan: PerfPlan, result: GateResult, series: Mapping[str, list[tuple[float, float, float, float]]]
) -> Path:
    return write_page(path, render_perf_report(plan, result, series))
