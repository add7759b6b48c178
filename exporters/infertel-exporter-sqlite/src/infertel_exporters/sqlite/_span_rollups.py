"""Span rollups: per 10 s / 1 min / 10 min / 1 h bucket and (service, model, operation, error type).

Written in the same transaction as the spans that feed them.
Only GenAI spans (with a model or a ``gen_ai.operation.name``) feed them. Per row: ``count``,
``errors``, token sums, the number of spans with a TTFT / TPOT, and fixed-bucket histograms
(``_buckets``) of duration, TTFT and TPOT, one integer column per bucket: an empty bucket costs
one byte of record header in SQLite.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from itertools import repeat
from operator import add, itemgetter, mul
from typing import Any

from infertel_exporters.sqlite._buckets import (
    DURATION_BOUNDS,
    HISTOGRAMS,
    STEPS_S,
    TPOT_BOUNDS,
    TTFT_BOUNDS,
    pack_counts,
)
from infertel_exporters.sqlite._names import (
    ERROR_TYPE,
    ERROR_TYPE_OTHER,
    GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    INFERTEL_TIME_PER_OUTPUT_TOKEN,
)

KEY_COLUMNS = ("service", "model", "operation", "error_type")
SUM_COLUMNS = ("count", "errors", "input_tokens", "output_tokens", "ttft_count", "tpot_count")
HIST_COLUMNS = tuple(f"{prefix}{i}" for prefix, bounds in HISTOGRAMS for i in range(len(bounds) + 1))
VALUE_COLUMNS = SUM_COLUMNS + HIST_COLUMNS
_N_SUMS = len(SUM_COLUMNS)
_D0 = _N_SUMS
_F0 = _D0 + len(DURATION_BOUNDS) + 1
_P0 = _F0 + len(TTFT_BOUNDS) + 1
_INF = math.inf

# Storage: the token sums in their own columns; every other count is packed two to an integer
# column (``v<j>`` = lane 0 + lane 1 * 2**31): half the columns make the upsert (one SQL expression
# per column) and the record header half as costly. Pairs stay inside one histogram (so a latency
# query reads the duration columns only) and far apart in it (most rows fill one lane only). A lane
# holds one bucket's count per rollup row (< 2**31); reads unpack each lane in SQL before summing.
_TOKENS = (2, 3)


def _pairs_within(indices: list[int]) -> list[tuple[int, int | None]]:
    half = (len(indices) + 1) // 2
    return [(indices[j], indices[j + half] if j + half < len(indices) else None) for j in range(half)]


_PAIRS = tuple(
    _pairs_within([0, 1, 4, 5])  # count with ttft_count, errors with tpot_count
    + _pairs_within(list(range(_D0, _F0)))
    + _pairs_within(list(range(_F0, _P0)))
    + _pairs_within(list(range(_P0, len(VALUE_COLUMNS))))
)
_LANE_OF = {i: (j, 0) for j, (i, _hi) in enumerate(_PAIRS)} | {
    hi: (j, 1) for j, (_lo, hi) in enumerate(_PAIRS) if hi is not None
}
STORED_COLUMNS = ("input_tokens", "output_tokens") + tuple(f"v{j}" for j in range(len(_PAIRS)))
_LANE = 2**31
_MASK = _LANE - 1

_VALUES_DDL = ", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in STORED_COLUMNS)
_MAIN_KEY = "step, bucket_ns, service, model, operation"
_ERROR_KEY = _MAIN_KEY + ", error_type"
CREATE = (
    f"CREATE TABLE span_rollups (step INTEGER NOT NULL, bucket_ns INTEGER NOT NULL, service TEXT NOT NULL,"
    f" model TEXT NOT NULL, operation TEXT NOT NULL, {_VALUES_DDL}, PRIMARY KEY ({_MAIN_KEY})) WITHOUT ROWID",
    f"CREATE TABLE span_error_rollups (step INTEGER NOT NULL, bucket_ns INTEGER NOT NULL, service TEXT NOT NULL,"
    f" model TEXT NOT NULL, operation TEXT NOT NULL, error_type TEXT NOT NULL, {_VALUES_DDL},"
    f" PRIMARY KEY ({_ERROR_KEY})) WITHOUT ROWID",
)
"""Every GenAI span in ``span_rollups``; the failed ones again, per error type, in ``span_error_rollups``."""


def _upsert(table: str, key: str) -> str:
    return (
        f"INSERT INTO {table} ({key}, {', '.join(STORED_COLUMNS)}) VALUES ("
        + ",".join("?" * (len(key.split(",")) + len(STORED_COLUMNS)))
        + f") ON CONFLICT ({key}) DO UPDATE SET "
        + ", ".join(f"{c} = {c} + excluded.{c}" for c in STORED_COLUMNS)
    )


UPSERT = _upsert("span_rollups", _MAIN_KEY)
UPSERT_ERRORS = _upsert("span_error_rollups", _ERROR_KEY)
SUMS_SQL = ", ".join(
    ["sum(input_tokens)", "sum(output_tokens)"]
    + [f"sum(v{j} & {_MASK})" + (f", sum(v{j} >> 31)" if hi is not None else "") for j, (_lo, hi) in enumerate(_PAIRS)]
)
"""SQL of every value summed (lanes unpacked): :func:`unpack` turns a result row into the logical values."""
BASIC_SQL = ", ".join(
    ["sum(input_tokens)", "sum(output_tokens)"]
    + [
        f"sum(v{_LANE_OF[i][0]} & {_MASK})" if _LANE_OF[i][1] == 0 else f"sum(v{_LANE_OF[i][0]} >> 31)"
        for i in (0, 1, 4, 5)
    ]
)
"""SQL of ``count``, ``errors``, tokens and the TTFT / TPOT counts only (see :func:`unpack_basic`)."""


_LOW = itemgetter(*[lo for lo, _hi in _PAIRS])
_HIGH = itemgetter(*[len(VALUE_COLUMNS) if hi is None else hi for _lo, hi in _PAIRS])  # past the end: a 0


def pack(values: Sequence[int]) -> tuple[int, ...]:
    """Logical values (``VALUE_COLUMNS`` order) -> stored columns (``STORED_COLUMNS`` order).

    Example:
        >>> values = list(range(len(VALUE_COLUMNS)))
        >>> pack(values) == (2, 3, *[values[lo] + (values[hi] * _LANE if hi else 0) for lo, hi in _PAIRS])
        True
    """
    padded = [*values, 0]
    return (values[2], values[3], *map(add, _LOW(padded), map(mul, _HIGH(padded), repeat(_LANE))))


def unpack(sums: Sequence[Any]) -> list[int]:
    """A ``SUMS_SQL`` result -> logical values in ``VALUE_COLUMNS`` order (NULL sums as 0)."""
    out = [0] * len(VALUE_COLUMNS)
    out[2], out[3] = sums[0] or 0, sums[1] or 0
    k = 2
    for lo, hi in _PAIRS:
        out[lo] = sums[k] or 0
        k += 1
        if hi is not None:
            out[hi] = sums[k] or 0
            k += 1
    return out


def sums_of(indices: Sequence[int]) -> tuple[str, Any]:
    """SQL summing only the logical values ``indices`` (lanes unpacked), and its decoder to a logical list.

    Example:
        >>> sql, decode = sums_of([0])
        >>> sql, decode([7])[:2]
        ('sum(v0 & 2147483647)', [7, 0])
    """
    parts: list[str] = []
    slots: list[int] = []
    for i in indices:
        if i in _TOKENS:
            parts.append(f"sum({STORED_COLUMNS[_TOKENS.index(i)]})")
        else:
            column, lane = _LANE_OF[i]
            parts.append(f"sum(v{column} & {_MASK})" if lane == 0 else f"sum(v{column} >> 31)")
        slots.append(i)

    def decode(sums: Sequence[Any]) -> list[int]:
        out = [0] * len(VALUE_COLUMNS)
        for slot, value in zip(slots, sums, strict=True):
            out[slot] = value or 0
        return out

    return ", ".join(parts), decode


def histogram_sums(prefix: str, *, packed: bool = True) -> tuple[str, Any]:
    """SQL of the span count and histogram ``prefix``'s buckets, and its decoder to ``[count, *bucket counts]``.

    ``packed``: sum the stored columns whole and split the lanes afterwards (half the SQL work;
    exact while a lane's sum stays below 2**31, which the decoder checks on the count: every lane
    holds at most the count); else unpack each lane in SQL first.

    Example:
        >>> sql, decode = histogram_sums("f")
        >>> sql.split(", ")[:2], decode([3, 1 + 2 * 2**31] + [0] * 8)[:3]
        (['sum(v0 & 2147483647)', 'sum(v19)'], [3, 1, 0])
    """
    indices = histogram_indices(prefix)
    if not packed:
        sql, decode_lanes = sums_of([0, *indices])
        return sql, lambda sums: [(v := decode_lanes(sums))[0], *[v[i] for i in indices]]
    columns = sorted({_LANE_OF[i][0] for i in indices})
    position = {j: n for n, j in enumerate(columns)}
    # logical slot -> index in [lane 0 of every column..., lane 1 of every column...]
    take = itemgetter(*[position[_LANE_OF[i][0]] + _LANE_OF[i][1] * len(columns) for i in indices])
    sql = ", ".join([f"sum(v0 & {_MASK})"] + [f"sum(v{j})" for j in columns])

    def decode(sums: Sequence[Any]) -> list[int]:
        count = sums[0] or 0
        if count >= _LANE:
            raise OverflowError("a rollup lane sum reached 2**31: use packed=False")
        totals = [t or 0 for t in sums[1:]]
        return [count, *take([t & _MASK for t in totals] + [t >> 31 for t in totals])]

    return sql, decode


def histogram_indices(prefix: str) -> list[int]:
    """Logical indices of histogram ``prefix``'s buckets (``d``, ``f``, ``p``)."""
    start = {"d": _D0, "f": _F0, "p": _P0}[prefix]
    return list(range(start, start + len(dict(HISTOGRAMS)[prefix]) + 1))


def unpack_basic(sums: Sequence[Any]) -> list[int]:
    """A ``BASIC_SQL`` result -> ``[count, errors, input_tokens, output_tokens, ttft_count, tpot_count]``."""
    return [sums[2] or 0, sums[3] or 0, sums[0] or 0, sums[1] or 0, sums[4] or 0, sums[5] or 0]


def _slot(i: int) -> tuple[int, int]:
    """(stored column index, increment) of one count of logical value ``i``."""
    column, lane = _LANE_OF[i]
    return 2 + column, _LANE if lane else 1


N_STORED = len(STORED_COLUMNS)
COUNT_SLOT, ERRORS_SLOT, TTFT_COUNT_SLOT, TPOT_COUNT_SLOT = (_slot(i) for i in (0, 1, 4, 5))
"""Where one span's ``count``, ``errors``, ``ttft_count`` and ``tpot_count`` go in a stored-layout accumulator."""
assert COUNT_SLOT[0] == TTFT_COUNT_SLOT[0] and ERRORS_SLOT[0] == TPOT_COUNT_SLOT[0]  # span_rows adds them at once
DURATION_SLOTS = tuple(zip(*(_slot(i) for i in range(_D0, _F0)), strict=True))
TTFT_SLOTS = tuple(zip(*(_slot(i) for i in range(_F0, _P0)), strict=True))
TPOT_SLOTS = tuple(zip(*(_slot(i) for i in range(_P0, len(VALUE_COLUMNS))), strict=True))
"""Per histogram: (stored column of each bucket, its increment), for ``acc[column[k]] += increment[k]``."""


def _first_above(bound: float) -> int:
    """The smallest integer ``n`` with ``n / 1e9 > bound``."""
    n = max(0, int(bound * 1e9) - 2)
    while n / 1e9 <= bound:
        n += 1
    return n


DURATION_NS_BOUNDS = tuple(_first_above(b) for b in DURATION_BOUNDS)
"""``bisect_right(DURATION_NS_BOUNDS, d)`` is ``bisect_left(DURATION_BOUNDS, d / 1e9)`` for an integer ``d >= 0``
(the same bucket, without the division)."""
_DURATION_GET = itemgetter(*[2 + _LANE_OF[i][0] for i in range(_D0, _F0)])
_DURATION_SHIFT = tuple(31 * _LANE_OF[i][1] for i in range(_D0, _F0))


class SpanRollups:
    """Accumulates one batch's GenAI spans per 10 s bucket and group, then yields upsert rows for every step.

    ``groups`` holds the stored (packed) layout directly, so a group's row needs no packing.
    ``span_rows`` counts its spans into ``groups`` itself (the loop of :meth:`count`, inlined: a call
    per span costs a tenth of the rollups' share of ingest); both count alike (tested).

    Example:
        >>> acc = SpanRollups()
        >>> acc.count("svc", "m", "chat", {"gen_ai.usage.input_tokens": 5}, False, 10**9, 2_000_000_000)
        >>> acc.rows()[0][0][:8]  # step, bucket, service, model, operation, tokens in / out, v0 = count
        (10, 0, 'svc', 'm', 'chat', 5, 0, 1)
    """

    __slots__ = ("groups",)

    def __init__(self) -> None:
        self.groups: dict[tuple[Any, ...], list[int]] = {}
        """``(10 s bucket, service, model, operation, error type)`` -> stored values (``STORED_COLUMNS``).

        A ``None`` model or operation counts as ``""`` (merged in :meth:`rows`)."""

    def __bool__(self) -> bool:
        return bool(self.groups)

    def count(self, service: str, model: str | None, operation: str | None, attributes: Mapping[str, Any],
              is_error: bool, start_ns: int, duration_ns: int) -> None:  # fmt: skip
        """Count one GenAI span: its group, error, tokens, and duration / TTFT / TPOT buckets."""
        get = attributes.get
        error_type = get(ERROR_TYPE)
        if error_type is None:
            error_type = ERROR_TYPE_OTHER if is_error else ""
        else:
            error_type = str(error_type)
        key = (start_ns - start_ns % 10_000_000_000, service, model or "", operation or "", error_type)
        acc = self.groups.get(key)
        if acc is None:
            acc = self.groups[key] = [0] * N_STORED
        tokens = get(GEN_AI_USAGE_INPUT_TOKENS)
        if tokens.__class__ is int:
            acc[0] += tokens
        tokens = get(GEN_AI_USAGE_OUTPUT_TOKENS)
        if tokens.__class__ is int:
            acc[1] += tokens
        acc[COUNT_SLOT[0]] += COUNT_SLOT[1]
        if error_type:  # a group with an error type holds failed spans only
            acc[ERRORS_SLOT[0]] += ERRORS_SLOT[1]
        k = bisect_left(DURATION_BOUNDS, duration_ns / 1e9)
        acc[DURATION_SLOTS[0][k]] += DURATION_SLOTS[1][k]
        ttft = get(GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
        if (ttft.__class__ is float or ttft.__class__ is int) and 0 <= ttft < _INF:
            k = bisect_left(TTFT_BOUNDS, ttft)
            acc[TTFT_SLOTS[0][k]] += TTFT_SLOTS[1][k]
            acc[TTFT_COUNT_SLOT[0]] += TTFT_COUNT_SLOT[1]
        tpot = get(INFERTEL_TIME_PER_OUTPUT_TOKEN)
        if (tpot.__class__ is float or tpot.__class__ is int) and 0 <= tpot < _INF:
            k = bisect_left(TPOT_BOUNDS, tpot)
            acc[TPOT_SLOTS[0][k]] += TPOT_SLOTS[1][k]
            acc[TPOT_COUNT_SLOT[0]] += TPOT_COUNT_SLOT[1]

    def newest(self) -> int:
        """The start of the newest 10 s bucket counted (call only when something was counted)."""
        return max(key[0] for key in self.groups)

    def rows(self, done: Mapping[int, int] | None = None) -> tuple[list[tuple[Any, ...]], ...]:
        """Rows for ``UPSERT`` (groups without the error type), ``UPSERT_ERRORS`` and ``_model_rollups.UPSERT``.

        ``done`` (``_tiers.marks``): the 10 s rows, and the coarser ones only for buckets already
        closed (late spans); without it, every step. Packing is additive (a lane stays below
        2**31), so groups merge by adding stored tuples (in C, through ``map``).
        """
        main: dict[tuple[Any, ...], Sequence[int]] = {}
        errors: dict[tuple[Any, ...], Sequence[int]] = {}
        models: dict[tuple[Any, ...], list[int]] = {}
        steps_of: dict[int, list[tuple[int, int]]] = {}
        for (bucket, service, model, operation, error_type), packed in self.groups.items():
            model, operation = model or "", operation or ""  # span_rows keys groups by None too
            steps = steps_of.get(bucket)
            if steps is None:
                steps = steps_of[bucket] = []
                for step in STEPS_S:
                    aligned = bucket - bucket % (step * 1_000_000_000)
                    if step == STEPS_S[0] or done is None or aligned < done[step]:
                        steps.append((step, aligned))
            for step, aligned in steps:
                key = (step, aligned, service, model, operation)
                current = main.get(key)
                main[key] = packed if current is None else tuple(map(add, current, packed))
                if step != STEPS_S[0]:  # span_model_rollups: closed buckets only (see _model_rollups)
                    model_key = (step, aligned, model, operation)
                    duration = models.get(model_key)
                    d = [(v >> shift) & _MASK for v, shift in zip(_DURATION_GET(packed), _DURATION_SHIFT, strict=True)]
                    models[model_key] = d if duration is None else list(map(add, duration, d))
                if error_type:
                    error_key = (*key, error_type)
                    current = errors.get(error_key)
                    errors[error_key] = packed if current is None else tuple(map(add, current, packed))
        return (
            [(*key, *values) for key, values in main.items()],
            [(*key, *values) for key, values in errors.items()],
            [(*key, pack_counts(duration)) for key, duration in models.items()],
        )


def histogram(values: Sequence[Any], prefix: str) -> list[Any]:
    """The bucket counts of histogram ``prefix`` (``d``, ``f``, ``p``) inside a value-column list."""
    start = {"d": _D0, "f": _F0, "p": _P0}[prefix]
    bounds = dict(HISTOGRAMS)[prefix]
    return list(values[start : start + len(bounds) + 1])
