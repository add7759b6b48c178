"""The pure-Python statistics against exact answers (numpy permutation tests as the reference)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from infertel.analysis._stats import mann_whitney, pearson, quantile, ranks, slope, spearman


def _permutation_p(a: list[float], b: list[float], rounds: int = 20_000, seed: int = 0) -> float:
    """Two-sided p-value of the rank-sum statistic by random permutations (the exact test, sampled)."""
    rng = np.random.default_rng(seed)
    values = np.array(a + b)
    r = np.array(ranks(list(values))[0])
    observed = abs(r[len(a) :].sum() - len(b) * (len(values) + 1) / 2)
    hits = 0
    for _ in range(rounds // 1000):
        perms = np.argsort(rng.random((1000, len(values))), axis=1)[:, : len(b)]
        sums = r[perms].sum(axis=1)
        hits += int((np.abs(sums - len(b) * (len(values) + 1) / 2) >= observed - 1e-9).sum())
    return hits / rounds


@pytest.mark.parametrize(("shift", "ties"), [(0.0, False), (0.3, False), (0.6, False), (0.4, True), (0.0, True)])
def test_mann_whitney_p_values_match_the_permutation_test(shift, ties) -> None:
    rng = random.Random(int(shift * 10) + ties)
    a = [rng.lognormvariate(0, 0.6) for _ in range(40)]
    b = [rng.lognormvariate(shift, 0.6) for _ in range(35)]
    if ties:  # coarse values, many ties: the tie correction matters
        a, b = [round(v, 1) for v in a], [round(v, 1) for v in b]
    result = mann_whitney(a, b)
    reference = _permutation_p(a, b)
    # Normal approximation vs 20k permutations: agree within the Monte Carlo error and ~1% of p.
    assert result.p_value == pytest.approx(reference, abs=0.012 + 3 * math.sqrt(reference * (1 - reference) / 20_000))
    assert result.u == pytest.approx(sum((x > y) + 0.5 * (x == y) for x in b for y in a))
    assert result.prob_greater == pytest.approx(result.u / (40 * 35))
    assert (result.n_a, result.n_b) == (40, 35)


def test_mann_whitney_needs_enough_values_and_some_variation() -> None:
    assert mann_whitney([1.0] * 19, [2.0] * 30) is None
    assert mann_whitney([1.0] * 30, [1.0] * 30) is None  # every value tied: no rank information
    same = [float(i) for i in range(25)]
    assert mann_whitney(same, same).p_value == 1.0


def test_quantile_ranks_and_correlations_match_numpy() -> None:
    rng = random.Random(1)
    x = [rng.gauss(0, 1) for _ in range(200)]
    y = [2 * v + rng.gauss(0, 0.5) for v in x]
    for q in (0.0, 0.25, 0.5, 0.95, 0.99, 1.0):
        assert quantile(x, q) == pytest.approx(float(np.quantile(x, q)))
    assert quantile([], 0.5) is None
    assert pearson(x, y) == pytest.approx(float(np.corrcoef(x, y)[0, 1]))
    rx = np.argsort(np.argsort(x)) + 1.0
    ry = np.argsort(np.argsort(y)) + 1.0
    assert spearman(x, y) == pytest.approx(float(np.corrcoef(rx, ry)[0, 1]))
    assert slope(x, y) == pytest.approx(float(np.polyfit(x, y, 1)[0]))
    assert ranks([3.0, 1.0, 3.0, 2.0]) == ([3.5, 1.0, 3.5, 2.0], [1, 1, 2])
    assert pearson([1, 1, 1], [1, 2, 3]) is None and spearman([1, 2], [1, 2]) is None
