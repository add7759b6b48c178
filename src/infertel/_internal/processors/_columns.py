"""The batch fold of span records, column by column (the fast path of :func:`._fold.fold`).

A batch of at least :data:`FAST_MIN` span records (:data:`._fold.SPAN_RECORD_FIELDS`) is folded
with C loops over whole columns. A batch of the C buffer (:mod:`._buffer`) gives its columns
itself, read from its dense array and checked there, with the durations packed in float64 bytes
(:mod:`._column_packed`: the extension's loops). A list of records is read with
``map(itemgetter(i), batch)`` per record field, ``map(dict.get, attributes, repeat(name))`` per
attribute, ``map(type, ...)`` with ``list.count`` and ``sum`` for the value checks, and its
durations (latency, TTFT, TPOT, decode speed) are numpy arrays when the application has imported
numpy (:mod:`._column_arrays`), else lists (:mod:`._column_lists`). The latencies, the TTFT clamp,
the TPOT and speed derivations and the sketch counts are whole-column operations in every kind. It
gives exactly what the record-by-record fold gives (same counters, same sketch buckets, same table
of counted parents, same series created in the same order: ``tests/processors/test_fold_paths.py``
compares the whole state, with and without numpy), and only takes batches whose values are all
well-typed and in range: anything else (a bool where a count belongs, an int or negative or NaN
duration, 2**53 ns or more in numpy arrays, two series folded into the overflow series, records
built from values, attribute mappings read through the public API) returns ``False`` before
anything changed, and the record-by-record fold does the batch. Records of one series are counted
in its staging slot one run at a time (a run ends where the clock crosses the slot's end), so
series interleaved in the batch land in the same slots as record by record. The rule between nested
spans stays a loop over the span and parent ids (set operations over the batch measured slower:
each hashes every 64-bit id again).

Why: measured on Python 3.11 over batches of 2,000 streamed spans in cache, the record-by-record
fold of a list costs 0.62 µs per span record with numpy (0.84 without: each value is checked and
appended one bytecode at a time), this one 0.45 µs with numpy and 0.72 without, sketch counts
included, and 0.15 on a batch of the C buffer; and batches are large whenever the rate is (the
background folder drains a buffer at 2,048 records, or once its oldest record has waited 5 s, 60 s
in the C buffer: 100 spans/s give batches of 500 and 2,050).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple, Protocol

from opentelemetry.trace import StatusCode

from infertel import semconv
from infertel._internal.processors._column_arrays import ArrayColumns
from infertel._internal.processors._column_lists import EXACT_INT, Declined, ListColumns
from infertel._internal.processors._column_packed import PackedColumns
from infertel._internal.processors._parents import ParentTable
from infertel._internal.quantiles import LogMapping, QuantileSketch
from infertel._internal.quantiles._bulk import numpy_module

FAST_MIN = 128
"""Batches at least this long are folded by columns, shorter ones record by record: measured on
Python 3.11, both cost the same per record at about 128 (1.0 µs each: numpy's cost per call weighs
on both), the columns 8 % less at 256 and 20 % less from 1,000 on. Without numpy (lists), both cost
the same per record from 64 to 512 records (1.0-1.3 µs: counting each value list into the sketches
costs about 0.35 µs per bucket it spans), the columns 14 % less at 2,000."""

_MODEL = semconv.GEN_AI_REQUEST_MODEL
_ERROR_TYPE = semconv.ERROR_TYPE
_TTFT = semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
_TPOT = semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN
_INPUT = semconv.GEN_AI_USAGE_INPUT_TOKENS
_OUTPUT = semconv.GEN_AI_USAGE_OUTPUT_TOKENS
_NONE = type(None)
_LISTS = ListColumns()
_PACKED = PackedColumns()


class _Kind(Protocol):
    """What the fold asks of a column kind (:class:`ArrayColumns`, :class:`ListColumns`, :class:`PackedColumns`)."""

    def clamp(self, ttft: Any, latency: Any) -> Any: ...
    def derive(self, latency: Any, ttft: Any, tpot: Any, output_tokens: list[Any]) -> tuple[Any, Any] | None: ...
    def selection(self, run: range | list[int], whole: bool) -> Any: ...
    def run_values(self, column: Any, selected: Any, gaps: bool = True) -> Any: ...
    def count(self, sketch: QuantileSketch, values: Any) -> None: ...


_TIME, _OPERATION, _ATTRIBUTES, _SPAN_ID, _ELAPSED, _STATUS, _PARENT = map(itemgetter, range(7))
_get = dict.get
_UNSET, _OK = StatusCode.UNSET, StatusCode.OK


_CountParents = Callable[[Any, ParentTable, int], "list[int] | None"]
"""``(keys, table of counted parents, its bound) -> the skipped record indices, or None``."""


class _Read(NamedTuple):
    """A batch's columns, checked: what the fold needs before it changes anything."""

    keys: list[list[Any]]  # the series key's columns: model, operation, extra attributes
    error_types: list[Any]
    durations: tuple[Any, Any, Any]  # latency, TTFT, TPOT (a column kind's duration columns)
    input_tokens: tuple[list[Any], int]  # (counts, None where absent; their total)
    output_tokens: tuple[list[Any], int]
    rest: Callable[[], tuple[list[float], list[Any], _CountParents]]
    """``(times, statuses, the one-count-per-request rule)``, read once the batch is taken."""


def fold_columns(
    batch: Any,
    series_for: Callable[[Any], Any],
    mapping: LogMapping,
    counted: ParentTable,
    extras: tuple[str, ...],
    max_parents: int,
) -> bool:
    """Fold ``batch`` by columns as :func:`._fold.fold` would; ``False`` (nothing changed) when it cannot.

    ``batch``: a list of records, or a :class:`~._records.RecordBatch` of the C buffer (its
    columns come from its dense array, already checked, not from the spans' attribute dicts).
    """
    n = len(batch)
    if n < FAST_MIN:
        return False
    columns, read = _read(batch, n, extras)
    if read is None:
        return False
    groups = _groups(n, read.keys, series_for)
    if groups is None:
        return False
    keys, runs = groups
    # Nothing has changed so far (series_for only created the series the record-by-record fold
    # would create, in the same order). From here on, the batch is counted.
    times, statuses, count_parents = read.rest()
    latency, ttft, tpot = read.durations
    ttft = columns.clamp(ttft, latency)
    derived = columns.derive(latency, ttft, tpot, read.output_tokens[0])
    tpot, speed = (tpot, None) if derived is None else derived
    errors = _errors(read.error_types, statuses, n)
    skipped = count_parents(keys, counted, max_parents)
    kept = set(range(n)).difference(skipped) if skipped else None
    durations = (latency, ttft, tpot, speed)
    for series, indices in runs:
        if kept is not None:
            indices = [i for i in indices if i in kept]
        _fold_series(columns, series, indices, times, mapping, durations, read.input_tokens, read.output_tokens, errors)
    return True


def _read(batch: Any, n: int, extras: tuple[str, ...]) -> tuple[_Kind, _Read | None]:
    """The batch's column kind and its columns (``None``: declined)."""
    if type(batch) is list:
        kind = _list_kind()
        return kind, _read_records(kind, batch, n, extras)
    return _PACKED, _read_batch(batch)


def _read_records(
    columns: ArrayColumns | ListColumns, batch: list[tuple[Any, ...]], n: int, extras: tuple[str, ...]
) -> _Read | None:
    """The columns of a list of span records, read from their attribute dicts and checked; else ``None``."""
    attributes = list(map(_ATTRIBUTES, batch))
    try:
        ttft_values = list(map(_get, attributes, repeat(_TTFT, n)))
    except TypeError:  # not a dict: records built from values (None there), or a mapping read through public APIs
        return None
    try:
        ttft = columns.durations(n, ttft_values)
        tpot = columns.durations(n, list(map(_get, attributes, repeat(_TPOT, n))))
        input_tokens = list(map(_get, attributes, repeat(_INPUT, n)))
        input_total = _count_total(n, input_tokens)
        output_tokens = list(map(_get, attributes, repeat(_OUTPUT, n)))
        output_total = _count_total(n, output_tokens)
        latency = columns.latencies(list(map(_ELAPSED, batch)))
    except Declined:
        return None
    keys = [list(map(_get, attributes, repeat(name, n))) for name in (_MODEL, *extras)]
    keys.insert(1, list(map(_OPERATION, batch)))
    error_types = list(map(_get, attributes, repeat(_ERROR_TYPE, n)))

    def rest() -> tuple[list[float], list[Any], _CountParents]:
        parents = list(map(_PARENT, batch))
        return (
            list(map(_TIME, batch)),
            list(map(_STATUS, batch)),
            lambda keys, counted, max_parents: _count_parents(batch, parents, keys, counted, max_parents),
        )

    durations = (latency, ttft, tpot)
    return _Read(keys, error_types, durations, (input_tokens, input_total), (output_tokens, output_total), rest)


def _read_batch(batch: Any) -> _Read | None:
    """The columns of a :class:`~._records.RecordBatch`, checked in C (``None``: declined, see ``_records.c``).

    The durations are packed (:class:`~._column_packed.PackedColumns`).
    """
    found = batch.columns()
    if found is None:
        return None
    times, operations, models, error_types, durations, input_tokens, output_tokens, statuses = found
    count_parents = batch.count_parents
    return _Read([models, operations], error_types, durations, input_tokens, output_tokens,
                 lambda: (times, statuses, count_parents))  # fmt: skip


def _list_kind() -> ArrayColumns | ListColumns:
    """The duration columns' kind for a list of records (a batch of the C buffer: :class:`PackedColumns`, C loops).

    Arrays when the application has imported numpy (:func:`~infertel._internal.quantiles._bulk.numpy_module`),
    else lists.
    """
    np = numpy_module()
    return _LISTS if np is None else ArrayColumns(np)


def _count_total(n: int, values: list[Any]) -> int:
    """The sum of ``values`` if each is ``None`` or an int (not a bool) >= 0 and the sum is below 2**53.

    Else :class:`Declined`.
    """
    kinds = list(map(type, values))
    ints = kinds.count(int)
    if ints != n:
        if ints + kinds.count(_NONE) != n:
            raise Declined
        values = list(filter(None, values))
    total = sum(values)
    # A negative count makes the sum of the absolute values larger (cheaper than min(): no rich compare).
    if total != sum(map(abs, values)) or total >= EXACT_INT:
        raise Declined
    return total


def _groups(
    n: int, columns: list[list[Any]], series_for: Callable[[Any], Any]
) -> tuple[Any, list[tuple[Any, range | list[int]]]] | None:
    """``(key, or the list of per-record keys; [(series, record indices)])`` in first-seen order, or ``None``.

    ``columns``: the series key's columns (model, operation, extra attributes).
    """
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
) -> list[int] | None:
    """Apply the one-count-per-request rule; the indices of the records skipped, or ``None`` for none.

    ``batch``: span records, ``parents`` their parent span ids. ``keys`` is the batch's one
    series key, or the list of each record's key. A batch of the C buffer does the same in C
    (``RecordBatch.count_parents``). Record by record, as
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
    ids = list(map(_SPAN_ID, batch))
    if roots and all(not half or half.keys().isdisjoint(ids) for half in (young, old)):
        return None  # no span of the batch is a parent in the table, and none brings one
    skipped = []
    # One series (the usual batch): its key repeated, else each record's own key.
    per_record = repeat(keys, n) if type(keys) is tuple else keys
    for i, (span_id, parent_id, key) in enumerate(zip(ids, parents, per_record, strict=True)):
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
    return skipped or None


def _fold_series(
    columns: _Kind,
    series: Any,
    indices: range | list[int],
    times: list[float],
    mapping: LogMapping,
    durations: tuple[Any, ...],
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
        every = whole and i == 0 and j == m
        run = indices if every else indices[i:j]
        _count_run(columns, series.stage, mapping, run, every, durations, input_tokens, output_tokens, errors)
        i = j


def _count_run(
    columns: _Kind,
    slot: Any,
    mapping: LogMapping,
    run: range | list[int],
    whole: bool,
    durations: tuple[Any, ...],
    input_tokens: tuple[list[Any], int],
    output_tokens: tuple[list[Any], int],
    errors: dict[int, str] | None,
) -> None:
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
    selected = columns.selection(run, whole)
    for position, column in enumerate(durations):
        if column is None:
            continue
        values = columns.run_values(column, selected, position > 0)  # (the latency column has no gaps)
        if len(values):
            sketch = sketches[position]
            if sketch is None:
                sketch = sketches[position] = QuantileSketch(mapping=mapping)
            columns.count(sketch, values)
