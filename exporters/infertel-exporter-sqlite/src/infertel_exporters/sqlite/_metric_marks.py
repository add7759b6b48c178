"""Metric rollups as marked raw points (schema 5): which raw point opens a 1 min / 10 min / 1 h bucket.

No rollup row is written for metric points. A raw point that is the first of its series in a
1 min, 10 min or 1 h bucket gets ``mark`` 1, 2 or 3 (the widest bucket it opens), plus 4 when the
series restarts there (a new series, a changed start time or a lower cumulative value, and every
delta-temporality point); ``base`` holds the series' previous value (its cumulative value, its
histogram JSON, or a gauge's value). The reads (``_metric_read``) take a bucket's increase from two
consecutive marked points: ``base`` of the next one minus ``base`` of its own, exactly the sum of the
per-point increases the schema-4 rollups kept. Marked points stay for the rollup retention.

The decision is made per metric when its series list is the one of its previous export and its
points' times move together (what the SDK's readers export): a few list comparisons, no work per
point. Otherwise point by point, against the series' last point (from memory, or from the store
after a restart).

Example:
    >>> uniform_mark(0, 59 * 10**9, 61 * 10**9, 61 * 10**9)
    1
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from itertools import repeat
from operator import attrgetter, le
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogram,
    Gauge,
    Histogram,
    MetricsData,
    Sum,
)

from infertel_exporters.sqlite._encode import ResourceCache, _mapping_json, _num, encode_json, resource_rows
from infertel_exporters.sqlite._metric_rollups import SERIES_INSERT, series_id

INSERT = (
    "INSERT INTO metric_points (name, unit, kind, temporality, monotonic, start_ns, time_ns, attributes,"
    " value, histogram, scope_name, resource_id, mark, base) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
RESTART = 4
"""Added to a mark where the series restarts: its own value is its increase."""
WIDTHS_NS = (60 * 10**9, 600 * 10**9, 3600 * 10**9)
"""Bucket widths of marks 1, 2 and 3."""
_PREVIOUS = (
    "SELECT time_ns, start_ns, value, histogram FROM metric_points WHERE name = ? AND mark = ? AND time_ns < ?"
    " AND resource_id = ? AND attributes = ? ORDER BY time_ns DESC LIMIT 1"
)
"""A series' newest point of one mark: walks the ``(name, mark, time_ns)`` index backwards (one query per mark)."""
_KNOWN = "SELECT 1 FROM metric_series WHERE name = ? AND resource_id = ? AND attributes = ? LIMIT 1"
_ATTRS = attrgetter("attributes")
_START = attrgetter("start_time_unix_nano")
_TIME = attrgetter("time_unix_nano")
_VALUE = attrgetter("value")
_COUNT = attrgetter("count")
_KINDS: dict[type, str] = {Sum: "sum", Gauge: "gauge", Histogram: "histogram"}
_TEMPORALITY = {t: t.name.lower() for t in AggregationTemporality}
_MINUTE = WIDTHS_NS[0]

# per metric (resource id, scope, name): the last export's attribute JSON list, start times, levels (cumulative
# value or histogram count; None for gauges), bases (what the next point's `base` is), times, min and max time.
Last = tuple[list[str] | None, list[int], Any, list[Any], list[int], int, int, list[Any]]


def uniform_mark(prev_min: int, prev_max: int, lo: int, hi: int) -> int | None:
    """The mark of every point when each crosses the same bucket bounds from its series' last point.

    ``prev_min``/``prev_max``: the times of the series' last points; ``lo``/``hi``: the new times.
    ``None`` when the points differ (some open a bucket, some do not).

    Example:
        >>> uniform_mark(0, 0, 10**9, 10**9), uniform_mark(0, 0, 3600 * 10**9, 3600 * 10**9)
        (0, 3)
    """
    mark = 0
    for level, width in enumerate(WIDTHS_NS, 1):
        if prev_max // width < lo // width:
            mark = level
        elif prev_min // width == hi // width:
            return mark
        else:
            return None
    return mark


def point_mark(prev_time: int, time_ns: int) -> int:
    """The widest bucket a point at ``time_ns`` opens after its series' point at ``prev_time`` (0: none)."""
    for level in (3, 2, 1):
        width = WIDTHS_NS[level - 1]
        if prev_time // width != time_ns // width:
            return level
    return 0


class Marks:
    """Per process: each metric's last export and each series' last point, for the marks.

    ``pending`` holds what a batch computed; :meth:`commit` keeps it once the transaction is committed,
    :meth:`rollback` drops it. ``version`` changes at every commit, so a batch encoded against an older
    state is encoded again. Bounded: cleared past 100,000 series.
    """

    def __init__(self) -> None:
        self.metrics: dict[tuple[Any, ...], Last] = {}
        self.series: dict[tuple[Any, ...], tuple[int, int, Any, Any]] = {}
        self.registered: set[tuple[Any, ...]] = set()
        self.version = 0

    def commit(self, pending: dict[tuple[Any, ...], Last], series: dict[tuple[Any, ...], Any],
               new_series: list[tuple[Any, ...]]) -> None:  # fmt: skip
        """Keep a committed batch's state."""
        if len(self.series) > 100_000 or len(self.registered) > 100_000:
            self.series.clear()
            self.metrics.clear()
            self.registered.clear()
        self.metrics.update(pending)
        self.series.update(series)
        self.registered.update((row[6], row[1], row[7]) for row in new_series)
        self.version += 1


class Unknown(Exception):
    """A series this process has not seen: its last point must be read from the store (in the transaction)."""


def marked_rows(
    data: MetricsData, cache: ResourceCache, marks: Marks, conn: sqlite3.Connection | None,
    service_of: Callable[[int], str] | None = None,
) -> tuple[list[Any], list[Any], list[Any], dict[tuple[Any, ...], Last], dict[Any, Any], list[Any]]:  # fmt: skip
    """Rows: unmarked (``METRIC_INSERT``), marked (:data:`INSERT`), resources; pending state; new series.

    Raises:
        Unknown: ``conn`` is ``None`` and a series' last point is not in memory.
    """
    plain: list[tuple[Any, ...]] = []  # unmarked points: METRIC_INSERT (mark 0, base NULL by default)
    marked: list[tuple[Any, ...]] = []
    used: dict[int, tuple[str, str]] = {}
    pending: dict[tuple[Any, ...], Last] = {}
    pending_series: dict[tuple[Any, ...], Any] = {}
    new_series: list[tuple[Any, ...]] = []
    stable = cache.stable_json
    get = marks.metrics.get
    for resource_metrics in data.resource_metrics:
        resource = resource_metrics.resource
        rid, resource_json, schema_url = cache.get(resource)
        used[rid] = (resource_json, schema_url)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope.name if scope_metrics.scope is not None else None
            for metric in scope_metrics.metrics:
                values: Any = metric.data
                points: Any = values.data_points
                what = _KINDS.get(type(values))
                if what is None or not points:
                    if points and isinstance(values, ExponentialHistogram):  # kept raw only
                        plain.extend(_exponential(metric.name, metric.unit or None, values, scope, rid))
                    continue
                name = metric.name
                unit = metric.unit or None
                key = (rid, scope, name)
                prev = get(key)
                objs = list(map(_ATTRS, points))
                if prev is not None and prev[0] is not None and prev[7] == objs:
                    attrs, same = prev[0], True  # the SDK hands out the same attribute objects at every export
                else:
                    attrs = [stable(a) if a else "{}" for a in objs]
                    same = prev is not None and prev[0] == attrs  # the same series, in the same order
                starts = list(map(_START, points))
                times = list(map(_TIME, points))
                lo = hi = times[0]
                if times.count(lo) != len(times):
                    lo, hi = min(times), max(times)
                histogram: Any
                kind = what
                if what == "histogram":
                    monotonic = None
                    temporality = _TEMPORALITY[values.aggregation_temporality]
                    cumulative = temporality == "cumulative"
                    value: Any = repeat(None)
                    levels: Any = list(map(_COUNT, points))
                    histogram = bases = [
                        f'{{"bounds":{stable(p.explicit_bounds)},"counts":{encode_json(p.bucket_counts)},'
                        f'"sum":{_num(p.sum)},"count":{p.count},"min":{_num(p.min)},"max":{_num(p.max)}}}'
                        for p in points
                    ]
                else:
                    if what == "sum":
                        monotonic = 1 if values.is_monotonic else 0
                        temporality = _TEMPORALITY[values.aggregation_temporality]
                        cumulative = monotonic == 1 and temporality == "cumulative"
                    else:
                        temporality, monotonic, cumulative = None, None, False
                    value = bases = list(map(_VALUE, points))
                    levels = bases if cumulative else None
                    histogram = repeat(None)
                counted = what == "histogram" or monotonic == 1  # an increase is read from it
                if not same:
                    unique = len(attrs) == len(set(attrs))
                    for a in attrs:
                        if (rid, name, a) not in marks.registered:
                            bounds = None if kind != "histogram" else stable(points[0].explicit_bounds)
                            service = service_of(rid) if service_of is not None else cache.service(resource)
                            new_series.append((series_id(rid, name, kind, a, bounds), name, unit, kind, monotonic,
                                               service, rid, a, bounds))  # fmt: skip
                # attrs only when unique: the next export compares with them to take the fast path
                pending[key] = (attrs if same or unique else None, starts, levels, bases, times, lo, hi, objs)
                mark: Any = None
                base: Any = None
                if counted and not cumulative:  # delta temporality: every point is its own increase
                    mark, base = 3 + RESTART, repeat(None)
                elif same and (not cumulative or (prev[1] == starts and all(map(le, prev[2], levels)))):  # type: ignore[index]
                    plo, phi = prev[5], prev[6]  # type: ignore[index]
                    if phi // _MINUTE == lo // _MINUTE == hi // _MINUTE == plo // _MINUTE:
                        mark = 0  # the common case: every point in the minute of its series' last one
                    else:
                        mark = uniform_mark(plo, phi, lo, hi)
                    if mark:
                        base = prev[3] if kind != "histogram" else list(map(_trim, prev[3]))  # type: ignore[index]
                if mark == 0:
                    rows = zip(starts, times, attrs, value, histogram, strict=False)  # (repeat()s)
                    plain += [(name, unit, kind, temporality, monotonic, s, t, a, v, h, scope, rid)
                              for s, t, a, v, h in rows]  # fmt: skip
                    continue
                if mark is not None:
                    with_base = zip(starts, times, attrs, value, histogram, base, strict=False)  # (repeat()s)
                    marked += [(name, unit, kind, temporality, monotonic, s, t, a, v, h, scope, rid, mark, b)
                               for s, t, a, v, h, b in with_base]  # fmt: skip
                    continue
                point_marks, point_bases = _per_point(
                    marks,
                    prev,
                    pending_series,
                    conn,
                    (rid, name, kind, cumulative),
                    attrs,
                    starts,
                    times,
                    levels if cumulative else repeat(None),
                    bases,
                )
                for row in zip(repeat(name), repeat(unit), repeat(kind), repeat(temporality), repeat(monotonic),
                               starts, times, attrs, value, histogram, repeat(scope), repeat(rid), point_marks,
                               point_bases):  # fmt: skip
                    if row[12]:
                        marked.append(row)
                    else:
                        plain.append(row[:12])
    return plain, marked, resource_rows(used), pending, pending_series, new_series


def _trim(histogram: str) -> str:
    """A histogram's JSON without its bounds (a ``base`` needs the counts, sum and count only)."""
    return "{" + histogram[histogram.index('"counts":') :]


def _per_point(
    marks: Marks, prev: Last | None, pending_series: dict[tuple[Any, ...], Any], conn: sqlite3.Connection | None,
    what: tuple[int, str, str, bool], attrs: list[str], starts: list[int], times: list[int], levels: Any,
    bases: list[Any],
) -> tuple[list[int], list[Any]]:  # fmt: skip
    """Marks and bases point by point, against each series' last point (memory, then the store)."""
    rid, name, kind, cumulative = what
    series = marks.series
    if prev is not None and prev[0] is not None:  # the metric's last export: the newest state of its series
        levels_ = prev[2] if prev[2] is not None else repeat(None)
        states = zip(prev[4], prev[1], levels_, prev[3], strict=False)  # levels_ may repeat None
        series.update(zip(((rid, name, a) for a in prev[0]), states, strict=True))
    out_marks: list[int] = []
    out_bases: list[Any] = []
    for a, start, t, level, base in zip(attrs, starts, times, levels, bases, strict=False):  # levels may repeat
        skey = (rid, name, a)
        last = pending_series.get(skey) or series.get(skey)
        if last is None:
            if conn is None:
                raise Unknown(skey)
            # a series not in metric_series (registered with its first points) has none: no walk through the index
            known = conn.execute(_KNOWN, (name, rid, a)).fetchone() is not None
            last = _from_store(conn, skey, t, kind, cumulative) if known else None
        pending_series[skey] = (t, start, level, base)
        if last is None:
            out_marks.append(3 + RESTART)
            out_bases.append(None)
            continue
        mark = point_mark(last[0], t)
        if cumulative and (start != last[1] or last[2] is None or level < last[2]):
            mark += RESTART
        out_marks.append(mark)
        out_bases.append((_trim(last[3]) if kind == "histogram" else last[3]) if mark else None)
    return out_marks, out_bases


def _from_store(conn: sqlite3.Connection, skey: tuple[Any, ...], time_ns: int, kind: str, cumulative: bool) -> Any:
    rid, name, attrs = skey
    row = None
    for mark in range(8):
        found = conn.execute(_PREVIOUS, (name, mark, time_ns, rid, attrs)).fetchone()
        if found is not None and (row is None or found[0] > row[0]):
            row = found
    if row is None:
        return None
    t, start, value, histogram = row
    if histogram is not None:
        return (t, start, json.loads(histogram)["count"] if cumulative else None, histogram)
    return (t, start, value if cumulative else None, value)


def _exponential(name: str, unit: str | None, values: Any, scope: str | None, rid: int) -> Iterable[tuple[Any, ...]]:
    temporality = values.aggregation_temporality.name.lower()
    for p in values.data_points:
        histogram = encode_json({
            "scale": p.scale, "zero_count": p.zero_count,
            "positive": {"offset": p.positive.offset, "counts": list(p.positive.bucket_counts)},
            "negative": {"offset": p.negative.offset, "counts": list(p.negative.bucket_counts)},
            "sum": p.sum, "count": p.count, "min": p.min, "max": p.max,
        })  # fmt: skip
        yield (name, unit, "exponential_histogram", temporality, None, p.start_time_unix_nano, p.time_unix_nano,
               _mapping_json(p.attributes), None, histogram, scope, rid)  # fmt: skip


def register(conn: sqlite3.Connection, new_series: list[tuple[Any, ...]]) -> None:
    """Add the batch's new series to ``metric_series`` (inside its transaction)."""
    if new_series:
        conn.executemany(SERIES_INSERT, new_series)
