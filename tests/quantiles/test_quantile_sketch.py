"""The quantile sketch against numpy's exact quantiles (numpy's default, method="linear").

Bound under test: |estimate(q) - numpy.quantile(x, q)| <= relative_accuracy * numpy.quantile(x, q)
for every q, for values in [min_value, max_value] (see infertel._internal.quantiles._sketch).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from infertel._internal.quantiles import LogMapping, QuantileSketch

QUANTILES = (0.5, 0.9, 0.95, 0.99, 0.999)
N = 1_000_000


def _lognormal(rng: np.random.Generator) -> np.ndarray:
    return rng.lognormal(mean=math.log(0.8), sigma=1.0, size=N)


def _pareto(rng: np.random.Generator) -> np.ndarray:
    return rng.pareto(1.5, size=N) + 1.0  # classic Pareto, x_m = 1, alpha = 1.5: heavy tail


def _bimodal(rng: np.random.Generator) -> np.ndarray:
    fast = rng.lognormal(math.log(0.05), 0.2, size=N * 7 // 10)  # cache hits
    slow = rng.lognormal(math.log(2.0), 0.3, size=N - fast.size)  # long generations
    values = np.concatenate([fast, slow])
    rng.shuffle(values)
    return values


@pytest.mark.parametrize("make", [_lognormal, _pareto, _bimodal], ids=["lognormal", "pareto", "bimodal"])
def test_million_samples_within_one_percent_of_numpy(make) -> None:
    values = make(np.random.default_rng(20261122))
    sketch = QuantileSketch.from_values(values.tolist(), relative_accuracy=0.01)

    estimates = sketch.quantiles(QUANTILES)
    exact = np.quantile(values, QUANTILES)  # method="linear", the definition the sketch follows

    assert sketch.count == N
    for q, estimate, truth in zip(QUANTILES, estimates, exact, strict=True):
        assert estimate is not None
        assert abs(estimate - truth) <= 0.01 * truth, (q, estimate, truth)


def test_bound_holds_on_small_adversarial_sets() -> None:
    # Few values spread over many decades: buckets hold one or two values, interpolation
    # between order statistics crosses buckets. The bound must still hold for every q.
    rng = np.random.default_rng(7)
    qs = [i / 200 for i in range(201)]
    for _ in range(300):
        n = int(rng.integers(1, 40))
        values = np.exp(rng.uniform(-15, 15, size=n))
        sketch = QuantileSketch.from_values(values.tolist(), relative_accuracy=0.01)
        for q, estimate, truth in zip(qs, sketch.quantiles(qs), np.quantile(values, qs), strict=True):
            assert abs(estimate - truth) <= 0.01 * truth * (1 + 1e-12), (n, q, estimate, truth)


@pytest.mark.parametrize("accuracy", [0.05, 0.02, 0.001])
def test_bound_follows_the_configured_accuracy(accuracy: float) -> None:
    values = np.random.default_rng(3).lognormal(0.0, 2.0, size=20_000)
    sketch = QuantileSketch.from_values(values.tolist(), relative_accuracy=accuracy)
    qs = (0.01, 0.25, 0.5, 0.75, 0.99, 0.9999)
    for estimate, truth in zip(sketch.quantiles(qs), np.quantile(values, qs), strict=True):
        assert abs(estimate - truth) <= accuracy * truth


def test_merge_is_exact_and_subtract_undoes_it() -> None:
    rng = np.random.default_rng(11)
    a = rng.lognormal(0, 1, 5000).tolist()
    b = rng.pareto(2.0, 7000).tolist()  # includes values near 0
    whole = QuantileSketch.from_values(a + b)
    merged = QuantileSketch.from_values(a)
    merged.merge(QuantileSketch.from_values(b))

    assert _same_counts(merged, whole)
    assert (merged.count, merged.zero_count) == (whole.count, whole.zero_count)
    assert merged.quantiles(QUANTILES) == whole.quantiles(QUANTILES)

    merged.subtract(QuantileSketch.from_values(b))
    only_a = QuantileSketch.from_values(a)
    assert _same_counts(merged, only_a)
    assert merged.quantiles(QUANTILES) == only_a.quantiles(QUANTILES)


def _same_counts(x: QuantileSketch, y: QuantileSketch) -> bool:
    def nonzero(s: QuantileSketch) -> dict[int, int]:
        offset, counts = s.bucket_counts()
        return {offset + i: c for i, c in enumerate(counts) if c}

    return nonzero(x) == nonzero(y) and x.zero_count == y.zero_count


def test_subtracting_everything_releases_the_buckets() -> None:
    s = QuantileSketch.from_values([1.0, 2.0, 3.0])
    s.subtract(s.copy())
    assert (s.count, s.bucket_counts(), s.quantile(0.5)) == (0, (0, []), None)


def test_counts_widen_past_one_byte_without_loss() -> None:
    s = QuantileSketch()
    for _ in range(70_000):  # past 255 (uint8) and 65,535 (uint16)
        s.add(0.25)
    s.add(4.0)
    offset, counts = s.bucket_counts()
    assert sorted(c for c in counts if c) == [1, 70_000]
    assert s.count == 70_001
    assert s.quantile(0.5) == pytest.approx(0.25, rel=0.01)
    assert s.quantile(1.0) == pytest.approx(4.0, rel=0.01)


def test_merging_widens_when_sums_overflow() -> None:
    a, b = QuantileSketch(), QuantileSketch()
    for _ in range(200):
        a.add(1.0)
        b.add(1.0)
    a.merge(b)
    assert a.count == 400 and max(a.bucket_counts()[1]) == 400


def test_zero_negative_and_out_of_range_values() -> None:
    s = QuantileSketch.from_values([0.0, -3.0, 1e-12, 5.0, 1e15])
    assert s.zero_count == 3 and s.count == 5
    assert s.quantiles((0.0, 0.5)) == [0.0, 0.0]
    assert s.quantile(0.75) == pytest.approx(5.0, rel=0.01)
    assert s.quantile(1.0) == pytest.approx(1e9, rel=0.01)  # clamped to max_value


def test_empty_sketch_has_no_quantiles() -> None:
    assert QuantileSketch().quantiles((0.5, 0.99)) == [None, None]


def test_memory_is_bounded_by_the_value_range() -> None:
    mapping = LogMapping(0.01)
    s = QuantileSketch(mapping=mapping)
    for exponent in range(-9, 10):
        s.add(10.0**exponent)
    assert len(s.bucket_counts()[1]) <= mapping.max_buckets + 16
    assert s.memory_bytes() < mapping.max_buckets + 512  # one byte per bucket while counts are small


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 2.0])
def test_invalid_accuracy_is_a_value_error(bad: float) -> None:
    with pytest.raises(ValueError, match="relative_accuracy"):
        QuantileSketch(relative_accuracy=bad)


def test_quantile_outside_unit_interval_is_a_value_error() -> None:
    s = QuantileSketch.from_values([1.0])
    with pytest.raises(ValueError, match="quantile"):
        s.quantile(1.5)


def test_sketches_with_different_accuracy_do_not_combine() -> None:
    with pytest.raises(ValueError, match="relative_accuracy"):
        QuantileSketch(0.01).merge(QuantileSketch(0.02))


def test_reciprocal_merge_is_the_sketch_of_the_reciprocals() -> None:
    tpot = np.random.default_rng(13).lognormal(np.log(0.02), 0.4, size=50_000)
    speed = QuantileSketch()
    speed.merge_reciprocal(QuantileSketch.from_values(tpot.tolist()))
    direct = QuantileSketch.from_values((1.0 / tpot).tolist())
    assert speed.count == direct.count == tpot.size
    # Same buckets (1/x of bucket i lies in bucket 1 - i), so the same quantiles ...
    assert _same_counts(speed, direct)
    # ... and the same bound against the exact quantiles of the reciprocals.
    for estimate, truth in zip(speed.quantiles(QUANTILES), np.quantile(1.0 / tpot, QUANTILES), strict=True):
        assert abs(estimate - truth) <= 0.01 * truth
