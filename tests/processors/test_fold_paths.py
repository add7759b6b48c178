"""The fold gives the same statistics whether values are counted with numpy or one by one."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from infertel._internal.processors import InferenceStats
from infertel._internal.processors._window import Slot
from infertel._internal.quantiles import QuantileSketch, _bulk


def records(n: int, seed: int) -> list[tuple[Any, ...]]:
    """Records of three series over several slots: streams, non-streams, errors, bucket boundaries."""
    rng = np.random.default_rng(seed)
    gamma = 1.01
    keys = [("m-a", "chat"), ("m-b", "chat"), ("m-a", "embeddings")]
    out = []
    for i in range(n):
        t = 100.0 + i * 0.02  # 1,000 records per 20 s: crosses 10 s stage boundaries
        latency = float(rng.lognormal(0.0, 1.0))
        if i % 7 == 0:
            latency = gamma ** int(rng.integers(-300, 300))  # on a bucket boundary
        if i % 11 == 0:
            latency = math.nextafter(latency, 0.0)
        kind = i % 4
        ttft = latency * float(rng.uniform(0.05, 0.5)) if kind < 2 else None
        tpot = float(rng.lognormal(-4.0, 0.5)) if kind == 0 else None
        if i % 13 == 0 and tpot is not None:
            tpot = gamma ** int(rng.integers(-500, -200))
        output = int(rng.integers(0, 600)) if kind != 3 or i % 3 else None
        error = "timeout" if i % 17 == 0 else None
        key = keys[int(rng.integers(0, 3))] if i % 5 == 0 else keys[(i // 200) % 3]  # runs and interleaving
        out.append(record(t, key, latency, ttft, tpot, 10, output, error))
    out.append(record(out[-1][0], keys[0], 1e12, math.inf, None, 1, 2, None))  # clamped on top
    out.append(record(out[-1][0], keys[1], 0.0, None, None, 1, 2, None))  # zero bucket
    return out


_RECORD_CLOCK = [0.0]
_RECORDS = InferenceStats(windows_s=(60,), clock=lambda: _RECORD_CLOCK[0])


def record(t: float, key: tuple[str, str], latency: float, *values: Any) -> tuple[Any, ...]:
    """A buffer record (``_fold.RECORD_FIELDS``) clocked at ``t``, as ``InferenceStats.end_record`` builds it."""
    _RECORD_CLOCK[0] = t
    return _RECORDS.end_record(key, latency, *values)


def sketch_state(sketch: QuantileSketch | None) -> Any:
    if sketch is None:
        return None
    offset, counts = sketch.bucket_counts()
    return sketch.count, sketch.zero_count, sketch._counts.typecode, {offset + i: c for i, c in enumerate(counts) if c}


def slot_state(slot: Slot, stats: InferenceStats) -> Any:
    counters = (slot.requests, slot.errors, slot.error_types, slot.input_tokens, slot.output_tokens)
    return counters, [sketch_state(s) for s in slot.thawed(stats.mapping)]


def folded(batches: list[list[tuple[Any, ...]]]) -> dict[Any, Any]:
    """Fold ``batches`` one fold each; every slot's counters and sketches, per series."""
    stats = InferenceStats(clock=lambda: 0.0)
    with stats._lock:  # the background folder skips a locked InferenceStats: we choose the batches
        for batch in batches:
            stats.buffer.extend(batch)
            stats._fold()
        out = {}
        for key, series in stats._series.items():
            windows = [([slot_state(s, stats) for s in w._ring], slot_state(w._closed, stats)) for w in series.windows]
            out[key] = (slot_state(series.stage, stats), windows)
    return out


@pytest.mark.parametrize(("batch", "vector_min"), [(50, 1), (1000, None), (20_000, None)])
def test_numpy_and_python_folds_agree(batch: int, vector_min: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if vector_min is not None:
        monkeypatch.setattr(_bulk, "VECTOR_MIN", vector_min)
    data = records(20_000, seed=batch)
    batches = [data[i : i + batch] for i in range(0, len(data), batch)]
    used: list[int] = []
    vector = _bulk._add_vector
    monkeypatch.setattr(_bulk, "_add_vector", lambda np, sketch, values: (used.append(1), vector(np, sketch, values)))
    with_numpy = folded(batches)
    assert used, "the numpy path was not taken"
    monkeypatch.setattr(_bulk, "USE_NUMPY", False)
    used.clear()
    without_numpy = folded(batches)
    assert not used
    assert with_numpy == without_numpy
    assert len(with_numpy) == 3
