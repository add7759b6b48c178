"""Folding buffered records into the series' staging slots (the batch half of the hot path).

A span record is what the span processor's ``on_end`` appends (:data:`SPAN_RECORD_FIELDS`): the
clock, the operation name, the ended span's attribute mapping and its ids, times and status, read
in one call on the span's thread (the C buffer of :mod:`._buffer` reads the six attribute values
the fold needs right then, and gives the batch back as checked columns). Everything else is done
here, for the whole batch, on the background folder's thread: the attribute values, the latency,
the series key, ``error.type`` (``_OTHER`` for an ERROR status without one), the one-count-per-
request rule between nested spans of one series, and checks of the values (bad ones are dropped
with a rate-limited warning and never raise). A batch of :data:`~._columns.FAST_MIN` span records
or more is folded column by column (:mod:`._columns`); shorter batches, records built from values
(:data:`RECORD_FIELDS`, :meth:`InferenceStats.end_record`) and any batch the column fold declines
go record by record, locals only, each value appended to a list per staging slot and distribution;
the lists are then counted into the sketches in one go each (vectorised with numpy when long;
without numpy sorted and cut at the buckets' boundaries, see
:mod:`infertel._internal.quantiles._bulk`). Both give the same statistics. Without numpy the column
fold keeps its durations in lists (:mod:`._column_lists`): measured on Python 3.11 with 2,000 spans
in cache (each its own latency, TTFT and TPOT), 0.72 µs per span record against 0.84 record by
record, of which 0.26 counting the three values into the sketches (sorted and cut at the buckets'
boundaries).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import StatusCode

from infertel import semconv
from infertel._internal.errors import log_internal_error, reraise_enabled, warn_rate_limited
from infertel._internal.processors import _parents
from infertel._internal.processors._columns import fold_columns
from infertel._internal.processors._parents import ParentTable
from infertel._internal.quantiles import LogMapping, QuantileSketch
from infertel._internal.quantiles._bulk import add_values

if TYPE_CHECKING:
    from infertel._internal.processors._window import Series as _Series
    from infertel._internal.processors._window import Slot

SPAN_RECORD_FIELDS = (
    "time",  # the statistics clock when the span ended (seconds)
    "operation",  # gen_ai.operation.name
    "attributes",  # the ended span's attribute mapping (read here, not on the span's thread)
    "span_id",
    "elapsed_ns",  # end_time - start_time (a time the span lacks reads 0)
    "status_code",  # the span's StatusCode
    "parent_span_id",  # None without a parent
)
"""The fields of the record the span processor's ``on_end`` appends (``compat.statistics_span_hooks``), in order."""

RECORD_FIELDS = (
    "time",  # the statistics clock when the request ended (seconds)
    "latency_s",  # end - start
    "span_id",  # None for a record without a span (InferenceStats.end_record)
    "parent_span_id",  # None without a parent
    "status_code",  # the span's StatusCode (None without a span)
    "key",  # the series key: (gen_ai.request.model, gen_ai.operation.name, *extra attribute values)
    "error_type",  # error.type
    "ttft_s",  # gen_ai.response.time_to_first_chunk
    "tpot_s",  # infertel.time_per_output_token
    "input_tokens",  # gen_ai.usage.input_tokens
    "output_tokens",  # gen_ai.usage.output_tokens
)
"""The fields of a record built from values (:meth:`InferenceStats.end_record`), in order; the fold
reads a span record (:data:`SPAN_RECORD_FIELDS`) into these."""

MAX_PENDING_PARENTS = _parents.MAX_PENDING_PARENTS
"""The bound of the table of counted parents (:class:`~._parents.ParentTable`: ``young`` becomes ``old``
past it); read by the fold at each call, so tests can lower it."""


def count_value(value: Any, what: str) -> int:
    """A token count, or 0 (with a rate-limited warning) when it is not a non-negative int."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    warn_rate_limited(("infertel.stats", what), "infertel: ignoring %s=%r (not a non-negative integer)", what, value)
    return 0


def seconds_value(value: Any, what: str) -> float | None:
    """A duration in seconds, or ``None`` (with a rate-limited warning) when it is not a number >= 0."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 and math.isfinite(value):
        return float(value)
    warn_rate_limited(("infertel.stats", what), "infertel: ignoring %s=%r (not a non-negative number)", what, value)
    return None


_MODEL = semconv.GEN_AI_REQUEST_MODEL
_ERROR_TYPE = semconv.ERROR_TYPE
_TTFT = semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
_TPOT = semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN
_INPUT = semconv.GEN_AI_USAGE_INPUT_TOKENS
_OUTPUT = semconv.GEN_AI_USAGE_OUTPUT_TOKENS
_NO_KEY = object()


def fold(
    batch: Any,
    series_for: Callable[[Any], _Series],
    mapping: LogMapping,
    counted: ParentTable,
    extras: tuple[str, ...] = (),
) -> None:
    """Count every record of ``batch`` (in order) in its series' staging slot; ``batch`` is consumed.

    ``batch``: a list of records, or a :class:`~._records.RecordBatch` of the C buffer (:mod:`._buffer`).

    ``counted`` maps the parent span id of each counted GenAI span to its series key, until
    that parent ends (:class:`~._parents.ParentTable`, bounded by :data:`MAX_PENDING_PARENTS`): a
    parent of the same series is the same request, not counted again. ``extras`` are the attribute names
    that split series beyond model and operation. A record that breaks the fold (a bug) is
    dropped with the ``handle_internal_errors`` policy; the others are still counted. Values go
    to the sketches in batches: one list per (staging slot, distribution), counted by
    :func:`~infertel._internal.quantiles._bulk.add_values` before the slot is flushed and at the end.
    """
    if fold_columns(batch, series_for, mapping, counted, extras, MAX_PENDING_PARENTS):
        return
    if type(batch) is not list:  # a batch of the C buffer (._buffer): its records as tuples
        batch = batch.records()
    # Popped in order, so each record is freed right after it is folded, while still cached
    # (freeing the whole batch at the end costs ~0.08 µs more per record).
    batch.append(None)
    batch.reverse()
    records: Iterator[tuple[Any, ...]] = iter(batch.pop, None)
    pending: dict[Slot, tuple[list[float], list[float], list[float], list[float]]] = {}
    try:
        while True:
            try:
                _gather(records, series_for, mapping, pending, counted, extras or None)
                return
            except Exception as exc:  # the record in hand is lost; the iterator goes on after it
                if reraise_enabled():
                    raise
                log_internal_error(exc)
    finally:
        for slot, lists in pending.items():
            _count(slot, lists, mapping)


def _count(slot: Slot, lists: tuple[list[float], ...], mapping: LogMapping) -> None:
    sketches = slot.sketches
    for i, values in enumerate(lists):
        if values:
            sketch = sketches[i]
            if sketch is None:
                sketch = sketches[i] = QuantileSketch(mapping=mapping)
            add_values(sketch, values)


def _gather(
    records: Iterator[tuple[Any, ...]],
    series_for: Callable[[Any], _Series],
    mapping: LogMapping,
    pending: dict[Slot, tuple[list[float], list[float], list[float], list[float]]],
    counted: ParentTable,
    extras: tuple[str, ...] | None,
) -> None:
    error = StatusCode.ERROR
    model, error_key, ttft_key, tpot_key, input_key, output_key = _MODEL, _ERROR_TYPE, _TTFT, _TPOT, _INPUT, _OUTPUT
    # Local names: ``type_of(x) is float_type`` costs about 30 ns less than ``x.__class__ is float``
    # on Python 3.10 (0.12 µs per record for the four checks), the same on 3.11+.
    type_of, float_type, int_type, dict_type = type, float, int, dict
    dict_get: Callable[[Any, str], Any] = dict.get
    max_parents = MAX_PENDING_PARENTS
    young, old = counted.young, counted.old  # (rebound when young becomes old)
    last_key: Any = None
    # The model and operation objects of the last span record's key: the next record with the same
    # two objects (the usual case: one literal or config string per series) reuses the key without
    # building and comparing a tuple.
    last_model: Any = _NO_KEY
    last_operation: Any = _NO_KEY
    series: Any = None
    slot: Any = None
    until = 0.0  # the current slot's stage_until
    unused: list[float] = []  # the appends are bound to a slot's lists before the first use
    add_latency = add_ttft = add_tpot = add_speed = unused.append
    # Counters of the current slot, added to it when the slot changes (a local += is cheaper).
    requests = input_sum = output_sum = 0
    try:
        for record in records:
            if len(record) == 7:  # a span record: read its attributes
                t, operation, attributes, span_id, elapsed, status_code, parent_id = record
                # int / int: correctly rounded, like / 1e9 below 2**53 ns, and cheaper.
                latency = elapsed / 1_000_000_000 if elapsed > 0 else 0.0
                if type_of(attributes) is dict_type and extras is None:
                    # dict.get(attributes, name): no bound method made per record (a mapping read
                    # through the public API, or extra attributes, take the branch below)
                    model_value = dict_get(attributes, model)
                    if model_value is last_model and operation is last_operation:
                        key = last_key
                    else:
                        key = (model_value, operation)
                        last_model, last_operation = model_value, operation
                    error_type = dict_get(attributes, error_key)
                    ttft = dict_get(attributes, ttft_key)
                    tpot = dict_get(attributes, tpot_key)
                    input_tokens = dict_get(attributes, input_key)
                    output_tokens = dict_get(attributes, output_key)
                else:
                    get = attributes.get
                    if extras is None:
                        key = (get(model), operation)
                    else:
                        key = (get(model), operation, *map(get, extras))
                    last_model = _NO_KEY
                    error_type = get(error_key)
                    ttft = get(ttft_key)
                    tpot = get(tpot_key)
                    input_tokens = get(input_key)
                    output_tokens = get(output_key)
            else:
                (
                    t,
                    latency,
                    span_id,
                    parent_id,
                    status_code,
                    key,
                    error_type,
                    ttft,
                    tpot,
                    input_tokens,
                    output_tokens,
                ) = record
                last_model = _NO_KEY
            if key is not last_key and key != last_key:  # consecutive records of one series are the common case
                series = series_for(key)
                last_key = key
                until = -math.inf  # take the new series' staging slot below
            # (``in`` first: a miss costs half a miss of dict.pop, and most spans are no one's parent)
            if (young or old) and (span_id in young or old and span_id in old):  # (old is empty at first)
                found = young.pop(span_id, None)
                stale = old.pop(span_id, None)  # (young holds the newer key when both have the id)
                if (stale if found is None else found) == key:
                    continue  # a child of the same series already counted this request
            if parent_id is not None:
                young[parent_id] = key
                if len(young) > max_parents:
                    counted.old = old = young
                    counted.young = young = {}
            if type_of(input_tokens) is not int_type or input_tokens < 0:
                input_tokens = count_value(input_tokens, _INPUT)
            if type_of(output_tokens) is not int_type or output_tokens < 0:
                output_tokens = count_value(output_tokens, _OUTPUT)
            if t >= until:  # a new series, or the clock crossed the staging slot's end
                if slot is not None:
                    slot.requests += requests
                    slot.input_tokens += input_sum
                    slot.output_tokens += output_sum
                    requests = input_sum = output_sum = 0
                if t >= series.stage_until:
                    lists = pending.pop(series.stage, None)
                    if lists is not None:
                        _count(series.stage, lists, mapping)  # before the stage is merged into the windows
                    series.flush(mapping)
                    series.start_stage(t)
                slot = series.stage
                until = series.stage_until
                lists = pending.get(slot)
                if lists is None:
                    lists = pending[slot] = ([], [], [], [])
                add_latency, add_ttft, add_tpot, add_speed = (values.append for values in lists)
            requests += 1
            input_sum += input_tokens
            output_sum += output_tokens
            if error_type is not None or status_code is error:
                slot.errors += 1
                types = slot.error_types
                if types is None:
                    types = slot.error_types = {}
                name = "_OTHER" if error_type is None else str(error_type)
                types[name] = types.get(name, 0) + 1
            add_latency(latency)
            # TTFT (clamped to the latency) and TPOT, each tested for None once on the usual path.
            if ttft is not None:
                if type_of(ttft) is not float_type or not ttft >= 0.0:
                    ttft = seconds_value(ttft, _TTFT)
                if ttft is not None:
                    if ttft > latency:
                        ttft = latency
                    add_ttft(ttft)
            if tpot is not None and (type_of(tpot) is not float_type or not tpot >= 0.0):
                tpot = seconds_value(tpot, _TPOT)
            if tpot is not None:
                add_tpot(tpot)
            elif output_tokens:
                # Decode speed: 1 / TPOT for streams (read back from the TPOT sketch, see
                # Slot.DECODE_SPEED), output tokens / latency for the others.
                if ttft is not None and output_tokens >= 2 and latency > ttft:
                    add_tpot((latency - ttft) / (output_tokens - 1))
                elif latency > 0.0:
                    add_speed(output_tokens / latency)
    finally:
        if slot is not None:
            slot.requests += requests
            slot.input_tokens += input_sum
            slot.output_tokens += output_sum
