"""The fold gives the same statistics whether values are counted with numpy or one by one."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from stats_buffers import BUFFERS, buffer_kind

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


# --- the column fold (span records, large batches) against the record-by-record fold ------------


def span_records(clock: list[float], extras: bool) -> list[list[tuple[Any, ...]]]:
    """Batches of span records as ``on_end`` buffers them, from real SDK spans.

    Streams and non-streams, errors (``error.type`` and ERROR statuses), three series interleaved,
    slot boundaries crossed, GenAI spans nested in GenAI spans of the same and of another series
    and in HTTP spans, a parent ending before its child; some batches with values the column fold
    must decline (a bool, an int TTFT, a negative count, a NaN TPOT, 116 days, a record built from values).
    """
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Status, StatusCode

    from infertel import semconv
    from infertel._internal.processors import InferenceStatsSpanProcessor

    with buffer_kind("list"):  # the records as on_end appends them (a C buffer gives them back rebuilt)
        processor = InferenceStatsSpanProcessor(windows_s=(60,), clock=lambda: clock[0])
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    rng = np.random.default_rng(5)
    keys = [("m-a", "chat"), ("m-b", "chat"), ("m-a", "embeddings")]
    batches: list[list[tuple[Any, ...]]] = []
    start = 10**15

    def genai(key: tuple[str, str], i: int, context: Any = None, bad: Any = None) -> Any:
        attributes: dict[str, Any] = {
            semconv.GEN_AI_OPERATION_NAME: key[1],
            semconv.GEN_AI_REQUEST_MODEL: key[0],
        }
        if extras:
            attributes["tenant"] = ("t1", "t2")[i % 2]
        span = tracer.start_span("genai", context, attributes=attributes, start_time=start)
        latency = float(rng.lognormal(0.0, 1.0))
        if i % 4 < 2:  # a stream: TTFT, and a TPOT or not (then derived from the output tokens)
            span.set_attribute(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, latency * float(rng.uniform(0.05, 1.5)))
            if i % 4 == 0:
                span.set_attribute(semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN, float(rng.lognormal(-4.0, 0.5)))
        if i % 3:
            span.set_attribute(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, int(rng.integers(0, 600)))
        if i % 5:
            span.set_attribute(semconv.GEN_AI_USAGE_INPUT_TOKENS, int(rng.integers(0, 60)))
        if i % 17 == 0:
            span.set_attribute(semconv.ERROR_TYPE, "timeout")
        if i % 19 == 0:
            span.set_status(Status(StatusCode.ERROR, "boom"))
        if bad is not None:
            span.set_attribute(*bad)
        span._test_end = start + (0 if i % 97 == 0 else int(latency * 1e9))  # type: ignore[attr-defined]
        return span

    def end(span: Any) -> None:
        span.end(end_time=span._test_end)

    bad_values = [
        (semconv.GEN_AI_USAGE_OUTPUT_TOKENS, True),
        (semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, 1),
        (semconv.GEN_AI_USAGE_INPUT_TOKENS, -3),
        (semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN, math.nan),
    ]
    stats = processor.stats
    session = tracer.start_span("a long request")  # one GenAI call at the end of every batch
    outer = None
    with stats._lock:  # nothing is folded here: the test takes the buffered records
        for b in range(24):
            for i in range(300):
                clock[0] += 0.02  # 6 s per batch: crosses 10 s stage boundaries
                key = keys[int(rng.integers(0, 3))] if i % 7 == 0 else keys[(b // 3) % 3]
                shape = i % 10 if b % 3 == 0 else i % 10 + 4  # GenAI spans nested in GenAI spans: 1 batch in 3
                if i == 299:  # the session's parent id was forgotten meanwhile when the table is small
                    end(genai(key, i, trace.set_span_in_context(session)))
                    continue
                if i == 298 and b % 8 == 6:  # a child now, its parent (same series) in the next batch: counted once
                    outer = genai(key, i)
                    end(genai(key, i + 1, trace.set_span_in_context(outer)))
                    continue
                if i == 0 and outer is not None:
                    end(outer)
                    outer = None
                    continue
                if i == 100 and b == 7:  # 10**16 ns (116 days): float64 would round twice, Python once
                    span = genai(key, i)
                    span._test_end = start + 10**16
                    end(span)
                    continue
                if i == 150 and b % 6 == 5:
                    end(genai(key, i, bad=bad_values[(b // 6) % 4]))
                    continue
                if shape == 1:  # nested in a GenAI span of the same series: counted once
                    outer = genai(key, i)
                    inner = genai(key, i + 1, trace.set_span_in_context(outer))
                    end(inner)
                    end(outer)
                elif shape == 2:  # nested in a GenAI span of another series: both counted
                    outer = genai(keys[(keys.index(key) + 1) % 3], i)
                    inner = genai(key, i + 1, trace.set_span_in_context(outer))
                    end(inner)
                    end(outer)
                elif shape == 3:  # the parent ends first
                    outer = genai(key, i)
                    inner = genai(key, i + 1, trace.set_span_in_context(outer))
                    end(outer)
                    end(inner)
                elif shape in (4, 5):  # in an HTTP span (which never reaches the statistics)
                    http = tracer.start_span("POST /v1/chat")
                    end(genai(key, i, trace.set_span_in_context(http)))
                    if shape == 5:  # a second call in the same request, in the next batch or this one
                        end(genai(key, i + 2, trace.set_span_in_context(http)))
                    http.end()
                else:
                    end(genai(key, i))
            if b == 10:
                key = (*keys[0], "t1") if extras else keys[0]
                stats.record_end(stats.end_record(key, 0.5, None, None, 1, 2, None))
            batches.append(list(stats.buffer))
            stats.buffer.clear()
    provider.shutdown()
    return batches


def fold_state(
    batches: list[list[tuple[Any, ...]]], extras: bool, columns: bool, max_series: int = 1000, buffer: str = "list"
) -> tuple[Any, ...]:
    """Fold ``batches`` (one fold each) with or without the column fold, through a ``buffer`` of that kind.

    The whole resulting state.
    """
    from infertel._internal.processors import _columns, _fold

    taken: list[bool] = []
    fold_columns = _columns.fold_columns

    def spy(*args: Any) -> bool:
        taken.append(fold_columns(*args) if columns else False)
        return taken[-1]

    with buffer_kind(buffer):
        stats = InferenceStats(
            windows_s=(60,), clock=lambda: 0.0, extra_attributes=("tenant",) if extras else (), max_series=max_series
        )
    assert (type(stats.buffer) is list) == (buffer == "list" or extras)
    parents: list[Any] = []  # the table of counted parents after each batch
    original = _fold.fold_columns
    _fold.fold_columns = spy
    try:
        with stats._lock:
            for batch in batches:
                stats.buffer.extend(batch)
                stats._fold()
                table = stats._counted_parents
                parents.append((list(table.old.items()), list(table.young.items())))
    finally:
        _fold.fold_columns = original
    series = {}
    for key, s in stats._series.items():
        windows = [([slot_state(x, stats) for x in w._ring], slot_state(w._closed, stats)) for w in s.windows]
        series[key] = (slot_state(s.stage, stats), s.stage_time, s.stage_until, windows)
    return list(series), series, parents, taken


@pytest.mark.parametrize("buffer", BUFFERS)
@pytest.mark.parametrize("numpy", [True, False], ids=["arrays", "lists"])
@pytest.mark.parametrize("extras", [False, True])
@pytest.mark.parametrize("max_parents", [4096, 400, 120])
def test_column_and_record_folds_agree(
    numpy: bool, extras: bool, max_parents: int, buffer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infertel._internal.processors import _fold

    # 400 and 120: the table of parents fills after a few batches; its young half becomes the old one
    monkeypatch.setattr(_fold, "MAX_PENDING_PARENTS", max_parents)
    # Without numpy the column fold keeps its durations in lists (numpy is not a dependency)
    monkeypatch.setattr(_bulk, "USE_NUMPY", numpy)
    batches = span_records([1000.0], extras)
    # (the C buffer, where it is used: without extra attributes; the reference is the list's record by record)
    by_columns = fold_state(batches, extras, columns=True, buffer=buffer)
    by_records = fold_state(batches, extras, columns=False)
    assert by_columns[:3] == by_records[:3]
    # The column fold took every clean batch, and declined the four with a bad value, the one with a
    # record built from values and, in numpy arrays or from the C buffer, the one with a latency of
    # 116 days (float64 would round it twice; a list divides it as the record-by-record fold does,
    # and the C buffer keeps that record whole).
    declined = [i for i, taken in enumerate(by_columns[3]) if not taken]
    whole = numpy or (buffer == "records" and not extras)
    assert declined == ([5, 7, 10, 11, 17, 23] if whole else [5, 10, 11, 17, 23])
    assert len(by_columns[1]) == 3 * (2 if extras else 1)
    old, young = by_columns[2][-1]
    assert len(young) <= max_parents and len(young) + len(old) > 100
    # Both halves in use once the young one has filled (a parent per batch end, nested spans, HTTP spans)
    assert bool(old) == (max_parents < 4096)


@pytest.mark.parametrize("numpy", [True, False], ids=["arrays", "lists"])
def test_the_column_fold_declines_keys_that_share_the_overflow_series(
    numpy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_bulk, "USE_NUMPY", numpy)
    # Every batch has the three keys. Two series kept (the second is the overflow series): two keys
    # are counted in the overflow series, whose slots must see their records in batch order, so
    # every batch goes record by record. Three kept: one key in the overflow series, by columns.
    batches = span_records([1000.0], extras=False)
    for max_series, by_columns_taken in ((2, 0), (3, 18 if numpy else 19)):  # (lists: 116 days too)
        by_columns = fold_state(batches, False, columns=True, max_series=max_series)
        by_records = fold_state(batches, False, columns=False, max_series=max_series)
        assert by_columns[:3] == by_records[:3]
        assert len(by_columns[1]) == max_series
        assert sum(by_columns[3]) == by_columns_taken


def test_records_built_from_values_between_span_records_keep_each_series() -> None:
    # Record by record, a span record whose model and operation are the same objects as the last
    # span record's reuses its key; a record built from values in between changes the series, so
    # the span record after it must take its own series again, and a key equal to the last one
    # built from other objects is the same series.
    from opentelemetry.trace import StatusCode

    from infertel import semconv

    stats = InferenceStats(windows_s=(60,), clock=lambda: 1.0)
    model, operation = "m-a", "chat"
    attributes = {semconv.GEN_AI_REQUEST_MODEL: model}

    def span_record(span_id: int, attrs: dict[str, Any], op: str) -> tuple[Any, ...]:
        return (1.0, op, attrs, span_id, 2_000_000_000, StatusCode.UNSET, None)

    batch = [
        span_record(1, attributes, operation),
        stats.end_record(("m-b", "chat"), 0.5, None, None, 3, 4, None),
        span_record(2, attributes, operation),
        span_record(3, {semconv.GEN_AI_REQUEST_MODEL: "".join(["m-", "a"])}, "".join(["ch", "at"])),
        stats.end_record(("m-b", "chat"), 0.25, None, None, 5, 6, None),
    ]
    with stats._lock:
        stats.buffer.extend(batch)
        stats._fold()
        state = {
            key: (s.stage.requests, s.stage.input_tokens, s.stage.output_tokens, sketch_state(s.stage.sketches[0]))
            for key, s in stats._series.items()
        }
    mapping = stats.mapping
    assert state == {
        ("m-a", "chat"): (3, 0, 0, (3, 0, "B", {mapping.index(2.0): 3})),
        ("m-b", "chat"): (2, 8, 10, (2, 0, "B", {mapping.index(0.5): 1, mapping.index(0.25): 1})),
    }


def uniform_batches(shape: str) -> list[list[tuple[Any, ...]]]:
    """Batches of span records (``_fold.SPAN_RECORD_FIELDS``) that all have the same attributes set.

    ``streams``: every span a TTFT (a third past its latency: clamped) and a TPOT; ``no-tpot``: a
    TTFT and no TPOT (derived from the output tokens); ``plain``: neither (a decode speed).
    """
    from opentelemetry.trace import StatusCode

    from infertel import semconv

    rng = np.random.default_rng(len(shape))
    batches = []
    for b in range(6):
        batch = []
        for i in range(400):
            elapsed = int(rng.lognormal(20.0, 1.0)) if i % 50 else 0
            attributes: dict[str, Any] = {
                semconv.GEN_AI_REQUEST_MODEL: "m",
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS: int(rng.integers(0, 300)),
            }
            if shape != "plain":
                attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = elapsed / 1e9 * float(rng.uniform(0.1, 1.5))
            if shape == "streams":
                attributes[semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN] = float(rng.lognormal(-4.0, 0.5))
            t = 1000.0 + b * 4.0 + i * 0.01  # crosses 10 s stage boundaries
            batch.append((t, "chat", attributes, b * 1000 + i + 1, elapsed, StatusCode.UNSET, None))
        batches.append(batch)
    return batches


@pytest.mark.parametrize("buffer", BUFFERS)
@pytest.mark.parametrize("numpy", [True, False], ids=["arrays", "lists"])
@pytest.mark.parametrize("shape", ["streams", "no-tpot", "plain"])
def test_column_fold_of_uniform_batches_agrees(
    numpy: bool, shape: str, buffer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every record with a TTFT (some clamped) and a TPOT, with a TTFT only, with neither: the column
    # kinds' paths for columns without gaps.
    monkeypatch.setattr(_bulk, "USE_NUMPY", numpy)
    batches = uniform_batches(shape)
    by_columns = fold_state([list(batch) for batch in batches], False, columns=True, buffer=buffer)
    by_records = fold_state([list(batch) for batch in batches], False, columns=False)
    assert by_columns[:3] == by_records[:3]
    assert all(by_columns[3])
    stage, _, _, _ = by_columns[1][("m", "chat")]
    counters, sketches = stage
    assert counters[0] > 0
    present = [sketch is not None for sketch in sketches]
    assert present == {"streams": [True, True, True, False], "no-tpot": [True, True, True, True]}.get(
        shape, [True, False, False, True]
    )
