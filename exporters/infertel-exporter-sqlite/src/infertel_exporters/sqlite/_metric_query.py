"""``SQLiteStore.timeseries("metric:<name>[:<stat>]")``: per label group and step, over the series of a metric.

The rollup buckets of each series come from ``_metric_read`` (schema 5: raw and marked points); in a
store migrated from schema 4, step buckets before its switch time from ``_metric_legacy``. Closed
coarse buckets are kept between calls (``_metric_cache.KEPT``), and so are the values of the step
buckets made only of them (``_metric_cache.STEPS``), both checked on every call.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from infertel_exporters.sqlite import _metric_cache, _metric_legacy, _metric_read
from infertel_exporters.sqlite._analytics import _QUANTILES, Series, _series_label, metric_name, metric_stat
from infertel_exporters.sqlite._buckets import quantile


def metric(conn: sqlite3.Connection, query: str, start_ns: int, end_ns: int, step_s: float,
           group_by: tuple[str, ...], where: Mapping[str, str] | None) -> list[Series]:  # fmt: skip
    """See :meth:`SQLiteStore.timeseries` (``metric:`` queries)."""
    from infertel_exporters.sqlite._timeseries import plan

    name = metric_name(query)
    series = conn.execute(
        "SELECT resource_id, attributes, kind, monotonic, service, bounds FROM metric_series WHERE name = ?", (name,)
    ).fetchall()
    tier, step_ns, buckets = plan(start_ns, end_ns, step_s)
    if not series or not buckets:
        return []
    kind, monotonic = series[0][2], series[0][3]
    stat = metric_stat(query, kind, monotonic)
    switch = _metric_legacy.switch_ns(conn)
    if switch > buckets[0]:
        split = next((b for b in buckets if b >= switch), end_ns)
        old = _metric_legacy.legacy(conn, query, start_ns, min(end_ns, split), step_s, group_by, where)
        new = (
            _read(conn, name, kind, monotonic, stat, series, split, end_ns, step_s, group_by, where)
            if split < end_ns
            else []
        )
        merged: dict[tuple[str, ...], dict[int, float | None]] = {}
        for part in (old, new):
            for s in part:
                points = merged.setdefault(tuple(s.labels[k] for k in group_by), {})
                points.update((b, v) for b, v in s.points if v is not None)
        return [
            Series(labels=dict(zip(group_by, key, strict=True)), points=[(b, points.get(b)) for b in buckets])
            for key, points in sorted(merged.items())
        ]
    return _read(conn, name, kind, monotonic, stat, series, start_ns, end_ns, step_s, group_by, where)


def _read(conn: sqlite3.Connection, name: str, kind: str, monotonic: Any, stat: str, series: list[Any],
          start_ns: int, end_ns: int, step_s: float, group_by: tuple[str, ...],
          where: Mapping[str, str] | None) -> list[Series]:  # fmt: skip
    from infertel_exporters.sqlite._timeseries import plan

    tier, step_ns, buckets = plan(start_ns, end_ns, step_s)
    labels: dict[tuple[int, str], tuple[str, ...]] = {}
    bounds: list[float] = []
    for rid, attrs, _kind, _mono, service, bounds_json in series:
        attributes = json.loads(attrs)
        if where and any(_series_label(k, service, attributes) != v for k, v in where.items()):
            continue
        labels[(rid, attrs)] = tuple(_series_label(k, service, attributes) or "" for k in group_by)
        if bounds_json and not bounds:
            bounds = json.loads(bounds_json)
    if not labels or not buckets:
        return []
    hist = kind == "histogram"
    counted = stat == "rate" or stat in _QUANTILES or (hist and stat == "sum")
    grouped: dict[tuple[str, ...], dict[int, Any]] = {key: {} for key in labels.values()}
    if hist and not counted:  # a histogram has no average, minimum, maximum or latest value
        return _series(grouped, group_by, buckets)
    first = buckets[0]
    span = ((end_ns - first) // step_ns).bit_length()  # as in ``_metric_read._coarse``'s key
    step_key = (id(conn), name, stat, tier, step_ns, span, group_by, tuple(sorted(where.items())) if where else ())
    kept = _metric_cache.STEPS.get(step_key) if tier > 10 else None
    if kept is not None and (kept.conn is not conn or kept.lo_ns > first):
        kept = None
    skip = max(first, kept.cut_ns) if kept is not None else first  # step buckets before it: kept values
    settled: dict[str, Any] = {}
    per_series = _metric_read.buckets(conn, name, kind, counted, tier, first, end_ns, set(labels),
                                      reuse=_metric_cache.KEPT, settled=settled, since=skip)  # fmt: skip
    if kept is not None and kept.generation is not settled.get("generation"):  # changed since: everything afresh
        kept, skip = None, first
        per_series = _metric_read.buckets(conn, name, kind, counted, tier, first, end_ns, set(labels),
                                          reuse=_metric_cache.KEPT, settled=settled)  # fmt: skip
    acc: dict[tuple[tuple[str, ...], int], list[Any]] = {}
    width = tier * 1_000_000_000
    if step_ns == width and (stat == "rate" or (stat == "last" and not counted)):  # the dashboard's charts
        index = 0 if stat == "rate" else 4
        sums: dict[tuple[tuple[str, ...], int], Any] = {}
        for key, figures in per_series.items():
            label = labels[key]
            for b, fig in figures.items():
                if skip <= b < end_ns:
                    group_key = (label, b)
                    sums[group_key] = sums.get(group_key, 0) + fig[index]
        step_s_rate = step_ns / 1e9
        for (group, b), total in sums.items():
            grouped[group][b] = total / step_s_rate if stat == "rate" else total
        return _settle(conn, grouped, group_by, buckets, step_key, kept, settled, step_ns)
    for key, figures in per_series.items():
        label = labels[key]
        if step_ns == width:  # a rollup bucket per step bucket
            steps = figures
        else:
            steps = {}  # this series' figures per step bucket
            for rb in sorted(rb for rb in figures if rb >= skip):
                fig = figures[rb]
                b = rb - rb % step_ns
                have = steps.get(b)
                if have is None:
                    steps[b] = list(fig)
                elif counted:
                    have[0] += fig[0]
                    if fig[1] is not None:
                        have[1] = (
                            fig[1]
                            if len(have[1]) != len(fig[1])
                            else [x + y for x, y in zip(have[1], fig[1], strict=True)]
                        )
                        have[2] += fig[2]
                else:
                    have[0] += fig[0]
                    have[1] += fig[1]
                    have[2] = min(have[2], fig[2])
                    have[3] = max(have[3], fig[3])
                    if fig[5] >= have[5]:
                        have[4], have[5] = fig[4], fig[5]
        quantiles = stat in _QUANTILES
        for b, fig in steps.items():
            if b < skip or b >= end_ns:
                continue
            if quantiles:
                x: Any = fig[1]
            elif stat == "rate":
                x = fig[0]
            elif counted:  # a histogram's sum
                x = fig[2]
            elif stat == "last":
                x = fig[4]
            elif stat == "avg":
                x = (fig[1], fig[0])
            elif stat == "sum":
                x = fig[1] / fig[0] if fig[0] else 0.0
            else:
                x = fig[2] if stat == "min" else fig[3]
            group_key = (label, b)
            a = acc.get(group_key)
            if a is None:
                acc[group_key] = [x]
            elif quantiles:
                a[0] = x if len(a[0]) != len(x) else [p + q for p, q in zip(a[0], x, strict=True)]
            elif stat == "avg":
                a[0] = (a[0][0] + x[0], a[0][1] + x[1])
            elif stat == "min":
                a[0] = min(a[0], x)
            elif stat == "max":
                a[0] = max(a[0], x)
            else:
                a[0] += x
    step_s_eff = step_ns / 1e9
    for (group, b), (x,) in acc.items():
        if stat in _QUANTILES:
            grouped[group][b] = quantile(_QUANTILES[stat], bounds, x)
        elif stat == "rate":
            grouped[group][b] = x / step_s_eff
        elif stat == "avg":
            grouped[group][b] = x[0] / x[1] if x[1] else None
        else:
            grouped[group][b] = x
    return _settle(conn, grouped, group_by, buckets, step_key, kept, settled, step_ns)


def _settle(conn: sqlite3.Connection, grouped: dict[tuple[str, ...], dict[int, Any]], group_by: tuple[str, ...],
            buckets: list[int], step_key: tuple[Any, ...], kept: _metric_cache.Steps | None, settled: dict[str, Any],
            step_ns: int) -> list[Series]:  # fmt: skip
    """The series, with the kept values of settled step buckets filled in and this read's settled values kept."""
    first = buckets[0]
    if kept is not None:
        for group, values in kept.values.items():
            points = grouped.get(group)
            if points is not None:
                points.update((b, v) for b, v in values.items() if b >= first)
    if settled:
        before = settled["before_ns"]
        cut = max(first, before - before % step_ns)  # step buckets wholly before ``before_ns``
        keep = {group: {b: v for b, v in points.items() if b < cut} for group, points in grouped.items()}
        _metric_cache.STEPS.put(step_key, _metric_cache.Steps(conn, settled["generation"], first, cut, keep))
    return _series(grouped, group_by, buckets)


def _series(
    grouped: dict[tuple[str, ...], dict[int, Any]], group_by: tuple[str, ...], buckets: list[int]
) -> list[Series]:
    return [
        Series(labels=dict(zip(group_by, key, strict=True)), points=[(b, points.get(b)) for b in buckets])
        for key, points in sorted(grouped.items())
    ]
