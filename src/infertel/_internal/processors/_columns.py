"""The batch fold of span records, column by column (the fast path of :func:`._fold.fold`).

A batch of at least :data:`FAST_MIN` span records (:data:`._fold.SPAN_RECORD_FIELDS`) is folded
with C loops over whole columns: ``map(itemgetter(i), batch)`` per record field,
``map(dict.get, attributes, repeat(name))`` per attribute, ``map(type, ...)`` with ``list.count``
and ``sum`` for the value checks, numpy for the latencies, the TTFT clamp, the TPOT and speed
derivations and the sketch counts. It gives exactly what the record-by-record fold gives (same
counters, same sketch buckets, same table of counted parents, same series created in the same
order: ``tests/processors/test_fold_paths.py`` compares the whole state), and only takes batches
whose values are all well-typed and in range: anything else (a bool where a count belongs, an
int or negative or NaN duration, 2**53 ns or more, two series folded into the overflow series,
records built from values, attribute mappings read through the public API) returns ``False``
before anything changed, and the record-by-record fold does the batch. Records of one series are
counted in its staging slot one run at a time (a run ends where the clock crosses the slot's
end), so series interleaved in the batch land in the same slots as record by record. The rule
between nested spans stays a loop over the span and parent ids (set operations over the batch
measured slower: each hashes every 64-bit id again).

Why: measured on Python 3.11 over batches of 2,000 streamed spans in cache, the record-by-record
fold costs 0.62 µs per span record (it reads the attributes, derives the latency and the key,
checks and appends every value, one bytecode at a time), this one 0.48 µs, sketch counts
included; and batches are large exactly when the rate is high (the background folder drains the
buffer every 0.25 s: 10,000 spans/s give batches of 2,500).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import repeat
from operator import itemgetter
from typing import Any

from opentelemetry.trace import StatusCode

from infertel import semconv
from infertel._internal.processors._parents import ParentTable
from infertel._internal.quantiles import LogMapping, QuantileSketch
from infertel._internal.quantiles._bulk import add_values, numpy_module

FAST_MIN = 128
"""Batches at least this long are folded by columns, shorter ones record by record: measured on
Python 3.11, both cost the same per record at about 128 (1.0 µs each: numpy's cost per call weighs
on both), the columns 8 % less at 256 and 20 % less from 1,000 on."""

_MODEL = semconv.GEN_AI_REQUEST_MODEL
_ERROR_TYPE = semconv.ERROR_TYPE
_TTFT = semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
_TPOT = semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN
_INPUT = semconv.GEN_AI_USAGE_INPUT_TOKENS
_OUTPUT = semconv.GEN_AI_USAGE_OUTPUT_TOKENS
_NONE = type(None)
_TIME, _OPERATION, _ATTRIBUTES, _SPAN_ID, _ELAPSED, _STATUS, _PARENT = map(itemgetter, range(7))
_get = dict.get
_UNSET, _OK = StatusCode.UNSET, StatusCode.OK
_EXACT_INT = 2**53  # integers below this convert to float exactly (as Python's int / int and int / float do)


def fold_columns(
    batch: list[tuple[Any, ...]],
    series_for: Callable[[Any], Any],
    mapping: LogMapping,
    counted: ParentTable,
    extras: tuple[str, ...],
    max_parents: int,
) -> bool:
    """Fold ``batch`` by columns as :func:`._fold.fold` would; ``False`` (nothing changed) when it cannot."""
    np = numpy_module()
    n = len(batch)
    if np is None or n < FAST_MIN:
        return False
    attributes = list(map(_ATTRIBUTES, batch))
    values = _values(np, n, attributes)
    if values is None:
        return False
    latency = _latencies(np, list(map(_ELAPSED, batch)))
    if latency is None:
        return False
    error_types, ttft, tpot, input_tokens, output_tokens = values
    operations = list(map(_OPERATION, batch))
    groups = _groups(n, operations, attributes, extras, series_for)
    if groups is None:
        return False
    keys, runs = groups
    # Nothing has changed so far (series_for only created the series the record-by-record fold
    # would create, in the same order). From here on, the batch is counted.
    times = list(map(_TIME, batch))
    statuses = list(map(_STATUS, batch))
    parents = list(map(_PARENT, batch))
    ttft = np.where(ttft > latency, latency, ttft)  # NaN (no TTFT) stays NaN
    derived = _derive(np, latency, ttft, tpot, output_tokens[0])
    tpot, speed = (tpot, None) if derived is None else derived
    errors = _errors(error_types, statuses, n)
    kept = _count_parents(batch, parents, keys, counted, max_parents)
    for series, indices in runs:
        if kept is not None:
            indices = [i for i in indices if i in kept]
        _fold_series(
            np, series, indices, times, mapping, latency, ttft, tpot, speed, input_tokens, output_tokens, errors
        )
    return True


def _values(np: Any, n: int, attributes: list[dict[str, Any]]) -> tuple[Any, ...] | None:
    """Error types, TTFT and TPOT (float arrays, NaN where absent), token counts (lists): or ``None``."""
    try:
        ttft_values = list(map(_get, attributes, repeat(_TTFT, n)))
    except TypeError:  # not a dict: records built from values (None there), or a mapping read through public APIs
        return None
    ttft = _durations(np, n, ttft_values)
    if ttft is None:
        return None
    tpot = _durations(np, n, list(map(_get, attributes, repeat(_TPOT, n))))
    if tpot is None:
        return None
    input_tokens = list(map(_get, attributes, repeat(_INPUT, n)))
    input_total = _count_total(n, input_tokens)
    if input_total is None:
        return None
    output_tokens = list(map(_get, attributes, repeat(_OUTPUT, n)))
    output_total = _count_total(n, output_tokens)
    if output_total is None:
        return None
    error_types = list(map(_get, attributes, repeat(_ERROR_TYPE, n)))
    return error_types, ttft, tpot, (input_tokens, input_total), (output_tokens, output_total)


def _durations(np: Any, n: int, values: list[Any]) -> Any:
    """``values`` as a float array (``None`` -> NaN) if each is ``None`` or a float >= 0, else ``None``."""
    kinds = list(map(type, values))
    floats = kinds.count(float)
    if floats == n:
        array = np.fromiter(values, dtype=np.float64, count=n)  # (no type inference: they are floats)
    elif not floats and kinds.count(_NONE) == n:
        return np.full(n, math.nan)
    elif floats + kinds.count(_NONE) == n:
        array = np.array(values, dtype=np.float64)
    else:
        return None  # ints, bools, strings...: the record-by-record checks and warnings
    if np.count_nonzero(array >= 0.0) != floats:
        return None  # a negative or NaN duration
    return array


def _count_total(n: int, values: list[Any]) -> int | None:
    """The sum of ``values`` if each is ``None`` or an int (not a bool) >= 0 and the sum is below 2**53."""
    kinds = list(map(type, values))
    ints = kinds.count(int)
    if ints != n:
        if ints + kinds.count(_NONE) != n:
            return None
        values = list(filter(None, values))
    total = sum(values)
    # A negative count makes the sum of the absolute values larger (cheaper than min(): no rich compare).
    if total != sum(map(abs, values)) or total >= _EXACT_INT:
        return None
    return total


def _latencies(np: Any, elapsed: list[Any]) -> Any:
    """``elapsed / 1e9`` (0 when ``elapsed <= 0``), exactly as Python computes it from ints; or ``None``."""
    nanoseconds = np.array(elapsed)
    if nanoseconds.dtype != np.int64 or nanoseconds.max() >= _EXACT_INT:
        return None  # not all ints, or 104 days or more (Python's int / int rounds once, float64 would twice)
    return np.maximum(nanoseconds, 0) / 1_000_000_000


def _groups(
    n: int,
    operations: list[Any],
    attributes: list[Any],
    extras: tuple[str, ...],
    series_for: Callable[[Any], Any],
) -> tuple[Any, list[tuple[Any, range | list[int]]]] | None:
    """``(key, or the list of per-record keys; [(series, record indices)])`` in first-seen order, or ``None``."""
    columns = [list(map(_get, attributes, repeat(_MODEL, n))), operations]
    columns += [list(map(_get, attributes, repeat(name, n))) for name in extras]
    if all(column.count(column[0]) == n for column in columns):
        key = tuple(column[0] for column in columns)
        try:
            hash(key)
        except TypeError:
            return None
        return key, [(series_for(key), range(n))]
    keys = list(zip(*columns, strict=True))
    try:
        order = dict.fromkeys(keys)
    except TypeError:  # an unhashable attribute value: the record-by-record fold drops that record alone
        return None
    positions: dict[Any, list[int]] = {key: [] for key in order}
    for i, key in enumerate(keys):
        positions[key].append(i)
    runs: list[tuple[Any, range | list[int]]] = [(series_for(key), indices) for key, indices in positions.items()]
    if len({id(series) for series, _ in runs}) != len(runs):
        return None  # several keys folded into the overflow series: their records interleave in its slots
    return keys, runs


def _derive(np: Any, latency: Any, ttft: Any, tpot: Any, output_tokens: list[Any]) -> tuple[Any, Any] | None:
    """``(tpot, decode speed)`` for the records without a TPOT but with output tokens, or ``None`` if none.

    As record by record: TPOT ``(latency - TTFT) / (output tokens - 1)`` for a stream with two or
    more output tokens that ended after its first chunk, else the speed ``output tokens / latency``.
    """
    missing = np.isnan(tpot)
    if not missing.any():
        return None
    output = np.array(output_tokens, dtype=np.float64)  # None -> NaN; ints below 2**53: exact
    need = missing & (output > 0.0)
    if not need.any():
        return None
    derived = need & (output >= 2.0) & (latency > ttft)  # False where there is no TTFT (NaN)
    tpot = tpot.copy()
    tpot[derived] = (latency[derived] - ttft[derived]) / (output[derived] - 1.0)
    fast = need & ~derived & (latency > 0.0)
    speed = np.full(latency.size, math.nan)
    speed[fast] = output[fast] / latency[fast]
    return tpot, speed


def _errors(error_types: list[Any], statuses: list[Any], n: int) -> dict[int, str] | None:
    """Record index -> error name (``error.type``, or ``_OTHER`` for an ERROR status without one)."""
    error = StatusCode.ERROR
    # list.count compares identical items without a rich comparison: cheap on the usual all-UNSET column.
    if error_types.count(None) == n:
        unset = statuses.count(_UNSET)
        if unset == n or unset + statuses.count(_OK) == n:
            return None
    return {
        i: "_OTHER" if name is None else str(name)
        for i, (name, status) in enumerate(zip(error_types, statuses, strict=True))
        if name is not None or status is error
    }


def _count_parents(
    batch: list[tuple[Any, ...]], parents: list[Any], keys: Any, counted: ParentTable, max_parents: int
) -> set[int] | None:
    """Apply the one-count-per-request rule; the indices of the records still counted, or ``None`` for all.

    ``keys`` is the batch's one series key, or the list of each record's key. Record by record, as
    :func:`._fold.fold` does: a record whose span id is in ``counted`` with its own key is a parent
    already counted through a child (skipped), and each counted record's parent id is remembered
    with its key (``young`` becomes ``old`` past ``max_parents``, see :class:`~._parents.ParentTable`).
    This stays a loop: set operations over the batch cost more (every one hashes each 64-bit id again).
    """
    n = len(parents)
    young, old = counted.young, counted.old
    roots = parents.count(None) == n
    if roots and not young and not old:
        return None
    if roots and all(not half or half.keys().isdisjoint(map(_SPAN_ID, batch)) for half in (young, old)):
        return None  # no span of the batch is a parent in the table, and none brings one
    span_ids = list(map(_SPAN_ID, batch))
    skipped = []
    # One series (the usual batch): its key repeated, else each record's own key.
    per_record = repeat(keys, n) if type(keys) is tuple else keys
    for i, (span_id, parent_id, key) in enumerate(zip(span_ids, parents, per_record, strict=True)):
        if span_id in young or old and span_id in old:  # (``in`` first: cheaper than a missed pop)
            found = young.pop(span_id, None)
            stale = old.pop(span_id, None)  # (young holds the newer key when both have the id)
            if (stale if found is None else found) == key:
                skipped.append(i)  # a child of the same series already counted this request
                continue
        if parent_id is not None:
            young[parent_id] = key
            if len(young) > max_parents:
                counted.old = old = young
                counted.young = young = {}
    return set(range(n)).difference(skipped) if skipped else None


def _fold_series(
    np: Any,
    series: Any,
    indices: range | list[int],
    times: list[float],
    mapping: LogMapping,
    latency: Any,
    ttft: Any,
    tpot: Any,
    speed: Any,
    input_tokens: tuple[list[Any], int],
    output_tokens: tuple[list[Any], int],
    errors: dict[int, str] | None,
) -> None:
    """Count the records at ``indices`` (one series, in batch order) in its staging slots, run by run."""
    m = len(indices)
    whole = type(indices) is range and m == len(times)
    run_times = times if whole else [times[i] for i in indices]
    i = 0
    while i < m:
        t = run_times[i]
        if t >= series.stage_until:  # the clock crossed the staging slot's end
            series.flush(mapping)
            series.start_stage(t)
        until = series.stage_until
        j = m
        # (run_times[i] < until: the whole list's max, without a copy, decides for the first run)
        if i + 1 < m and not max(run_times if i == 0 else run_times[i + 1 :]) < until:
            j = next((k for k in range(i + 1, m) if run_times[k] >= until), m)
        if whole and i == 0 and j == m:
            selected: Any = slice(None)
            run = indices
        else:
            run = indices[i:j]
            selected = np.array(run, dtype=np.intp)
        _count_run(
            np, series.stage, mapping, run, selected, latency, ttft, tpot, speed, input_tokens, output_tokens, errors
        )
        i = j


def _count_run(
    np: Any,
    slot: Any,
    mapping: LogMapping,
    run: range | list[int],
    selected: Any,
    latency: Any,
    ttft: Any,
    tpot: Any,
    speed: Any,
    input_tokens: tuple[list[Any], int],
    output_tokens: tuple[list[Any], int],
    errors: dict[int, str] | None,
) -> None:
    whole = type(selected) is slice
    slot.requests += len(run)
    if whole:
        slot.input_tokens += input_tokens[1]
        slot.output_tokens += output_tokens[1]
    else:
        slot.input_tokens += sum(filter(None, [input_tokens[0][i] for i in run]))
        slot.output_tokens += sum(filter(None, [output_tokens[0][i] for i in run]))
    if errors:
        names = list(errors.values()) if whole else [errors[i] for i in run if i in errors]
        if names:
            slot.errors += len(names)
            types = slot.error_types
            if types is None:
                types = slot.error_types = {}
            for name in names:
                types[name] = types.get(name, 0) + 1
    sketches = slot.sketches
    for position, column in enumerate((latency, ttft, tpot, speed)):
        if column is None:
            continue
        values = column[selected]
        if position:
            values = values[~np.isnan(values)]  # NaN: no value (None)
        if values.size:
            sketch = sketches[position]
            if sketch is None:
                sketch = sketches[position] = QuantileSketch(mapping=mapping)
            add_values(sketch, values)
