from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pipeline.records.journal import DeployRow, EventRow, Journal
from pipeline.records.page import line_chart, render_report, write_report

T0 = 1_700_000_000.0
POLICY = {"steps": [5, 50], "thresholds": {"max_error_rate": 0.01, "max_p95_ms": 250.0}}


def deploy(**kw: Any) -> DeployRow:
    base: dict[str, Any] = dict(
        id=7,
        env="local",
        version="3f9c2a1b7d4e",
        previous="a81be0c2f5d9",
        actor="alice@box",
        reason="ship search",
        started=T0,
        finished=T0 + 125.0,
        outcome="rolled_back",
        outcome_reason="p95 above threshold at 50 %",
        policy=POLICY,
    )
    base.update(kw)
    return DeployRow(**base)


def track(err: float | None, p95: float | None) -> dict[str, Any]:
    return {"requests": 100, "errors": 1, "error_rate": err, "p50_ms": 40.0, "p95_ms": p95, "p99_ms": 400.0}


def ev(i: int, offset: float, kind: str, data: dict[str, Any], deploy_id: int | None = 7) -> EventRow:
    return EventRow(id=i, deploy_id=deploy_id, env="local", ts=T0 + offset, kind=kind, data=data)


def events() -> list[EventRow]:
    checks = [
        {"name": "error_rate", "verdict": "pass", "value": 0.002, "limit": 0.01, "detail": "fine"},
        {"name": "p95_ms", "verdict": "fail", "value": 312.0, "limit": 250.0, "detail": "canary p95 312 ms > 250 ms"},
    ]
    return [
        ev(1, 1, "lock", {"action": "acquired", "holder": "alice@box"}),
        ev(2, 5, "step", {"step": 1, "weight": 5}),
        ev(3, 10, "snapshot", {"t": T0 + 10, "weight": 5, "tracks": {"stable": track(0.001, 120), "canary": track(0.002, 130)}}),
        ev(4, 20, "snapshot", {"t": T0 + 20, "weight": 5, "tracks": {"stable": track(0.001, 118), "canary": track(None, None)}}),
        ev(5, 30, "step", {"step": 2, "weight": 50}),
        ev(6, 40, "snapshot", {"t": T0 + 40, "weight": 50, "tracks": {"stable": track(0.0, 121), "canary": track(0.02, 312)}}),
        ev(7, 50, "verdict", {"step": 2, "weight": 50, "verdict": "fail", "checks": checks}),
        ev(8, 51, "decision", {"action": "rollback", "reason": "p95 above threshold"}),
    ]


class Checker(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    return checker


def test_full_report_content() -> None:
    page = render_report(deploy(), events())
    assert page.startswith("<!DOCTYPE html>")
    parsed = parse(page)
    text = " ".join(parsed.text)
    for expected in ("3f9c2a1b7d4e", "a81be0c2f5d9", "alice@box", "2023-11-14 22:13:20 UTC", "2m 05s"):
        assert expected in text
    assert 'class="badge bad"' in page and "rolled back" in text
    assert "p95 above threshold at 50 %" in text
    assert parsed.tags.count("svg") == 3 == page.count("</svg>")
    assert len(re.findall(r'<svg[^>]*>\s*<title id="[^"]+">', page)) == 3
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_threshold_lines_drawn_from_policy() -> None:
    page = render_report(deploy(), events())
    assert page.count('class="threshold"') >= 2
    assert "max error rate (1 %)" in page
    assert "max p95 (250 ms)" in page
    no_policy = render_report(deploy(policy={}), events())
    assert 'class="threshold"' not in no_policy


def test_markers_for_steps_and_final_decision() -> None:
    page = render_report(deploy(), events())
    weight_chart = page.split("</svg>")[0]
    assert weight_chart.count('class="marker"><title>') == 3  # two steps + the rollback (not the legend swatch)
    assert ">rollback</text>" in weight_chart
    assert ">50 %</text>" in weight_chart


def test_verdict_rows_with_failing_detail() -> None:
    page = render_report(deploy(), events())
    table = page.split('<table class="verdicts">')[1].split("</table>")[0]
    assert table.count("<tr") == 3  # header + 2 checks
    failing = next(row for row in table.split("<tr")[1:] if "p95_ms" in row)
    assert 'class="check-bad' in failing.split(">")[0]
    assert "canary p95 312 ms &gt; 250 ms" in failing
    assert '<span class="pill bad">fail</span>' in failing
    assert "312" in failing and "250" in failing


def test_timeline_lists_every_event_with_offsets() -> None:
    page = render_report(deploy(), events())
    timeline = page.split('<table class="timeline">')[1].split("</table>")[0]
    assert timeline.count("<tr") == 1 + len(events())
    assert "+0:51" in timeline and "rollback: p95 above threshold" in timeline
    assert "step 2 → canary weight 50 %" in timeline


def test_gaps_split_lines() -> None:
    page = render_report(deploy(), events())
    error_chart = page.split("</svg>")[1]
    # canary is 0.2 %, None, 2 %: the gap leaves two lone dots and no line; stable is one 3-point line
    assert error_chart.count("<polyline") == 1
    assert error_chart.count('r="3.5"') == 2


def test_escapes_journal_strings() -> None:
    evil = "<script>alert(1)</script>"
    d = deploy(version=evil, actor='"><img src=x onerror=alert(1)>', reason=evil, outcome_reason=evil, env="e&v")
    evs = [*events(), ev(9, 60, "chaos", {"note": evil}), ev(10, 61, evil, {evil: evil})]
    evs[6] = ev(7, 50, "verdict", {"step": 1, "weight": 5, "verdict": evil, "checks": [{"name": evil, "detail": evil}]})
    page = render_report(d, evs)
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "e&amp;v" in page
    parse(page)


def test_no_snapshots_says_no_traffic_data() -> None:
    evs = [e for e in events() if e.kind != "snapshot"]
    page = render_report(deploy(outcome="deployed", outcome_reason="plain deploy"), evs)
    parse(page)
    assert "No traffic data" in page
    assert "<svg" not in page
    assert 'class="badge good"' in page


def test_no_events_at_all() -> None:
    page = render_report(deploy(), [])
    parse(page)
    assert "No traffic data" in page and "No events recorded" in page and "No analysis verdicts" in page


def test_single_snapshot_and_running_deploy() -> None:
    snap = ev(1, 3, "snapshot", {"weight": 5, "tracks": {"stable": track(0.0, 90), "canary": track(0.0, 95)}})
    page = render_report(deploy(finished=None, outcome=None, outcome_reason=None), [snap])
    parse(page)
    assert page.count("<svg") == 3
    assert "<polyline" not in page and "<circle" in page  # a single point is a dot
    assert 'class="badge run"' in page and "running" in page
    assert "still running (3.0 s as of the last event)" in page


def test_line_chart_alone() -> None:
    svg = line_chart(
        "Demo",
        [("a", [(0.0, 1.0), (10.0, None), (20.0, 3.0), (30.0, 4.0)]), ("b", [])],
        threshold=("limit", 2.0),
        markers=[(15.0, "go", "#000")],
        chart_id="demo",
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert '<title id="demo-t">Demo</title>' in svg
    assert svg.count("<polyline") == 1 and 'class="threshold"' in svg and ">go</text>" in svg
    parse(svg)
    assert "no data" in line_chart("Empty", [("a", [])])


@pytest.mark.parametrize("outcome", ["promoted", "rolled_back", "aborted", "failed", "deployed"])
def test_every_outcome_renders(outcome: str) -> None:
    parse(render_report(deploy(outcome=outcome), events()))


def test_write_report_from_journal(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        dep = j.start_deploy("local", "v9", None, "a@b", "r", POLICY, ts=T0)
        j.event("local", "snapshot", {"weight": 5, "tracks": {"canary": track(0.0, 80)}}, deploy_id=dep, ts=T0 + 5)
        j.finish_deploy(dep, "promoted", "ok", ts=T0 + 9)
        row = j.deploy(dep)
        assert row is not None
        out = write_report(tmp_path / "reports" / "deploy.html", row, j.events(dep))
    assert out == tmp_path / "reports" / "deploy.html"
    page = out.read_text(encoding="utf-8")
    assert "v9" in page and "promoted" in page
    assert not list(out.parent.glob("*.tmp"))


def test_the_timeline_says_how_the_promotion_and_a_revert_went() -> None:
    from pipeline.records.page import summarize

    promoted = summarize(ev(1, 0, "promoted", {"version": "v2", "previous": "v1", "seconds": 4.2}))
    assert promoted == "promoted v2: its tasks took over stable in 4.2 s; v1 kept warm at weight 0"
    assert summarize(ev(2, 1, "reverted", {"version": "v1", "seconds": 0.4})) == "reverted to the warm v1 in 0.4 s"
    settled = summarize(ev(3, 2, "settled", {"seconds": 6.1}))
    assert settled == "hand-over done: all traffic on the new stable 6.1 s after the promotion"
    beside = summarize(ev(4, 3, "beside", {"share": 50, "reason": "bake: p95_ms ..."}))
    assert beside == "bake: the previous release serves 50 % beside the new stable for a fresh window"
    assert summarize(ev(5, 4, "beside", {"share": 0, "reason": "the bake passed"})).endswith("back to 0 % (the bake passed)")
