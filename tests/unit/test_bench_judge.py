"""The judge bench's own logic: which verdict came closest to failing."""

from __future__ import annotations

from pipeline.bench.judge import closest_call
from pipeline.bench.releases import BAD_RELEASES


def test_the_closest_call_is_the_latency_check_nearest_its_limit() -> None:
    timeline = [
        (0.0, "verdict", {"step": 1, "checks": [{"name": "p95_ms", "value": 100.0, "limit": 500.0, "verdict": "pass"}]}),
        (
            1.0,
            "verdict",
            {
                "step": 2,
                "checks": [
                    {"name": "p95_vs_baseline", "value": 90.0, "limit": 100.0, "verdict": "pass"},
                    {"name": "mann_whitney", "value": 0.9, "limit": 0.2, "verdict": "pass"},  # an effect, not a latency
                    {"name": "error_rate", "value": 0.009, "limit": 0.01, "verdict": "pass"},
                ],
            },
        ),
        (2.0, "verdict", {"step": "bake", "checks": [{"name": "p95_ms", "value": 499.0, "limit": 500.0, "verdict": "pass"}]}),
    ]
    assert closest_call(timeline) == "p95_vs_baseline at 90% of its limit (pass) in step 2"
    assert closest_call([]) == "-"


def test_every_bad_release_of_the_bench_must_be_rolled_back() -> None:
    assert len(BAD_RELEASES) >= 6
    assert all(bad.expect.value == "rolled_back" for bad in BAD_RELEASES.values())
    assert any(bad.patch is not None for bad in BAD_RELEASES.values())  # real code changes, not only knobs
