"""The C statistics buffer (``_records.c``) gives back what was appended, and declines what the column fold must."""

from __future__ import annotations

import array
import math
import random
import sys
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from infertel._internal.processors import _buffer
from infertel._internal.processors._parents import ParentTable

if _buffer.Records is None:  # (a failure in CI: tests/ci_skips.py)
    pytest.skip("the C statistics buffer (_records.c) was not built", allow_module_level=True)

KEYS = _buffer.READ_ATTRIBUTES
MODEL, ERROR, TTFT, TPOT, INPUT, OUTPUT = KEYS


def new() -> Any:
    buffer = _buffer.new_buffer(())
    assert type(buffer) is _buffer.Records
    return buffer


def span_record(i: int, **values: Any) -> tuple[Any, ...]:
    attributes = {MODEL: "m", TTFT: 0.25 + i, TPOT: 0.01, INPUT: 12, OUTPUT: 300 + i, "other": "x", **values}
    attributes = {k: v for k, v in attributes.items() if v is not None}
    return (100.0 + i, "chat", attributes, 2**64 - 1 - i, 1_500_000_000 + i, StatusCode.UNSET, None if i % 2 else i)


def as_appended(record: tuple[Any, ...]) -> tuple[Any, ...]:
    """What the buffer gives back for a span record it read: the six values of its attribute mapping."""
    t, operation, attributes, *rest = record
    return (t, operation, {k: attributes[k] for k in KEYS if k in attributes}, *rest)


def test_records_come_back_in_order_with_the_values_read() -> None:
    buffer = new()
    plain = [span_record(i) for i in range(5)]
    odd = [
        span_record(5, **{OUTPUT: True}),  # a bool: kept whole
        span_record(6, **{TTFT: 1}),  # an int duration: kept whole
        (7.0, "chat", {MODEL: "m"}, -1, 10, StatusCode.OK, None),  # a negative span id
        (8.0, "chat", {MODEL: "m"}, 1, 2**53, StatusCode.OK, None),  # 104 days: double division would round twice
        (9, "chat", {MODEL: "m"}, 1, 10, StatusCode.OK, None),  # an int clock
        (10.0, 1.5, None, None, None, ("m", "chat"), None, None, None, 1, 2),  # a record built from values
    ]
    for record in plain[:3]:
        buffer.append(record)
    buffer.extend(plain[3:])
    for record in odd:
        buffer.append(record)
    assert len(buffer) == 11 and buffer[0] == as_appended(plain[0]) and buffer[-1] is odd[-1]
    batch = buffer.take(8)
    buffer.append(plain[0])  # appended meanwhile: stays
    assert len(batch) == 8 and len(buffer) == 4
    got = batch.records()
    assert got[:5] == [as_appended(r) for r in plain]
    assert all(a is b for a, b in zip(got[5:], odd[:3], strict=True))  # kept whole: the very tuples
    assert batch.columns() is None  # a record kept whole: declined
    assert buffer.pop() == as_appended(plain[0]) and len(buffer) == 3
    buffer.clear()
    assert len(buffer) == 0 and not buffer
    with pytest.raises(IndexError):
        buffer.pop()


def test_columns_hold_the_values_python_computes() -> None:
    rng = random.Random(3)
    buffer = new()
    records = []
    for i in range(300):
        elapsed = rng.choice([0, -5, rng.randrange(2**53), rng.randrange(10**12)])
        values = {
            TTFT: rng.random() if i % 3 else None,
            TPOT: None if i % 4 else rng.random() / 100,
            INPUT: None if i % 5 == 0 else rng.randrange(10**6),
            OUTPUT: rng.randrange(200),
            ERROR: "timeout" if i % 7 == 0 else None,
            MODEL: ("a", "b")[i % 2],
        }
        record = span_record(i, **values)
        record = (*record[:4], elapsed, StatusCode.ERROR if i % 9 == 0 else StatusCode.UNSET, record[6])
        records.append(record)
        buffer.append(record)
    batch = buffer.take(1000)
    columns = batch.columns()
    times, operations, models, errors, durations, inputs, outputs, statuses = columns
    assert times == [r[0] for r in records] and operations == ["chat"] * 300
    assert models == [r[2][MODEL] for r in records] and errors == [r[2].get(ERROR) for r in records]
    assert statuses == [r[5] for r in records]
    latency, ttft, tpot = [_floats(column) for column in durations]
    assert latency == [r[4] / 1_000_000_000 if r[4] > 0 else 0.0 for r in records]  # bit for bit
    assert _same(ttft, [r[2].get(TTFT) for r in records]) and _same(tpot, [r[2].get(TPOT) for r in records])
    for column, key in ((inputs, INPUT), (outputs, OUTPUT)):
        assert column == ([r[2].get(key) for r in records], sum(r[2].get(key) or 0 for r in records))


def _floats(data: bytes) -> list[float | None]:
    values = memoryview(data).cast("d").tolist()
    return [None if math.isnan(v) else v for v in values]


def _same(got: list[Any], want: list[Any]) -> bool:
    return len(got) == len(want) and all(a == b and type(a) is type(b) for a, b in zip(got, want, strict=True))


@pytest.mark.parametrize(
    "values",
    [{TTFT: -0.5}, {TTFT: math.nan}, {TPOT: -1e-9}, {TPOT: math.nan}, {INPUT: -3}, {OUTPUT: 2**53}],
    ids=["negative TTFT", "NaN TTFT", "negative TPOT", "NaN TPOT", "negative count", "count of 2**53"],
)
def test_columns_decline_what_the_column_fold_declines(values: dict[str, Any]) -> None:
    buffer = new()
    buffer.extend(span_record(i, **(values if i == 150 else {})) for i in range(300))
    batch = buffer.take(300)
    assert batch.columns() is None
    # the value itself, for the record-by-record fold's warning (repr: NaN is not equal to itself)
    assert repr(batch.records()[150][2]) == repr(as_appended(span_record(150, **values))[2])


def test_counts_summing_to_2_to_the_53_are_declined() -> None:
    buffer = new()
    buffer.extend(span_record(i, **{INPUT: 2**52}) for i in range(2))
    assert buffer.take(2).columns() is None


def test_the_buffer_holds_no_reference_once_records_are_gone() -> None:
    model, attributes = "".join(["model-", "x"]), {}
    attributes[MODEL] = model
    attributes[TTFT] = 0.5
    before = sys.getrefcount(model), sys.getrefcount(attributes)
    buffer = new()
    for i in range(1000):
        buffer.append((1.0 + i, "chat", attributes, i, 10, StatusCode.UNSET, None))
        buffer.append((1.0, "chat", attributes, True, 10, StatusCode.UNSET, None))  # kept whole
    assert sys.getrefcount(model) == before[0] + 1000 and sys.getrefcount(attributes) == before[1] + 1000
    batch = buffer.take(1500)
    batch.records(), batch.columns(), batch.count_parents(("m", "chat"), ParentTable(), 10)
    del batch
    buffer.pop()
    buffer.clear()
    assert (sys.getrefcount(model), sys.getrefcount(attributes)) == before


def test_a_buffer_made_without_its_keys_raises_instead_of_reading() -> None:
    buffer = _buffer.Records.__new__(_buffer.Records)
    with pytest.raises(TypeError, match="not initialised"):
        buffer.append(span_record(0))


def test_packed_columns_compute_what_python_does() -> None:
    from infertel._internal.processors import _records

    rng = random.Random(7)
    n = 500
    latency = [rng.choice([0.0, rng.random(), rng.lognormvariate(0, 2)]) for _ in range(n)]
    ttft = [None if i % 3 == 0 else rng.random() * 2 for i in range(n)]
    tpot = [None if i % 2 else rng.random() / 50 for i in range(n)]
    output = [None if i % 7 == 0 else rng.choice([0, 1, 2, rng.randrange(3000)]) for i in range(n)]
    clamped = _floats(_records.clamp(_pack(ttft), _pack(latency)))
    assert _same(clamped, [None if t is None else min(t, lat) for t, lat in zip(ttft, latency, strict=True)])
    derived = _records.derive(_pack(latency), _pack(clamped), _pack(tpot), output)
    assert derived is not None
    want_tpot, want_speed = list(tpot), [None] * n
    for i, (lat, first, given, out) in enumerate(zip(latency, clamped, tpot, output, strict=True)):
        if given is None and out:  # as the record-by-record fold derives them
            if first is not None and out >= 2 and lat > first:
                want_tpot[i] = (lat - first) / (out - 1)
            elif lat > 0.0:
                want_speed[i] = out / lat
    assert _same(_floats(derived[0]), want_tpot) and _same(_floats(derived[1]), want_speed)
    assert _records.derive(_pack(latency), _pack(clamped), _pack([0.5] * n), output) is None  # every record has a TPOT
    indices = sorted(rng.sample(range(n), 120))
    assert _floats(_records.select(_pack(ttft), indices)) == [ttft[i] for i in indices if ttft[i] is not None]
    assert _floats(_records.select(_pack(ttft), None)) == [t for t in ttft if t is not None]


@pytest.mark.parametrize("seed", range(3))
def test_packed_bucket_counts_equal_adding_one_by_one(seed: int) -> None:
    from infertel._internal.processors._column_packed import PackedColumns
    from infertel._internal.quantiles import LogMapping, QuantileSketch

    rng = random.Random(seed)
    mapping = LogMapping(0.01)
    gamma = 1.01
    values = [rng.lognormvariate(-2, 3) for _ in range(3000)]
    values += [gamma ** rng.randrange(-2000, 2000) for _ in range(300)]  # on bucket boundaries
    values += [math.nextafter(v, 0.0) for v in values[-300:]]  # a hair below them
    values += [0.0, 1e-9, 5e-10, 1e9, 1e12, math.inf] * 5  # the zero bucket, the top bucket
    packed, one_by_one = QuantileSketch(mapping=mapping), QuantileSketch(mapping=mapping)
    PackedColumns().count(packed, _pack(values))
    for value in values:
        one_by_one.add(value)
    assert (packed.count, packed.zero_count) == (one_by_one.count, one_by_one.zero_count)
    assert packed.bucket_counts()[0] + len(packed.bucket_counts()[1]) > 0
    assert _buckets(packed) == _buckets(one_by_one)


def _pack(values: list[float | None]) -> bytes:
    return array.array("d", [math.nan if v is None else v for v in values]).tobytes()


def _buckets(sketch: Any) -> dict[int, int]:
    offset, counts = sketch.bucket_counts()
    return {offset + i: c for i, c in enumerate(counts) if c}
