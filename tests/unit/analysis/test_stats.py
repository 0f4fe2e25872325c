from __future__ import annotations

import itertools
import math
import random

import pytest

from pipeline.analysis.stats import MannWhitney, binom_sf, mann_whitney, quantile_exceeds, quantile_upper_bound


def _brute_u(canary: list[float], stable: list[float]) -> float:
    """U by counting every pair: O(n1 * n2), the definition."""
    return sum(1.0 if c > s else 0.5 if c == s else 0.0 for c in canary for s in stable)


def test_hand_computed_no_ties() -> None:
    # canary ranks 4+5+6 = 15, U = 15 - 3*4/2 = 9 = n1*n2; var = 9/12 * 7 = 5.25;
    # z = (9 - 4.5 - 0.5) / sqrt(5.25) = 1.7457; p = erfc(z / sqrt 2) / 2 = 0.040428
    result = mann_whitney([4.0, 5.0, 6.0], [1.0, 2.0, 3.0])
    assert result.u == 9.0
    assert result.effect == 1.0
    assert result.p_value == pytest.approx(0.5 * math.erfc(4.0 / math.sqrt(5.25) / math.sqrt(2.0)))
    assert result.p_value == pytest.approx(0.040428, abs=1e-6)


def test_hand_computed_with_ties() -> None:
    # pooled 1c 2c 2c 2s 3c 3s 4s -> ranks 1, 3, 3, 3, 5.5, 5.5, 7; canary rank sum 12.5, U = 12.5 - 10 = 2.5
    # ties: (3^3 - 3) + (2^3 - 2) = 30; var = 12/12 * (8 - 30/42) = 7.285714; z = (2.5 - 6 - 0.5) / 2.699206 = -1.481919
    result = mann_whitney([1.0, 2.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert result.u == 2.5
    assert result.effect == pytest.approx(2 * 2.5 / 12 - 1)  # -0.5833: canary mostly faster
    assert result.p_value == pytest.approx(0.5 * math.erfc(-4.0 / math.sqrt(8 - 30 / 42) / math.sqrt(2.0)))
    assert result.p_value == pytest.approx(0.930820, abs=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_u_matches_pair_counting(seed: int) -> None:
    rng = random.Random(seed)
    canary = [float(rng.randint(0, 20)) for _ in range(rng.randint(1, 40))]  # many ties
    stable = [float(rng.randint(0, 20)) for _ in range(rng.randint(1, 40))]
    result = mann_whitney(canary, stable)
    u = _brute_u(canary, stable)
    assert result.u == pytest.approx(u)
    greater = sum(c > s for c in canary for s in stable)
    less = sum(c < s for c in canary for s in stable)
    assert result.effect == pytest.approx((greater - less) / (len(canary) * len(stable)))


def test_normal_approximation_is_close_to_the_exact_test() -> None:
    canary = [12.0, 15.0, 17.0, 19.0, 22.0, 25.0, 30.0, 31.0]
    stable = [10.0, 11.0, 13.0, 14.0, 16.0, 18.0, 20.0, 21.0]
    observed = _brute_u(canary, stable)
    pooled = canary + stable
    at_least = total = 0
    for picked in itertools.combinations(range(16), 8):  # every relabelling: the exact permutation test
        chosen = set(picked)
        u = _brute_u([pooled[i] for i in chosen], [pooled[i] for i in range(16) if i not in chosen])
        total += 1
        at_least += u >= observed
    assert mann_whitney(canary, stable).p_value == pytest.approx(at_least / total, abs=0.01)


def test_identical_samples() -> None:
    values = [float(v) for v in range(1, 11)]
    result = mann_whitney(values, values)
    assert result.effect == 0.0
    assert 0.5 < result.p_value < 0.55  # the continuity correction leans to "not greater"


@pytest.mark.parametrize(("canary", "stable"), [([5.0] * 10, [5.0] * 7), ([1.0], [1.0])])
def test_all_identical_values(canary: list[float], stable: list[float]) -> None:
    result = mann_whitney(canary, stable)
    assert (result.p_value, result.effect) == (1.0, 0.0)


@pytest.mark.parametrize(("canary", "stable"), [([], []), ([1.0, 2.0], []), ([], [1.0, 2.0])])
def test_empty_inputs(canary: list[float], stable: list[float]) -> None:
    assert mann_whitney(canary, stable) == MannWhitney(u=0.0, p_value=1.0, effect=0.0)


def test_fully_shifted_samples() -> None:
    stable = [float(v) for v in range(30)]
    canary = [v + 100.0 for v in stable]
    slower = mann_whitney(canary, stable)
    assert slower.effect == 1.0
    assert slower.p_value < 1e-9
    faster = mann_whitney(stable, canary)
    assert faster.effect == -1.0
    assert faster.p_value > 1 - 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_swapping_inputs_swaps_the_sign_of_the_effect(seed: int) -> None:
    rng = random.Random(seed)
    a = [rng.gauss(100, 10) for _ in range(50)]
    b = [rng.gauss(104, 10) for _ in range(60)]
    ab, ba = mann_whitney(a, b), mann_whitney(b, a)
    assert ab.effect == pytest.approx(-ba.effect)
    assert ab.u + ba.u == pytest.approx(len(a) * len(b))
    # one-sided p of "greater" plus one-sided p of "less" is 1 + the continuity term's share
    assert ab.p_value + ba.p_value == pytest.approx(1.0, abs=0.1)


def test_large_samples_are_fast_and_sensible() -> None:
    rng = random.Random(7)
    stable = [rng.lognormvariate(4.0, 0.3) for _ in range(20_000)]
    canary = [rng.lognormvariate(4.1, 0.3) for _ in range(20_000)]
    result = mann_whitney(canary, stable)
    assert result.p_value < 1e-12
    assert 0.1 < result.effect < 0.3  # a 10 % shift at sigma 0.3: P(c > s) - P(c < s) ~ 0.18


@pytest.mark.parametrize(
    ("k", "n", "p", "expected"),
    [
        (0, 10, 0.1, 1.0),
        (11, 10, 0.1, 0.0),
        (1, 20, 0.01, 1 - 0.99**20),
        (10, 10, 0.5, 0.5**10),
        (3, 8, 0.1, 1 - sum(math.comb(8, i) * 0.1**i * 0.9 ** (8 - i) for i in range(3))),
    ],
)
def test_binomial_tail(k: int, n: int, p: float, expected: float) -> None:
    assert binom_sf(k, n, p) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_the_p95_upper_bound_covers_the_true_p95_as_often_as_it_promises() -> None:
    """Exponential latencies: the true p95 is ln(20) * mean. A 97.5 % bound may miss 2.5 % of the time."""
    rng = random.Random(11)
    true_p95 = math.log(20) * 50.0
    misses = 0
    for _ in range(400):
        sample = sorted(rng.expovariate(1 / 50.0) for _ in range(200))
        misses += quantile_upper_bound(sample, 0.95, 0.025) < true_p95
    assert misses / 400 <= 0.05  # 2.5 % promised; sampling noise of 400 trials on top
    assert misses > 0  # and the bound is not trivially loose


def test_the_p95_upper_bound_needs_enough_values() -> None:
    assert quantile_upper_bound([], 0.95, 0.025) == math.inf
    assert quantile_upper_bound([float(v) for v in range(20)], 0.95, 0.025) == math.inf  # 20 values cannot bound a p95
    bound = quantile_upper_bound([float(v) for v in range(1, 201)], 0.95, 0.025)
    assert 190.0 < bound <= 200.0


def test_the_quantile_test_rejects_only_what_chance_cannot_explain() -> None:
    rng = random.Random(5)
    false_alarms = 0
    for _ in range(400):
        sample = [rng.expovariate(1 / 50.0) for _ in range(300)]
        false_alarms += quantile_exceeds(sample, math.log(20) * 50.0, 0.95)[1] < 0.05  # the limit is the true p95
    assert false_alarms / 400 <= 0.08
    slower = [rng.expovariate(1 / 80.0) for _ in range(300)]  # p95 60 % over the limit
    above, p_value = quantile_exceeds(slower, math.log(20) * 50.0, 0.95)
    assert above > 30 and p_value < 1e-6
