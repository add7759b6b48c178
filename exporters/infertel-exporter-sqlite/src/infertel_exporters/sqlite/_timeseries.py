"""``SQLiteStore.timeseries``: GenAI series from the span rollups, ``metric:`` series from the metric rollups."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from infertel_exporters.sqlite import _model_rollups
from infertel_exporters.sqlite import _span_rollups as sr
from infertel_exporters.sqlite._analytics import (
    _HIST,
    _QUANTILES,
    METRIC_STATS,
    ROLLUP_QUERIES,
    Series,
    _check_keys,
)
from infertel_exporters.sqlite._buckets import STEPS_S, quantile
from infertel_exporters.sqlite._metric_query import metric
from infertel_exporters.sqlite._names import INFERTEL_GEN_AI_IN_FLIGHT
from infertel_exporters.sqlite._rollup_read import grouped as grouped_sums
from infertel_exporters.sqlite._tiers import complete, marks


def plan(start_ns: int, end_ns: int, step_s: float) -> tuple[int, int, list[int]]:
    """``(rollup step s, series step ns, bucket starts)`` for a range and a requested step.

    The rollup is the coarsest of 10 s / 1 min / 10 min / 1 h not above ``step_s``; the step is
    rounded up to a multiple of it. At most 10,000 points.

    Example:
        >>> plan(0, 120 * 10**9, 25)[:2]
        (10, 30000000000)
    """
    if not (step_s > 0 and math.isfinite(step_s)):
        raise ValueError(f"step_s must be a positive number of seconds, got {step_s!r}")
    tier = max(t for t in STEPS_S if t <= step_s) if step_s >= STEPS_S[0] else STEPS_S[0]
    step_ns = math.ceil(step_s / tier - 1e-9) * tier * 1_000_000_000
    first = start_ns - start_ns % step_ns
    if (end_ns - first) // step_ns > 10_000:
        raise ValueError(f"step_s={step_s!r} gives more than 10000 points over the range; use a larger step")
    return tier, step_ns, list(range(first, end_ns, step_ns))


def timeseries(conn: sqlite3.Connection, query: str, start_ns: int, end_ns: int, step_s: float,
               group_by: Sequence[str], where: Mapping[str, str] | None) -> list[Series]:  # fmt: skip
    """See :meth:`SQLiteStore.timeseries`."""
    group_by = tuple(group_by)
    if query.startswith("metric:"):
        return metric(conn, query, start_ns, end_ns, step_s, group_by, where)
    if query not in ROLLUP_QUERIES:
        raise ValueError(
            f"unknown query {query!r}; accepted: {', '.join(ROLLUP_QUERIES)}, 'metric:<name>' or 'metric:<name>:<stat>'"
            f" with stat in {'|'.join(METRIC_STATS)}"
        )
    _check_keys(group_by, where)
    if query == "in_flight":
        return metric(conn, f"metric:{INFERTEL_GEN_AI_IN_FLIGHT}:last", start_ns, end_ns, step_s, group_by, where)
    tier, step_ns, buckets = plan(start_ns, end_ns, step_s)
    if not buckets:
        return []
    needs_hist = query.split("_")[0] in _HIST and query.split("_")[-1] in _QUANTILES
    pieces = [(tier, buckets[0], end_ns)]
    if needs_hist and _HIST[query.split("_")[0]][0] == "d" and _model_rollups.usable(group_by, where):
        pieces = complete(pieces, marks(conn, "span"))
        sums: dict[Any, list[Any]] = _model_rollups.duration_sums(conn, pieces, group_by, where, step_ns)
    elif needs_hist:
        prefix = _HIST[query.split("_")[0]][0]
        try:
            values, unpack = sr.histogram_sums(prefix)
            sums = grouped_sums(conn, pieces, group_by, where, values, unpack, step_ns)
        except OverflowError:  # more than 2**31 spans in one group and step: sum lane by lane
            values, unpack = sr.histogram_sums(prefix, packed=False)
            sums = grouped_sums(conn, pieces, group_by, where, values, unpack, step_ns)
    else:
        sums = grouped_sums(conn, pieces, group_by, where, sr.BASIC_SQL, sr.unpack_basic, step_ns)
    grouped: dict[tuple[str, ...], dict[int, float | None]] = {}
    step_s_eff = step_ns / 1e9
    for (key, bucket), v in sums.items():
        if bucket is not None:
            grouped.setdefault(key, {})[bucket] = _value(query, v, step_s_eff)
    return [
        Series(labels=dict(zip(group_by, key, strict=True)), points=[(b, points.get(b)) for b in buckets])
        for key, points in sorted(grouped.items())
    ]


def _value(query: str, v: Sequence[Any], step_s: float) -> float | None:
    count = v[0] or 0
    if query == "requests_per_s":
        return count / step_s
    if query == "error_rate":
        return v[1] / count if count else None
    if query == "input_tokens_per_s":
        return v[2] / step_s
    if query == "output_tokens_per_s":
        return v[3] / step_s
    what, q = query.rsplit("_", 1)
    return quantile(_QUANTILES[q], _HIST[what][1], v[1:])  # v: [count, *bucket counts]
