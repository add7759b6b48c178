"""Schema-4 ``metric:`` reads from ``metric_rollups``: the buckets before a store's move to schema 5.

A store migrated from schema 4 keeps its metric rollups for the time before its oldest raw point
(``rollup_marks`` kind ``metric-v4``, step 0: ``done_ns``, an hour boundary); reads of earlier step
buckets come from here, later ones from the marked points (``_metric_query``). Retention deletes
these rows by age as before; none is written any more.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from infertel_exporters.sqlite._analytics import _QUANTILES, Series, _series_label, metric_name, metric_stat
from infertel_exporters.sqlite._buckets import quantile
from infertel_exporters.sqlite._tiers import NONE, complete, marks

KIND = "metric-v4"
"""``rollup_marks.kind`` of the switch time (step 0)."""


def switch_ns(conn: sqlite3.Connection) -> int:
    """Buckets before this come from ``metric_rollups`` (``NONE``: a store that never had schema 4 rollups)."""
    row = conn.execute("SELECT done_ns FROM rollup_marks WHERE kind = ? AND step = 0", (KIND,)).fetchone()
    return NONE if row is None else int(row[0])


def legacy(conn: sqlite3.Connection, query: str, start_ns: int, end_ns: int, step_s: float,
           group_by: tuple[str, ...], where: Mapping[str, str] | None) -> list[Series]:  # fmt: skip
    """The schema-4 read (validated by the caller), for the step buckets starting in ``[start_ns, end_ns)``."""
    from infertel_exporters.sqlite._timeseries import plan

    name = metric_name(query)
    series = conn.execute(
        "SELECT id, kind, monotonic, service, attributes, bounds FROM metric_series WHERE name = ?", (name,)
    ).fetchall()
    tier, step_ns, buckets = plan(start_ns, end_ns, step_s)
    if not series or not buckets:
        return []
    kind, monotonic = series[0][1], series[0][2]
    stat = metric_stat(query, kind, monotonic)
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
