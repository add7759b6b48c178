"""Pure-Python statistics for the analysis: percentiles, rank correlation, the Mann-Whitney U test.

No numpy or scipy at run time (neither is a dependency of infertel). The samples are bounded
(``analysis.MAX_SAMPLES``), so O(n log n) pure Python is fast enough.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile with linear interpolation between order statistics (numpy's default).

    Example:
        >>> quantile([1.0, 2.0, 3.0, 4.0], 0.5)
        2.5
    """
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Mid-ranks (1-based, ties share their mean rank) and the sizes of the tie groups.

    Example:
        >>> ranks([10.0, 20.0, 10.0])
        ([1.5, 3.0, 1.5], [2, 1])
    """
    order = sorted(range(len(values)), key=values.__getitem__)
    result = [0.0] * len(values)
    groups: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            result[order[k]] = rank
        groups.append(j - i + 1)
        i = j + 1
    return result, groups


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson's correlation coefficient (None for fewer than 3 points or a constant series).

    Example:
        >>> pearson([1, 2, 3], [2, 4, 7])
        0.9933992677987828
    """
    n = len(x)
    if n < 3 or n != len(y):
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx <= 0 or syy <= 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson on mid-ranks): robust to outliers and monotone non-linearity.

    Example:
        >>> spearman([1, 2, 3, 4], [1, 4, 9, 16])
        1.0
    """
    if len(x) < 3 or len(x) != len(y):
        return None
    return pearson(ranks(x)[0], ranks(y)[0])


def slope(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Least-squares slope of ``y`` on ``x`` (None when ``x`` is constant).

    Example:
        >>> slope([0, 1, 2], [1, 3, 5])
        2.0
    """
    n = len(x)
    if n < 2 or n != len(y):
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    if sxx <= 0:
        return None
    return sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / sxx


@dataclass(frozen=True)
class MannWhitney:
    """Result of a two-sided Mann-Whitney U test of ``b`` against ``a``.

    ``u`` is the U statistic of ``b``; ``z`` its standardised value (positive: ``b`` tends to be
    larger); ``p_value`` two-sided, from the normal approximation with tie correction;
    ``prob_greater`` = P(b > a) + P(b = a)/2 (the common-language effect size).
    """

    n_a: int
    n_b: int
    u: float
    z: float
    p_value: float
    prob_greater: float


MIN_SAMPLES = 20
"""Fewest samples per side for the normal approximation (its error is then below ~1% in p)."""


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> MannWhitney | None:
    """Two-sided Mann-Whitney U test with the normal approximation and tie correction.

    Returns None when either side has fewer than :data:`MIN_SAMPLES` values (the normal
    approximation is not trusted there) or every value is equal.

    Example:
        >>> a = [float(i) for i in range(30)]
        >>> mann_whitney(a, [v + 100 for v in a]).p_value < 1e-9
        True
    """
    n_a, n_b = len(a), len(b)
    if n_a < MIN_SAMPLES or n_b < MIN_SAMPLES:
        return None
    r, groups = ranks([*a, *b])
    rank_sum_b = sum(r[n_a:])
    u_b = rank_sum_b - n_b * (n_b + 1) / 2
    n = n_a + n_b
    mean = n_a * n_b / 2
    tie_term = sum(t**3 - t for t in groups) / (n * (n - 1))
    variance = n_a * n_b / 12 * ((n + 1) - tie_term)
    if variance <= 0:
        return None
    # Continuity correction of 0.5 towards the mean.
    diff = u_b - mean
    z = (diff - math.copysign(0.5, diff)) / math.sqrt(variance) if diff else 0.0
    p = min(1.0, math.erfc(abs(z) / math.sqrt(2)))
    return MannWhitney(n_a=n_a, n_b=n_b, u=u_b, z=z, p_value=p, prob_greater=u_b / (n_a * n_b))
