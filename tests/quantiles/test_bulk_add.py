"""Batch counting (``add_values``): the numpy path counts exactly like the one-value-at-a-time path."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from infertel._internal.quantiles import LogMapping, QuantileSketch, _bulk
from infertel._internal.quantiles._bulk import add_values


def state(sketch: QuantileSketch) -> tuple[int, int, str, dict[int, int]]:
    """What a sketch counts: totals, counts' width and every non-empty bucket (headroom ignored)."""
    offset, counts = sketch.bucket_counts()
    buckets = {offset + i: c for i, c in enumerate(counts) if c}
    return sketch.count, sketch.zero_count, sketch._counts.typecode, buckets


def boundary_values(mapping: LogMapping, rng: np.random.Generator, n: int) -> list[float]:
    """Values on and one ulp either side of bucket boundaries, computed several ways."""
    indices = rng.integers(-2000, 2000, size=n).tolist()
    gamma = 1.0 + mapping.relative_accuracy
    out: list[float] = []
    for i in indices:
        for v in (mapping.value(i, 1.0), gamma**i, math.exp(i * math.log(gamma))):
            out += [v, math.nextafter(v, math.inf), math.nextafter(v, 0.0)]
    return out


def special_values(mapping: LogMapping) -> list[float]:
    low, high = mapping.min_value, mapping.max_value
    return [0.0, -1.0, low, math.nextafter(low, 1.0), high, math.nextafter(high, 0.0), 1e12, math.inf, math.nan]


@pytest.mark.parametrize("relative_accuracy", [0.01, 0.02, 0.001])
def test_vector_and_scalar_paths_count_identically(relative_accuracy: float, monkeypatch: pytest.MonkeyPatch) -> None:
    mapping = LogMapping(relative_accuracy)
    rng = np.random.default_rng(7)
    values = rng.lognormal(0.0, 3.0, size=20_000).tolist() + boundary_values(mapping, rng, 3000)
    values += special_values(mapping)
    rng.shuffle(values)
    monkeypatch.setattr(_bulk, "VECTOR_MIN", 1)
    vector = QuantileSketch(mapping=mapping)
    scalar = QuantileSketch(mapping=mapping)
    one_by_one = QuantileSketch(mapping=mapping)
    for start in range(0, len(values), 7000):  # several batches into the same sketch: growth both ways
        add_values(vector, values[start : start + 7000])
    monkeypatch.setattr(_bulk, "USE_NUMPY", False)
    add_values(scalar, values)
    for v in values:
        if math.isnan(v):  # add() rejects NaN; the fold clamps it on top (it never gets one)
            one_by_one.add_index(mapping.index(math.inf))
        else:
            one_by_one.add(v)
    assert state(vector) == state(scalar) == state(one_by_one)
    assert vector.quantiles((0.01, 0.5, 0.99)) == scalar.quantiles((0.01, 0.5, 0.99))


def test_vector_path_widens_counts_on_overflow_like_add_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_bulk, "VECTOR_MIN", 1)
    sketch = QuantileSketch()
    add_values(sketch, [1.0] * 250 + [2.0])
    assert sketch._counts.typecode == "B"
    add_values(sketch, [1.0] * 10 + [0.5] * 3)  # 260 in one bucket: two bytes per bucket
    assert sketch._counts.typecode == "H"
    add_values(sketch, [2.0] * 70_000)  # 70,001: four bytes
    reference = QuantileSketch()
    for v in [1.0] * 260 + [2.0] * 70_001 + [0.5] * 3:
        reference.add(v)
    assert state(sketch) == state(reference)
    assert state(sketch)[2] == "I"


def test_small_batches_and_missing_numpy_take_the_scalar_path(monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[int] = []
    vector = _bulk._add_vector
    monkeypatch.setattr(
        _bulk, "_add_vector", lambda np, sketch, values: (used.append(len(values)), vector(np, sketch, values))
    )
    values = np.random.default_rng(3).lognormal(0.0, 1.0, size=_bulk.VECTOR_MIN).tolist()
    add_values(QuantileSketch(), values[:-1])
    assert used == []
    add_values(QuantileSketch(), values)
    assert used == [len(values)]
    # numpy not imported (or not installed): infertel does not depend on it.
    monkeypatch.setitem(sys.modules, "numpy", None)
    monkeypatch.setattr(_bulk, "_numpy", None)
    assert _bulk.numpy_module() is None
    sketch = QuantileSketch()
    add_values(sketch, values * 10)
    assert used == [len(values)]
    reference = QuantileSketch()
    for v in values * 10:
        reference.add(v)
    assert state(sketch) == state(reference)


def _paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the path each add_values call of the Python fold takes: sorted, run (C loops) or scalar."""
    taken: list[str] = []
    add_sorted, add_run = _bulk._add_sorted, _bulk._add_run

    def sorted_(sketch: QuantileSketch, values: list[float]) -> bool:
        done = add_sorted(sketch, values)
        taken.append("sorted" if done else "?")
        return done

    def run(sketch: QuantileSketch, values: list[float]) -> bool:
        done = add_run(sketch, values)
        taken[-1] = "run" if done else "scalar"
        return done

    monkeypatch.setattr(_bulk, "_add_sorted", sorted_)
    monkeypatch.setattr(_bulk, "_add_run", run)
    return taken


@pytest.mark.parametrize("relative_accuracy", [0.01, 0.001])
def test_python_runs_count_like_one_by_one(relative_accuracy: float, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without numpy, a list of RUN_MIN values or more is sorted and cut at the bucket boundaries
    # (_add_sorted); values within a boundary's margin, or spread over more buckets than there are
    # values, go through C loops (_add_run); NaN or infinite values value by value.
    monkeypatch.setattr(_bulk, "USE_NUMPY", False)
    mapping = LogMapping(relative_accuracy)
    rng = np.random.default_rng(11)
    # About 12 buckets wide at either accuracy (so even RUN_MIN values fill them twice over).
    narrow = rng.lognormal(-2.0, 2 * relative_accuracy, size=9000).tolist()
    on_boundaries = boundary_values(mapping, rng, 1000)
    gamma = 1.0 + mapping.relative_accuracy
    margin = _bulk._MARGIN
    # Just outside a boundary's margin, both sides, in 100 buckets around the others: the sorted
    # path must still count them exactly.
    middle = mapping.index(math.exp(-2.0))
    assert middle is not None
    outside = [
        gamma**i * factor
        for i in rng.integers(middle - 50, middle + 50, size=200).tolist()
        for factor in (1 - 3 * margin, 1 + 3 * margin)
    ]
    specials = special_values(mapping)
    least = _bulk.RUN_MIN
    runs: list[tuple[list[float], str]] = [
        (narrow[i : i + size], "sorted" if size >= least else "")
        for i, size in zip(
            range(0, 9000, 1000), (least - 1, least, least + 1, 1000, 1, 3000, 5, 2000, 300), strict=True
        )
    ]
    runs.append((narrow[:600] + outside[:400], "sorted"))
    runs.append((narrow[:least] + on_boundaries[:5], "run"))  # thousands of buckets apart
    # On and one ulp either side of boundaries (computed three ways) among the others: within a margin.
    near = [
        v * factor
        for i in range(middle - 50, middle + 50)
        for v in (mapping.value(i, 1.0), gamma**i, math.exp(i * math.log(gamma)))
        for factor in (1.0, 1.0 + 2**-52, 1.0 - 2**-53)
    ]
    runs.append((narrow[:3000] + near, "run"))
    runs += [(narrow[:1000] + [v], "run") for v in near[:9]]  # a single one is enough
    runs.append((rng.lognormal(0.0, 3.0, size=300).tolist(), "run"))  # ~1,800 buckets for 300 values
    # 0, -1, min_value: the zero bucket; max_value, 1e12: the top one; the floats next to min_value and
    # max_value: thousands of buckets away from the others (and in edge buckets): value by value, as are
    # inf and NaN.
    paths = ["sorted", "sorted", "sorted", "scalar", "sorted", "scalar", "sorted", "scalar", "scalar"]
    runs += [(narrow[:least] + [special], path) for special, path in zip(specials, paths, strict=True)]
    taken = _paths(monkeypatch)
    sketch = QuantileSketch(mapping=mapping)
    reference = QuantileSketch(mapping=mapping)
    for run, _ in runs:
        add_values(sketch, list(run))
        for v in run:
            reference.add_index(mapping.index(math.inf if math.isnan(v) else v))
        assert state(sketch) == state(reference)
    assert taken == [path for _, path in runs if path]


@pytest.mark.parametrize(
    "one, two, half, paths",
    [(1.5, 1.6, 1.45, ["sorted"] * 3), (1.0, 2.0, 0.5, ["run", "run", "sorted"])],
)
def test_python_runs_widen_counts_like_one_by_one(
    one: float, two: float, half: float, paths: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 250 then 260 in one bucket (one byte, then two), 70,001 (four), by either path: values inside
    # buckets a few apart go the sorted path; 1.0 (= gamma**0, a boundary) and values 70 buckets
    # apart with few values through the C loops.
    monkeypatch.setattr(_bulk, "USE_NUMPY", False)
    taken = _paths(monkeypatch)
    least = _bulk.RUN_MIN
    sketch = QuantileSketch()
    add_values(sketch, [one] * 250 + [two] * least)
    assert sketch._counts.typecode == "B"
    add_values(sketch, [one] * 10 + [half] * least)
    assert sketch._counts.typecode == "H"
    add_values(sketch, [two] * (70_001 - least))
    buckets = {mapping_index(one): 260, mapping_index(two): 70_001, mapping_index(half): least}
    assert state(sketch) == (70_261 + least, 0, "I", buckets)
    assert taken == paths


def mapping_index(value: float) -> int | None:
    return QuantileSketch().mapping.index(value)


def test_numpy_is_used_only_once_the_application_imported_it() -> None:
    # Never imported by infertel: the fold runs on a background thread, and a fork() during that
    # import (gunicorn --preload) would leave the child's numpy import lock held for ever.
    code = (
        "import sys\n"
        "from infertel._internal.quantiles import _bulk\n"
        "from infertel._internal.quantiles._sketch import QuantileSketch\n"
        "_bulk.add_values(QuantileSketch(), [0.001 * i for i in range(1, 500)])\n"
        "assert _bulk.numpy_module() is None and 'numpy' not in sys.modules, sorted(sys.modules)\n"
        "import numpy\n"
        "assert _bulk.numpy_module() is numpy\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")
