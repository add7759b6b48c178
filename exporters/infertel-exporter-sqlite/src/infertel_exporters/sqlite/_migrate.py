"""Schema version 2 and the migration from version 1 (runs inside the schema transaction).

Version 2: compact ``spans`` rows (BLOB ids, kind number, ``duration_ns``, shape-encoded
attributes with ``span_shapes``), BLOB trace/span ids in ``logs``, and the rollup tables
(``span_rollups``, ``metric_series``, ``metric_rollups``), built here from the raw rows already
in the file.
"""

from __future__ import annotations

import json
import sqlite3

from infertel_exporters.sqlite import _metric_rollups, _span_rollups
from infertel_exporters.sqlite._encode import ResourceCache
from infertel_exporters.sqlite._names import (
    SERVICE_NAME,
)
from infertel_exporters.sqlite._span_encode import KINDS, SHAPE_INSERT, SPAN_INSERT, compact, shapes_of

CREATE_SPANS_V2 = (
    """CREATE TABLE span_shapes (
        id INTEGER PRIMARY KEY,
        resource_id INTEGER,
        scope_name TEXT,
        scope_version TEXT,
        keys TEXT NOT NULL,
        implied TEXT NOT NULL
    )""",
    """CREATE TABLE spans (
        id INTEGER PRIMARY KEY,
        trace_id BLOB NOT NULL,
        span_id BLOB NOT NULL,
        parent_span_id BLOB,
        root INTEGER NOT NULL,
        name TEXT,
        kind INTEGER NOT NULL,
        start_ns INTEGER NOT NULL,
        duration_ns INTEGER NOT NULL,
        status_code TEXT,
        status_message TEXT,
        model TEXT,
        operation TEXT,
        shape_id INTEGER,
        attributes TEXT NOT NULL,
        events TEXT,
        links TEXT
    )""",
    "CREATE UNIQUE INDEX spans_trace ON spans (trace_id, span_id)",
    "CREATE INDEX spans_start ON spans (start_ns)",
    "CREATE INDEX spans_errors ON spans (start_ns) WHERE status_code = 'ERROR'",
)

_KIND_NUMBER = {name: i for i, name in enumerate(KINDS)}
_BATCH = 2000


def services(conn: sqlite3.Connection) -> dict[int, str]:
    """Resource id -> ``service.name`` (``""`` without one)."""
    out = {}
    for rid, attributes in conn.execute("SELECT id, attributes FROM resources"):
        name = json.loads(attributes).get(SERVICE_NAME)
        out[rid] = "" if name is None else str(name)
    return out


def migrate_to_v2(conn: sqlite3.Connection) -> None:
    """Bring a version-1 file (or the empty one version 1 just created) to version 2."""
    _metric_rollups.register_functions(conn)
    service_of = services(conn)
    conn.execute("ALTER TABLE spans RENAME TO spans_v1")
    for index in ("spans_trace", "spans_start", "spans_model"):
        conn.execute(f"DROP INDEX IF EXISTS {index}")
    for statement in CREATE_SPANS_V2 + _span_rollups.CREATE + _metric_rollups.CREATE:
        conn.execute(statement)
    rows = conn.execute(
        "SELECT trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status_code, status_message, model,"
        " operation, attributes, events, links, scope_name, scope_version, resource_id FROM spans_v1 ORDER BY id"
    )
    shape_cache = shapes_of(ResourceCache())
    while True:
        chunk = rows.fetchmany(_BATCH)
        if not chunk:
            break
        out, shapes = [], {}
        rollups = _span_rollups.SpanRollups()
        for (tid, sid, parent, name, kind, start, end, status, message, model, operation, attrs, events, links,
             scope_name, scope_version, rid) in chunk:  # fmt: skip
            attributes = json.loads(attrs) if attrs else {}
            keys, implied, values, stored_name = compact(attributes, name, model, operation)
            shape, shape_row, _holds = shape_cache.get(rid, scope_name, scope_version, keys, implied)
            shapes[shape] = shape_row
            duration = max(0, end - start)
            out.append((
                bytes.fromhex(tid), bytes.fromhex(sid), None if parent is None else bytes.fromhex(parent),
                1 if parent is None else 0, stored_name, _KIND_NUMBER.get(kind, 0), start, duration,
                None if status == "UNSET" else status, message, model, operation, shape, values, events, links,
            ))  # fmt: skip
            if model is not None or operation is not None:
                rollups.count(service_of.get(rid, ""), model, operation, attributes, status == "ERROR", start, duration)
        cursor = conn.cursor()  # the read cursor stays open on spans_v1
        cursor.executemany(SHAPE_INSERT, list(shapes.values()))
        cursor.executemany(SPAN_INSERT, out)
        main, errors, _models = rollups.rows()  # span_model_rollups: schema 3, built from span_rollups
        cursor.executemany(_span_rollups.UPSERT, main)
        cursor.executemany(_span_rollups.UPSERT_ERRORS, errors)
    conn.execute("DROP TABLE spans_v1")
    logs = conn.execute("SELECT id, trace_id, span_id FROM logs WHERE trace_id IS NOT NULL OR span_id IS NOT NULL")
    updates = [
        (None if t is None else bytes.fromhex(t), None if s is None else bytes.fromhex(s), i) for i, t, s in logs
    ]
    conn.executemany("UPDATE logs SET trace_id = ?, span_id = ? WHERE id = ?", updates)
    state = _metric_rollups.MetricState()
    points = conn.execute(
        "SELECT name, unit, kind, temporality, monotonic, start_ns, time_ns, attributes, value, histogram,"
        " scope_name, resource_id FROM metric_points ORDER BY time_ns, id"
    )
    while True:
        chunk = points.fetchmany(_BATCH)
        if not chunk:
            break
        series, rollup_rows = _metric_rollups.rollup_rows(chunk, state, lambda rid: service_of.get(rid, ""), None)
        state.commit()
        cursor = conn.cursor()
        cursor.executemany(_metric_rollups.SERIES_INSERT, series)
        cursor.executemany(_metric_rollups.UPSERT, rollup_rows)
