"""``SQLiteStore.timeseries``: GenAI series from the span rollups, ``metric:`` series from the metric rollups."""

from __future__ import annotations

import json
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
    _series_label,
)
from infertel_exporters.sqlite._buckets import STEPS_S, quantile
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
    qmarks = ",".join("?" * len(labels))
    where_sql = f"WHERE step = ? AND series_id IN ({qmarks}) AND bucket_ns >= ? AND bucket_ns < ?"
    pieces = complete([(tier, buckets[0], end_ns)], marks(conn, "metric"))

    def rows(select: str, extra: str = "") -> Any:
        for piece_step, lo, hi in pieces:
            yield from conn.execute(
                f"SELECT series_id, bucket_ns - bucket_ns % ? AS b, {select} FROM metric_rollups {where_sql}{extra}",
                (step_ns, piece_step, *labels, lo, hi),
            )

    grouped: dict[tuple[str, ...], dict[int, Any]] = {key: {} for key in labels.values()}
    if stat in _QUANTILES:
        hists: dict[tuple[tuple[str, ...], int], list[float]] = {}
        for sid, b, hist in rows("hist", " AND hist IS NOT NULL"):
            counts = json.loads(hist)
            merged = hists.get((labels[sid], b))
            hists[(labels[sid], b)] = (
                counts if merged is None else [x + y for x, y in zip(merged, counts, strict=False)]
            )
        for (key, b), counts in hists.items():
            grouped[key][b] = quantile(_QUANTILES[stat], bounds, counts)
    else:
        # one SQL aggregate per (series, step bucket) and rollup piece, merged per series, then per label group
        if stat == "last":  # the bucket's latest value of each series (a single max(): its row's `last`)
            select = "last, max(last_ns)"
        else:
            select = {"avg": "sum(sum), sum(count)", "min": "min(min), 0", "max": "max(max), 0",
                      "sum": "sum(sum), sum(count)", "rate": "sum(delta), 0"}[stat]  # fmt: skip
        found = rows(select, " GROUP BY series_id, b")
        items: Any
        # a step bucket split between two rollup pieces gives a series two rows: for an average or the latest
        # value they merge first (pieces meet at rollup bucket starts, so only when a step spans several)
        split = any(lo % step_ns for _step, lo, _hi in pieces[1:])
        if split and stat in ("sum", "last"):
            per_series: dict[tuple[int, int], list[Any]] = {}
            for sid, b, x, y in found:
                if x is None:
                    continue
                a = per_series.get((sid, b))
                if a is None:
                    per_series[(sid, b)] = [x, y]
                elif stat == "last":
                    if y >= a[1]:
                        a[0], a[1] = x, y
                else:
                    a[0] += x
                    a[1] += y
            items = per_series.items()
        else:  # sums, minima and maxima merge alike per series and per group
            items = (((sid, b), (x, y)) for sid, b, x, y in found if x is not None)
        acc: dict[tuple[tuple[str, ...], int], list[Any]] = {}
        for (sid, b), (x, y) in items:
            if stat == "sum" and kind != "histogram":
                x, y = (x / y if y else 0.0), 0  # a series' average in the bucket; the group sums them
            a = acc.get((labels[sid], b))
            if a is None:
                acc[(labels[sid], b)] = [x, y]
            elif stat == "min":
                a[0] = min(a[0], x)
            elif stat == "max":
                a[0] = max(a[0], x)
            else:
                a[0] += x
                a[1] += y
        step_s_eff = step_ns / 1e9
        for (key, b), (x, y) in acc.items():
            if stat == "avg":
                grouped[key][b] = x / y if y and kind != "histogram" else None
            elif stat == "rate":
                grouped[key][b] = x / step_s_eff
            else:
                grouped[key][b] = x
    return [
        Series(labels=dict(zip(group_by, key, strict=True)), points=[(b, points.get(b)) for b in buckets])
        for key, points in sorted(grouped.items())
    ]
