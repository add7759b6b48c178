"""The span rollups counted while spans are encoded equal a plain per-span computation, odd values included."""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from infertel import semconv
from infertel_exporters.sqlite import _span_rollups
from infertel_exporters.sqlite._buckets import DURATION_BOUNDS, STEPS_S, TPOT_BOUNDS, TTFT_BOUNDS, pack_counts
from infertel_exporters.sqlite._encode import ResourceCache
from infertel_exporters.sqlite._span_encode import span_rows
from infertel_exporters.sqlite._span_rollups import DURATION_NS_BOUNDS, VALUE_COLUMNS, SpanRollups, pack

S = 10**9
T0 = 490_278 * 3600 * S
SCOPE = InstrumentationScope("infertel", "0.1.0")
RESOURCES = [Resource({"service.name": name}) for name in ("api", "batch")]
ODD = [None, True, 3, 0.25, -1.0, math.nan, math.inf, "0.5", 2**40, 0, 7.5]
"""Values for the token / TTFT / TPOT attributes: only finite non-negative ints and floats count (ints for tokens)."""
DURATIONS = [0, 1, *[b + k for b in DURATION_NS_BOUNDS for k in (-1, 0, 1)], 10**15]


def _spans() -> list[ReadableSpan]:
    out = []
    for i in range(600):
        attributes: dict[str, Any] = {}
        if i % 7 != 3:
            attributes[semconv.GEN_AI_REQUEST_MODEL] = f"m{i % 3}"
        if i % 5 != 1:
            attributes[semconv.GEN_AI_OPERATION_NAME] = "chat" if i % 2 else "embeddings"
        if i % 9 == 0 and semconv.GEN_AI_REQUEST_MODEL not in attributes:
            attributes[semconv.GEN_AI_RESPONSE_MODEL] = "resp-model"
        for k, key in enumerate(
            (
                semconv.GEN_AI_USAGE_INPUT_TOKENS,
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
                semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
                semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN,
            )
        ):
            value = ODD[(i + 3 * k) % len(ODD)]
            if value is not None:
                attributes[key] = value
        if i % 13 == 0:
            attributes[semconv.ERROR_TYPE] = "TimeoutError"
        elif i % 17 == 0:
            attributes[semconv.ERROR_TYPE] = 500  # not a string: counted under "500"
        start = T0 + (i % 40) * 4 * S + i
        out.append(ReadableSpan(
            name="x", context=SpanContext(0x7000 + i, i + 1, False, TraceFlags(1)), parent=None,
            resource=RESOURCES[i % 2], attributes=attributes, kind=SpanKind.CLIENT, instrumentation_scope=SCOPE,
            status=Status(StatusCode.ERROR) if i % 4 == 0 else Status(StatusCode.UNSET),
            start_time=start, end_time=start + DURATIONS[i % len(DURATIONS)],
        ))  # fmt: skip
    return out


def _plain_rows(spans: list[ReadableSpan], done: dict[int, int] | None) -> tuple[list[Any], list[Any], list[Any]]:
    """The rows computed span by span in logical values, then packed (the layout-independent reference)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for span in spans:
        a = dict(span.attributes or {})
        model = a.get(semconv.GEN_AI_REQUEST_MODEL) or a.get(semconv.GEN_AI_RESPONSE_MODEL)
        operation = a.get(semconv.GEN_AI_OPERATION_NAME)
        if model is None and operation is None:
            continue
        error = span.status.status_code is StatusCode.ERROR
        error_type = a.get(semconv.ERROR_TYPE)
        error_type = ("_OTHER" if error else "") if error_type is None else str(error_type)
        start = span.start_time or 0
        key = (start - start % (10 * S), span.resource.attributes["service.name"], model or "", operation or "",
               error_type)  # fmt: skip
        values = groups.setdefault(key, [0] * len(VALUE_COLUMNS))
        values[0] += 1
        values[1] += 1 if error_type else 0
        for slot, name in ((2, semconv.GEN_AI_USAGE_INPUT_TOKENS), (3, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)):
            if type(a.get(name)) is int:
                values[slot] += a[name]
        d0, f0, p0 = 6, 6 + len(DURATION_BOUNDS) + 1, 6 + len(DURATION_BOUNDS) + len(TTFT_BOUNDS) + 2
        values[d0 + bisect_left(DURATION_BOUNDS, ((span.end_time or 0) - start) / 1e9)] += 1
        for count_slot, first, bounds, name in (
            (4, f0, TTFT_BOUNDS, semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
            (5, p0, TPOT_BOUNDS, semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN),
        ):
            value = a.get(name)
            if type(value) in (int, float) and 0 <= value < math.inf:
                values[count_slot] += 1
                values[first + bisect_left(bounds, value)] += 1
    main: dict[tuple[Any, ...], list[int]] = {}
    errors: dict[tuple[Any, ...], list[int]] = {}
    for (bucket, service, model, operation, error_type), values in groups.items():
        for step in STEPS_S:
            aligned = bucket - bucket % (step * S)
            if step != 10 and done is not None and aligned >= done[step]:
                continue
            target = main.setdefault((step, aligned, service, model, operation), [0] * len(VALUE_COLUMNS))
            target[:] = [x + y for x, y in zip(target, values, strict=True)]
            if error_type:
                target = errors.setdefault((step, aligned, service, model, operation, error_type),
                                           [0] * len(VALUE_COLUMNS))  # fmt: skip
                target[:] = [x + y for x, y in zip(target, values, strict=True)]
    return (
        sorted((*key, *pack(values)) for key, values in main.items()),
        sorted((*key, *pack(values)) for key, values in errors.items()),
        sorted(
            (step, aligned, model, operation, pack_counts(list(map(sum, zip(*durations, strict=True)))))
            for (step, aligned, model, operation), durations in _by_model(main).items()
        ),
    )


def _by_model(main: dict[tuple[Any, ...], list[int]]) -> dict[tuple[Any, ...], list[list[int]]]:
    d0 = 6
    out: dict[tuple[Any, ...], list[list[int]]] = {}
    for (step, aligned, _service, model, operation), values in main.items():
        if step != 10:
            out.setdefault((step, aligned, model, operation), []).append(values[d0 : d0 + len(DURATION_BOUNDS) + 1])
    return out


def test_rollups_counted_while_encoding_equal_the_plain_per_span_computation() -> None:
    spans = _spans()
    done = {60: T0 + 60 * S, 600: T0, 3600: T0}  # the first minute already closed: its late spans go there too
    for marks in (None, done):
        encoded = SpanRollups()
        span_rows(spans, ResourceCache(), encoded)
        one_by_one = SpanRollups()
        for span in spans:
            a = dict(span.attributes or {})
            model = a.get(semconv.GEN_AI_REQUEST_MODEL) or a.get(semconv.GEN_AI_RESPONSE_MODEL)
            operation = a.get(semconv.GEN_AI_OPERATION_NAME)
            if model is not None or operation is not None:
                one_by_one.count(span.resource.attributes["service.name"], model, operation, a,
                                 span.status.status_code is StatusCode.ERROR, span.start_time,
                                 span.end_time - span.start_time)  # fmt: skip
        main, errors, models = encoded.rows(marks)
        expected_main, expected_errors, expected_models = _plain_rows(spans, marks)
        assert sorted(main) == expected_main
        assert sorted(errors) == expected_errors
        assert sorted(models) == expected_models
        assert [sorted(rows) for rows in one_by_one.rows(marks)] == [sorted(rows) for rows in (main, errors, models)]
    assert len(expected_main) > 40 and len(expected_errors) > 20  # the data reaches every branch


def test_duration_ns_bounds_give_the_bucket_of_the_duration_in_seconds() -> None:
    from bisect import bisect_right

    for d in DURATIONS + list(range(0, 3 * S, 7919)):
        assert bisect_right(DURATION_NS_BOUNDS, d) == bisect_left(DURATION_BOUNDS, d / 1e9), d
    assert _span_rollups.N_STORED == len(_span_rollups.STORED_COLUMNS)
