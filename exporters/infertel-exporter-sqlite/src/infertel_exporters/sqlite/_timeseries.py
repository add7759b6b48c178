"""``SQLiteStore.timeseries``: GenAI series from the span rollups, ``metric:`` series from the metric rollups."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from infertel_exporters.sqlite import _span_rollups as sr
from infertel_exporters.sqlite._analytics import (
    _HIST,
    _QUANTILES,
    _SUMS,
    METRIC_STATS,
    ROLLUP_QUERIES,
    Series,
    _check_keys,
    _filters,
    _series_label,
)
from infertel_exporters.sqlite._buckets import quantile
from infertel_exporters.sqlite._names import INFERTEL_GEN_AI_IN_FLIGHT


def plan(start_ns: int, end_ns: int, step_s: float) -> tuple[int, int, list[int]]:
    """``(rollup step s, series step ns, bucket starts)`` for a range and a requested step.

    The rollup is the coarsest of 10 s / 1 min / 1 h not above ``step_s``; the step is rounded up
    to a multiple of it. At most 10,000 points.

    Example:
        >>> plan(0, 120 * 10**9, 25)[:2]
        (10, 30000000000)
    """
    if not (step_s > 0 and math.isfinite(step_s)):
        raise ValueError(f"step_s must be a positive number of seconds, got {step_s!r}")
    tier = 3600 if step_s >= 3600 else 60 if step_s >= 60 else 10
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
        return _metric(conn, query, start_ns, end_ns, step_s, group_by, where)
    if query not in ROLLUP_QUERIES:
        raise ValueError(
            f"unknown query {query!r}; accepted: {', '.join(ROLLUP_QUERIES)}, 'metric:<name>' or 'metric:<name>:<stat>'"
            f" with stat in {'|'.join(METRIC_STATS)}"
        )
    _check_keys(group_by, where)
    if query == "in_flight":
        return _metric(conn, f"metric:{INFERTEL_GEN_AI_IN_FLIGHT}:last", start_ns, end_ns, step_s, group_by, where)
    tier, step_ns, buckets = plan(start_ns, end_ns, step_s)
    if not buckets:
        return []
    cols = ", ".join(group_by)
    extra, params = _filters(where)
    needs_hist = query.split("_")[0] in _HIST and query.split("_")[-1] in _QUANTILES
    values = _SUMS if needs_hist else sr.BASIC_SQL
    unpack = sr.unpack if needs_hist else sr.unpack_basic
    sql = f"SELECT {cols + ', ' if cols else ''}bucket_ns - bucket_ns % ? AS b, {values} FROM span_rollups"
    sql += f" WHERE step = ? AND bucket_ns >= ? AND bucket_ns < ?{extra} GROUP BY {cols + ', ' if cols else ''}b"
    grouped: dict[tuple[str, ...], dict[int, float | None]] = {}
    step_s_eff = step_ns / 1e9
    for row in conn.execute(sql, (step_ns, tier, buckets[0], end_ns, *params)):
        key, bucket, v = tuple(row[: len(group_by)]), row[len(group_by)], unpack(row[len(group_by) + 1 :])
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
    prefix, bounds = _HIST[what]
    return quantile(_QUANTILES[q], bounds, sr.histogram(v, prefix))


def _metric(conn: sqlite3.Connection, query: str, start_ns: int, end_ns: int, step_s: float,
            group_by: tuple[str, ...], where: Mapping[str, str] | None) -> list[Series]:  # fmt: skip
    parts = query.split(":")
    if len(parts) not in (2, 3) or not parts[1] or (len(parts) == 3 and parts[2] not in METRIC_STATS):
        raise ValueError(f"bad metric query {query!r}; accepted: 'metric:<name>' or 'metric:<name>:<stat>' with stat"
                         f" in {'|'.join(METRIC_STATS)}")  # fmt: skip
    name = parts[1]
    series = conn.execute(
        "SELECT id, kind, monotonic, service, attributes, bounds FROM metric_series WHERE name = ?", (name,)
    ).fetchall()
    tier, step_ns, buckets = plan(start_ns, end_ns, step_s)
    if not series or not buckets:
        return []
    kind, monotonic = series[0][1], series[0][2]
    default = "p95" if kind == "histogram" else "rate" if (kind == "sum" and monotonic) else "avg"
    stat = parts[2] if len(parts) == 3 else default
    if (stat in _QUANTILES) != (kind == "histogram") or (stat == "rate" and not (kind == "histogram" or monotonic)):
        raise ValueError(f"stat {stat!r} does not apply to {kind} metric {name!r} (query {query!r})")
    labels: dict[int, tuple[str, ...]] = {}
    bounds: list[float] = []
    for sid, _kind, _mono, service, attrs, bounds_json in series:
        attributes = json.loads(attrs)
        if where and any(_series_label(k, service, attributes) != v for k, v in where.items()):
            continue
        labels[sid] = tuple(_series_label(k, service, attributes) or "" for k in group_by)
        if bounds_json and not bounds:
            bounds = json.loads(bounds_json)
    if not labels:
        return []
    # per (group, bucket): count, sum, min, max, {series: (last_ns, last)}, delta, hist, {series: (sum, count)}
    acc: dict[tuple[tuple[str, ...], int], list[Any]] = {}
    rows = conn.execute(
        f"SELECT series_id, bucket_ns - bucket_ns % ?, count, sum, min, max, last, last_ns, delta, hist FROM"
        f" metric_rollups WHERE step = ? AND series_id IN ({','.join('?' * len(labels))}) AND bucket_ns >= ?"
        " AND bucket_ns < ?",
        (step_ns, tier, *labels, buckets[0], end_ns),
    )
    for sid, b, count, total, low, high, last, last_ns, delta, hist in rows:
        a = acc.get((labels[sid], b))
        if a is None:
            a = acc[(labels[sid], b)] = [0, 0.0, None, None, {}, 0.0, None, {}]
        a[0] += count
        a[1] += total or 0.0
        if low is not None:
            a[2] = low if a[2] is None else min(a[2], low)
            a[3] = high if a[3] is None else max(a[3], high)
        if last is not None and (sid not in a[4] or last_ns > a[4][sid][0]):
            a[4][sid] = (last_ns, last)
        a[5] += delta or 0.0
        if hist is not None:
            counts = json.loads(hist)
            a[6] = counts if a[6] is None else [x + y for x, y in zip(a[6], counts, strict=False)]
        s = a[7].get(sid, (0.0, 0))
        a[7][sid] = (s[0] + (total or 0.0), s[1] + count)
    grouped: dict[tuple[str, ...], dict[int, float | None]] = {key: {} for key in labels.values()}
    step_s_eff = step_ns / 1e9
    for (key, b), a in acc.items():
        value: float | None
        if stat == "avg":
            value = a[1] / a[0] if a[0] and kind != "histogram" else None
        elif stat == "min":
            value = a[2]
        elif stat == "max":
            value = a[3]
        elif stat == "last":
            value = sum(v for _, v in a[4].values()) if a[4] else None
        elif stat == "sum":
            value = sum(s / c for s, c in a[7].values() if c) if kind != "histogram" else a[1]
        elif stat == "rate":
            value = a[5] / step_s_eff
        else:
            value = quantile(_QUANTILES[stat], bounds, a[6]) if a[6] else None
        grouped[key][b] = value
    return [
        Series(labels=dict(zip(group_by, key, strict=True)), points=[(b, points.get(b)) for b in buckets])
        for key, points in sorted(grouped.items())
    ]
