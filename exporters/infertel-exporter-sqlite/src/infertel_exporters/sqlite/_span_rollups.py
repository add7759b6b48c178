"""Span rollups: per 10 s / 1 min / 1 h bucket and (service, model, operation, error type).

Written in the same transaction as the spans that feed them.
Only GenAI spans (with a model or a ``gen_ai.operation.name``) feed them. Per row: ``count``,
``errors``, token sums, the number of spans with a TTFT / TPOT, and fixed-bucket histograms
(``_buckets``) of duration, TTFT and TPOT, one integer column per bucket: an empty bucket costs
one byte of record header in SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from infertel_exporters.sqlite._buckets import (
    DURATION_BOUNDS,
    HISTOGRAMS,
    STEPS_S,
    TPOT_BOUNDS,
    TTFT_BOUNDS,
    bucket_index,
)

KEY_COLUMNS = ("service", "model", "operation", "error_type")
SUM_COLUMNS = ("count", "errors", "input_tokens", "output_tokens", "ttft_count", "tpot_count")
HIST_COLUMNS = tuple(f"{prefix}{i}" for prefix, bounds in HISTOGRAMS for i in range(len(bounds) + 1))
VALUE_COLUMNS = SUM_COLUMNS + HIST_COLUMNS
_N_SUMS = len(SUM_COLUMNS)
_D0 = _N_SUMS
_F0 = _D0 + len(DURATION_BOUNDS) + 1
_P0 = _F0 + len(TTFT_BOUNDS) + 1

CREATE = (
    "CREATE TABLE span_rollups (step INTEGER NOT NULL, bucket_ns INTEGER NOT NULL, "
    + ", ".join(f"{c} TEXT NOT NULL" for c in KEY_COLUMNS)
    + ", "
    + ", ".join(f"{c} NOT NULL DEFAULT 0" for c in VALUE_COLUMNS)
    + ", PRIMARY KEY (step, bucket_ns, service, model, operation, error_type)) WITHOUT ROWID"
)
UPSERT = (
    f"INSERT INTO span_rollups (step, bucket_ns, {', '.join(KEY_COLUMNS)}, {', '.join(VALUE_COLUMNS)}) VALUES ("
    + ",".join("?" * (2 + len(KEY_COLUMNS) + len(VALUE_COLUMNS)))
    + ") ON CONFLICT (step, bucket_ns, service, model, operation, error_type) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in VALUE_COLUMNS)
)


class SpanRollups:
    """Accumulates one batch's GenAI spans per 10 s bucket and group, then yields upsert rows for every step.

    Example:
        >>> acc = SpanRollups()
        >>> acc.add("svc", "m", "chat", "", 0, 10**9, 2_000_000_000, 5, 7, None, None)
        >>> [row[:8] for row in acc.rows()][0]
        (10, 0, 'svc', 'm', 'chat', '', 1, 0)
    """

    __slots__ = ("_groups",)

    def __init__(self) -> None:
        self._groups: dict[tuple[Any, ...], list[Any]] = {}

    def __bool__(self) -> bool:
        return bool(self._groups)

    def add(self, service: str, model: str, operation: str, error_type: str, is_error: int, start_ns: int,
            duration_ns: int, input_tokens: Any, output_tokens: Any, ttft: float | None,
            tpot: float | None) -> None:  # fmt: skip
        """Count one span (``error_type`` ``""`` for none; tokens ignored unless integers)."""
        key = (start_ns - start_ns % 10_000_000_000, service, model, operation, error_type)
        acc = self._groups.get(key)
        if acc is None:
            acc = self._groups[key] = [0] * len(VALUE_COLUMNS)
        duration = duration_ns / 1e9
        acc[0] += 1
        acc[1] += is_error
        if input_tokens.__class__ is int:
            acc[2] += input_tokens
        if output_tokens.__class__ is int:
            acc[3] += output_tokens
        acc[_D0 + bucket_index(DURATION_BOUNDS, duration)] += 1
        if ttft is not None:
            acc[4] += 1
            acc[_F0 + bucket_index(TTFT_BOUNDS, ttft)] += 1
        if tpot is not None:
            acc[5] += 1
            acc[_P0 + bucket_index(TPOT_BOUNDS, tpot)] += 1

    def rows(self) -> list[tuple[Any, ...]]:
        """Upsert rows for ``UPSERT``: the 10 s groups, and the same merged into 1 min and 1 h buckets."""
        out: list[tuple[Any, ...]] = []
        coarser: dict[tuple[Any, ...], list[Any]] = {}
        for (bucket, *group), values in self._groups.items():
            out.append((10, bucket, *group, *values))
            for step in STEPS_S[1:]:
                width = step * 1_000_000_000
                key = (step, bucket - bucket % width, *group)
                merged = coarser.get(key)
                if merged is None:
                    coarser[key] = list(values)
                else:
                    for i, v in enumerate(values):
                        if v:
                            merged[i] += v
        out.extend((*key, *values) for key, values in coarser.items())
        return out


def merge(rows: Iterable[Sequence[Any]], offset: int) -> list[Any]:
    """Column-wise sum of rollup rows' value columns starting at ``offset``."""
    total: list[Any] = [0] * len(VALUE_COLUMNS)
    for row in rows:
        for i, v in enumerate(row[offset : offset + len(VALUE_COLUMNS)]):
            if v:
                total[i] += v
    return total


def histogram(values: Sequence[Any], prefix: str) -> list[Any]:
    """The bucket counts of histogram ``prefix`` (``d``, ``f``, ``p``) inside a value-column list."""
    start = {"d": _D0, "f": _F0, "p": _P0}[prefix]
    bounds = dict(HISTOGRAMS)[prefix]
    return list(values[start : start + len(bounds) + 1])
