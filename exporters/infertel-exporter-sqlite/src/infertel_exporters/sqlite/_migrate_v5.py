"""Schema version 5: metric rollups as marked raw points (``_metric_marks``), migrated from version 4.

``metric_points`` gains ``mark`` and ``base``; its ``(name, time_ns)`` index becomes ``(name, mark,
time_ns)``. The points already there are marked series by series, in time order. ``metric_rollups``
is no longer written: its coarse buckets are closed first, and reads take the step buckets before
the hour of the oldest raw point from it (``_metric_legacy``); retention deletes its rows by age.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from infertel_exporters.sqlite import _metric_legacy, _metric_marks, _metric_rollups, _tiers

CREATE = (
    "ALTER TABLE metric_points ADD COLUMN mark INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE metric_points ADD COLUMN base",
    "DROP INDEX IF EXISTS metric_points_name_time",
    "CREATE INDEX metric_points_name_mark ON metric_points (name, mark, time_ns)",
)
_HOUR = 3600 * 10**9
_BATCH = 5000


def migrate_to_v5(conn: sqlite3.Connection) -> None:
    """Bring a version-4 file to version 5 (inside the schema transaction)."""
    _metric_rollups.register_functions(conn)
    newest = conn.execute("SELECT max(bucket_ns) FROM metric_rollups").fetchone()[0]
    if newest is not None:  # every coarse bucket complete: nothing sums them any more
        _tiers.close_before(conn, "metric", newest + _HOUR)
    for statement in CREATE:
        conn.execute(statement)
    oldest = conn.execute("SELECT min(time_ns) FROM metric_points").fetchone()[0]
    if newest is not None:
        switch = -(-(oldest if oldest is not None else newest + _HOUR) // _HOUR) * _HOUR
        conn.execute("INSERT INTO rollup_marks (kind, step, done_ns) VALUES (?, 0, ?)", (_metric_legacy.KIND, switch))
    mark_existing(conn)


def mark_existing(conn: sqlite3.Connection) -> None:
    """Set ``mark`` and ``base`` of every point, series by series in time order (as the writers would have)."""
    last: dict[tuple[Any, ...], tuple[int, int, Any, Any]] = {}
    rows = conn.execute(
        "SELECT id, name, kind, temporality, monotonic, start_ns, time_ns, attributes, value, histogram, resource_id"
        " FROM metric_points WHERE kind != 'exponential_histogram' ORDER BY time_ns, id"
    )
    updates: list[tuple[int, Any, int]] = []
    for pid, name, kind, temporality, monotonic, start, t, attrs, value, histogram, rid in rows:
        counted = kind == "histogram" or bool(monotonic)
        cumulative = counted and temporality == "cumulative"
        if counted and not cumulative:
            updates.append((3 + _metric_marks.RESTART, None, pid))
            continue
        level = (json.loads(histogram)["count"] if kind == "histogram" else value) if cumulative else None
        own = histogram if kind == "histogram" else value
        key = (rid, name, attrs)
        prev = last.get(key)
        last[key] = (t, start, level, own)
        if prev is None:
            updates.append((3 + _metric_marks.RESTART, None, pid))
            continue
        mark = _metric_marks.point_mark(prev[0], t)
        if cumulative and (start != prev[1] or prev[2] is None or level < prev[2]):
            mark += _metric_marks.RESTART
        if mark:
            updates.append((mark, prev[3], pid))
    cursor = conn.cursor()  # the read cursor above is done
    for i in range(0, len(updates), _BATCH):
        cursor.executemany("UPDATE metric_points SET mark = ?, base = ? WHERE id = ?", updates[i : i + _BATCH])
