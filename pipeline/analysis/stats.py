"""A one-sided Mann-Whitney U test (normal approximation), written out so no numpy/scipy is needed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MannWhitney:
    """Result of :func:`mann_whitney`.

    ``u``: the canary's U statistic (pairs where canary > stable, ties counting one half).
    ``p_value``: one-sided p of "canary is stochastically greater (slower) than stable".
    ``effect``: P(canary > stable) - P(canary < stable), in [-1, 1]; +1 means canary always slower.
    """

    u: float
    p_value: float
    effect: float


def _rank_sum(canary: Sequence[float], stable: Sequence[float]) -> tuple[float, float]:
    """Sum of the canary's average ranks in the pooled sample, and the tie term sum(t^3 - t)."""
    pooled = sorted([(float(v), True) for v in canary] + [(float(v), False) for v in stable], key=lambda pair: pair[0])
    rank_sum = 0.0
    ties = 0.0
    i = 0
    n = len(pooled)
    while i < n:
        j = i
        while j + 1 < n and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        average_rank = (i + j) / 2.0 + 1.0  # ranks are 1-based
        size = j - i + 1
        rank_sum += average_rank * sum(1 for k in range(i, j + 1) if pooled[k][1])
        ties += size**3 - size
        i = j + 1
    return rank_sum, ties


def mann_whitney(canary: Sequence[float], stable: Sequence[float]) -> MannWhitney:
    """Test whether ``canary`` values tend to be greater than ``stable`` ones, in O(n log n).

    Average ranks for ties; z uses the tie-corrected variance and a continuity correction of 0.5;
    p = P(Z >= z) = erfc(z / sqrt 2) / 2. Empty input or no variance (all values equal) gives
    p_value 1.0 and effect 0.0.
    """
    n1, n2 = len(canary), len(stable)
    if n1 == 0 or n2 == 0:
        return MannWhitney(u=0.0, p_value=1.0, effect=0.0)
    rank_sum, ties = _rank_sum(canary, stable)
    u = rank_sum - n1 * (n1 + 1) / 2.0
    pairs = float(n1 * n2)
    n = n1 + n2
    variance = pairs / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0.0:
        return MannWhitney(u=u, p_value=1.0, effect=0.0)
    z = (u - pairs / 2.0 - 0.5) / math.sqrt(variance)
    p_value = min(1.0, max(0.0, 0.5 * math.erfc(z / math.sqrt(2.0))))
    effect = max(-1.0, min(1.0, 2.0 * u / pairs - 1.0))
    return MannWhitney(u=u, p_value=p_value, effect=effect)


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): how surprising k errors in n requests are at rate p."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k, n + 1):
        log_term = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        total += math.exp(log_term)
    return min(1.0, total)


def _binom_pmf_terms(n: int, p: float) -> list[float]:
    """P(X = i) for i = 0..n, X ~ Binomial(n, p), in log space (no overflow for large n)."""
    if p <= 0.0:
        return [1.0] + [0.0] * n
    if p >= 1.0:
        return [0.0] * n + [1.0]
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    return [math.exp(log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q) for i in range(n + 1)]


def quantile_upper_bound(sorted_values: Sequence[float], q: float, alpha: float) -> float:
    """A distribution-free upper confidence bound for the q-quantile (0 < q < 1) of the population
    ``sorted_values`` were drawn from: the smallest order statistic X_(r) with
    P(Binomial(m, q) <= r - 1) >= 1 - alpha, so P(true quantile <= X_(r)) >= 1 - alpha.
    ``math.inf`` when the sample is too small for that confidence."""
    m = len(sorted_values)
    if m == 0:
        return math.inf
    total = 0.0
    for r, term in enumerate(_binom_pmf_terms(m, q), start=1):
        total += term
        if total >= 1.0 - alpha - 1e-12:
            return float(sorted_values[r - 1]) if r <= m else math.inf
    return math.inf


def quantile_exceeds(values: Sequence[float], limit: float, q: float) -> tuple[int, float]:
    """A one-sided test of "the q-quantile (0 < q < 1) of ``values``' population is above ``limit``".

    Under the null (the q-quantile is at or below ``limit``) a value exceeds ``limit`` with
    probability at most 1 - q, so k values above it in n are at least as surprising as
    Binomial(n, 1 - q) >= k. Returns (k, p-value); reject the null when p < alpha.
    """
    above = sum(1 for v in values if v > limit)
    return above, binom_sf(above, len(values), 1.0 - q)
