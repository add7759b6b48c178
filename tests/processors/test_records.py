"""The C statistics buffer (``_records.c``) gives back what was appended, and declines what the column fold must."""

from __future__ import annotations

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
    assert buffer.add(*plain[3]) == 4 and buffer.add(*plain[4]) == 5  # add: the fields, no tuple; the new length
    for record in odd:
        buffer.append(record)
    assert len(buffer) == 11 and buffer[0] == as_appended(plain[0]) and buffer[-1] is odd[-1]
    batch = buffer.take(8)
    buffer.append(plain[0])  # appended meanwhile: stays
    assert len(batch) == 8 and len(buffer) == 4
    got = batch.records()
    assert got[:5] == [as_appended(r) for r in plain]
    assert all(a is b for a, b in zip(got[5:], odd[:3], strict=True))  # kept whole: the very tuples
    assert batch.columns(True) is None and batch.columns(False) is None  # a record kept whole: declined
    assert buffer.pop() == as_appended(plain[0]) and len(buffer) == 3
    buffer.clear()
    assert len(buffer) == 0 and not buffer
    with pytest.raises(IndexError):
        buffer.pop()


@pytest.mark.parametrize("lists", [True, False])
def test_columns_hold_the_values_python_computes(lists: bool) -> None:
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
    columns = batch.columns(lists)
    times, operations, models, errors, durations, counts, inputs, outputs, statuses = columns
    assert times == [r[0] for r in records] and operations == ["chat"] * 300
    assert models == [r[2][MODEL] for r in records] and errors == [r[2].get(ERROR) for r in records]
    assert statuses == [r[5] for r in records]
    latency, ttft, tpot = durations if lists else [_floats(column) for column in durations]
    assert latency == [r[4] / 1_000_000_000 if r[4] > 0 else 0.0 for r in records]  # bit for bit
    assert _same(ttft, [r[2].get(TTFT) for r in records]) and _same(tpot, [r[2].get(TPOT) for r in records])
    assert counts == (sum(TTFT in r[2] for r in records), sum(TPOT in r[2] for r in records))
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
    assert batch.columns(True) is None and batch.columns(False) is None
    # the value itself, for the record-by-record fold's warning (repr: NaN is not equal to itself)
    assert repr(batch.records()[150][2]) == repr(as_appended(span_record(150, **values))[2])


def test_counts_summing_to_2_to_the_53_are_declined() -> None:
    buffer = new()
    buffer.extend(span_record(i, **{INPUT: 2**52}) for i in range(2))
    assert buffer.take(2).columns(False) is None


def test_the_buffer_holds_no_reference_once_records_are_gone() -> None:
    model, attributes = "".join(["model-", "x"]), {}
    attributes[MODEL] = model
    attributes[TTFT] = 0.5
    before = sys.getrefcount(model), sys.getrefcount(attributes)
    buffer = new()
    for i in range(1000):
        buffer.add(1.0 + i, "chat", attributes, i, 10, StatusCode.UNSET, None)
        buffer.append((1.0, "chat", attributes, True, 10, StatusCode.UNSET, None))  # kept whole
    assert sys.getrefcount(model) == before[0] + 1000 and sys.getrefcount(attributes) == before[1] + 1000
    batch = buffer.take(1500)
    batch.records(), batch.columns(True), batch.count_parents(("m", "chat"), ParentTable(), 10)
    del batch
    buffer.pop()
    buffer.clear()
    assert (sys.getrefcount(model), sys.getrefcount(attributes)) == before


def test_a_buffer_made_without_its_keys_raises_instead_of_reading() -> None:
    buffer = _buffer.Records.__new__(_buffer.Records)
    with pytest.raises(TypeError, match="not initialised"):
        buffer.append(span_record(0))
