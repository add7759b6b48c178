"""Search: traces and logs newest first under a limit, with filters and cursor pagination.

Work per call is bounded: the newest-first walk reads index windows that grow from a few times
``limit`` up to ``MAX_SCAN`` rows; a page may hold fewer than ``limit`` items while
``next_cursor`` is not ``None`` (the walk stopped there; pass the cursor to go on).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infertel_exporters.sqlite._queries import (
    _SHAPES,
    LOG_COLUMNS,
    StoredLog,
    TraceSummary,
    _Resources,
    blob_id,
    log,
    span_attributes,
    span_name,
)

MAX_SCAN = 50_000
"""Most index entries one search call walks."""
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class TracePage:
    """One page of :meth:`SQLiteStore.search_traces`: traces newest first, and where the next (older) page starts."""

    traces: list[TraceSummary]
    next_cursor: str | None


@dataclass(frozen=True)
class LogPage:
    """One page of :meth:`SQLiteStore.search_logs`: log records newest first, and the next page's cursor."""

    logs: list[StoredLog]
    next_cursor: str | None


def _cursor(text: str | None) -> tuple[int, int]:
    if text is None:
        return _INT64_MAX, _INT64_MAX
    try:
        time_part, id_part = text.split(".", 1)
        return int(time_part, 16), int(id_part, 16)
    except ValueError:
        raise ValueError(f"cursor must be a next_cursor returned by a previous page, got {text!r}") from None


def _make_cursor(time_ns: int, row_id: int) -> str:
    return f"{time_ns:x}.{row_id:x}"


def _resource_ids(conn: sqlite3.Connection, resources: _Resources, service: str) -> list[int]:
    return [rid for (rid,) in conn.execute("SELECT id FROM resources") if resources.service(rid) == service]


def _walk(conn: sqlite3.Connection, table: str, time_col: str, columns: str, where: str, params: Sequence[Any],
          window_where: str, start: tuple[int, int], lo: int, limit: int) -> Any:  # fmt: skip
    """Yield ``(rows, last_key, exhausted)`` windows of ``table`` newest first, each filtered by ``where``.

    Keys are ``(time, id)`` compared as SQL row values, which SQLite turns into a range of the time
    index read backwards (no sort): an ``a < ? OR (a = ? AND id < ?)`` form made it read every index
    entry above the range (data ahead of ``end_ns``, or every newer page) and sort the lot.
    """
    key = start
    window = max(64, limit * 4)
    scanned = 0
    while scanned < MAX_SCAN:
        ids = conn.execute(
            f"SELECT id, {time_col} FROM {table} WHERE ({time_col}, id) < (?, ?) AND {time_col} >= ?{window_where}"
            f" ORDER BY {time_col} DESC, id DESC LIMIT ?",
            (key[0], key[1], lo, window),
        ).fetchall()
        if not ids:
            yield [], key, True
            return
        scanned += len(ids)
        last = (ids[-1][1], ids[-1][0])
        rows = conn.execute(
            f"SELECT id, {time_col}, {columns} FROM {table} WHERE ({time_col}, id) < (?, ?)"
            f" AND ({time_col}, id) >= (?, ?){window_where}{where} ORDER BY {time_col} DESC, id DESC",
            (key[0], key[1], last[0], last[1], *params),
        ).fetchall()
        exhausted = len(ids) < window
        yield rows, last, exhausted
        if exhausted:
            return
        key = last
        window = min(window * 4, 16_384)


def search_traces(conn: sqlite3.Connection, *, start_ns: int | None, end_ns: int | None, service: str | None,
                  model: str | None, status: str | None, min_duration_s: float | None,
                  attribute: tuple[str, str] | None, limit: int, cursor: str | None) -> TracePage:  # fmt: skip
    """Traces whose newest matching span is in the range, newest first (see ``SQLiteStore.search_traces``)."""
    if status not in (None, "ok", "error"):
        raise ValueError(f"status must be 'ok', 'error' or None, got {status!r}")
    if limit <= 0:
        return TracePage([], None)
    resources = _Resources(conn)
    clauses: list[str] = []
    params: list[Any] = []
    span_level = any(x is not None for x in (service, model, min_duration_s, attribute)) or status == "error"
    service_ids: set[int] | None = None
    if service is not None:
        rids = _resource_ids(conn, resources, service)
        marks = ",".join("?" * len(rids))
        service_ids = {
            sid for (sid,) in conn.execute(f"SELECT id FROM span_shapes WHERE resource_id IN ({marks})", rids)
        }
        if not service_ids:
            return TracePage([], None)
        clauses.append(f"shape_id IN ({','.join('?' * len(service_ids))})")
        params.extend(service_ids)
    if model is not None:
        clauses.append("model = ?")
        params.append(model)
    min_ns = None if min_duration_s is None else int(min_duration_s * 1e9)
    if min_ns is not None:
        clauses.append("duration_ns >= ?")
        params.append(min_ns)
    if attribute is not None:  # a GenAI model / operation attribute is implied by its column, not in the values
        clauses.append("(instr(attributes, ?) > 0 OR model = ? OR operation = ?)")
        params.extend([str(attribute[1])] * 3)
    if not span_level:
        clauses.append("root = 1")
    where = "".join(f" AND {c}" for c in clauses)
    window_where = " AND status_code = 'ERROR'" if status == "error" else ""
    hi = _INT64_MAX if end_ns is None else end_ns
    position = min(_cursor(cursor), (hi, -1) if end_ns is not None else (_INT64_MAX, _INT64_MAX))
    lo = 0 if start_ns is None else start_ns

    def matches(row: dict[str, Any]) -> bool:
        if not (lo <= row["start_ns"] < hi):
            return False
        if not span_level:
            return bool(row["root"])
        if status == "error" and row["status_code"] != "ERROR":
            return False
        if service_ids is not None and row["shape_id"] not in service_ids:
            return False
        if model is not None and row["model"] != model:
            return False
        if min_ns is not None and row["duration_ns"] < min_ns:
            return False
        if attribute is not None:
            shape = _SHAPES.get(conn, row["shape_id"])
            value = span_attributes(shape, row["attributes"], row["model"], row["operation"]).get(attribute[0])
            if value is None or str(value) != str(attribute[1]):
                return False
        return True

    found: list[TraceSummary] = []
    seen: set[bytes] = set()
    next_cursor: str | None = None
    for rows, last, exhausted in _walk(
        conn, "spans", "start_ns", "trace_id", where, params, window_where, position, lo, limit
    ):
        for row in rows:
            tid = row[2]
            if tid in seen:
                continue
            summary = _summary(conn, tid, (row[1], row[0]), matches, resources, status)
            if summary is None:
                continue
            seen.add(tid)
            found.append(summary)
            if len(found) >= limit:
                return TracePage(found, _make_cursor(row[1], row[0]))
        next_cursor = None if exhausted else _make_cursor(*last)
    return TracePage(found, next_cursor)


_TRACE_COLUMNS = (
    "id, start_ns, duration_ns, root, parent_span_id, span_id, name, status_code, model, operation, shape_id,"
    " attributes"
)
_NAMES = ("id", "start_ns", "duration_ns", "root", "parent_span_id", "span_id", "name", "status_code", "model",
          "operation", "shape_id", "attributes")  # fmt: skip


def _summary(conn: sqlite3.Connection, trace_id: bytes, key: tuple[int, int], matches: Any, resources: _Resources,
             status: str | None) -> TraceSummary | None:  # fmt: skip
    """The trace's summary when ``key`` is its newest matching span (so a trace appears once across pages)."""
    rows = [dict(zip(_NAMES, r, strict=True)) for r in conn.execute(
        f"SELECT {_TRACE_COLUMNS} FROM spans WHERE trace_id = ? ORDER BY start_ns, id", (trace_id,))]  # fmt: skip
    newest = max(((r["start_ns"], r["id"]) for r in rows if matches(r)), default=None)
    if newest != key:
        return None
    errors = sum(1 for r in rows if r["status_code"] == "ERROR")
    if status == "ok" and errors:
        return None
    roots = [r for r in rows if r["root"]] or rows
    root = roots[0]
    service = resources.service(_SHAPES.get(conn, root["shape_id"])[0])
    return TraceSummary(
        trace_id=trace_id.hex(),
        root_name=span_name(root["name"], root["model"], root["operation"]),
        start_time_ns=min(r["start_ns"] for r in rows),
        end_time_ns=max(r["start_ns"] + r["duration_ns"] for r in rows),
        span_count=len(rows),
        error_count=errors,
        models=tuple(sorted({r["model"] for r in rows if r["model"] is not None})),
        service_name=service,
        service=service,
        root_span_id=root["span_id"].hex(),
        status="error" if errors else "ok",
    )


def search_logs(conn: sqlite3.Connection, *, start_ns: int | None, end_ns: int | None, min_severity: int | None,
                service: str | None, text: str | None, trace_id: str | None, limit: int,
                cursor: str | None) -> LogPage:  # fmt: skip
    """Log records newest first (see ``SQLiteStore.search_logs``)."""
    if limit <= 0:
        return LogPage([], None)
    resources = _Resources(conn)
    clauses: list[str] = []
    params: list[Any] = []
    if min_severity is not None:
        clauses.append("severity_number >= ?")
        params.append(int(min_severity))
    if service is not None:
        ids = _resource_ids(conn, resources, service)
        if not ids:
            return LogPage([], None)
        clauses.append(f"resource_id IN ({','.join('?' * len(ids))})")
        params.extend(ids)
    if text:
        clauses.append("(instr(lower(body), lower(?)) > 0 OR instr(lower(attributes), lower(?)) > 0)")
        params.extend((text, text))
    hi = _INT64_MAX if end_ns is None else end_ns
    position = min(_cursor(cursor), (hi, -1) if end_ns is not None else (_INT64_MAX, _INT64_MAX))
    lo = 0 if start_ns is None else start_ns
    if trace_id is not None:  # few rows: straight from the trace index
        sql = f"SELECT id, {LOG_COLUMNS} FROM logs WHERE trace_id = ? AND time_ns >= ? AND (time_ns < ? OR"
        sql += " (time_ns = ? AND id < ?))" + "".join(f" AND {c}" for c in clauses)
        sql += " ORDER BY time_ns DESC, id DESC LIMIT ?"
        rows = conn.execute(sql, (blob_id(trace_id, 16), lo, *position, position[0], *params, limit + 1)).fetchall()
        page = [log(r[1:], resources) for r in rows[:limit]]
        more = len(rows) > limit
        return LogPage(page, _make_cursor(rows[limit - 1][1], rows[limit - 1][0]) if more else None)
    where = "".join(f" AND {c}" for c in clauses)
    found: list[StoredLog] = []
    next_cursor: str | None = None
    for rows, last, exhausted in _walk(conn, "logs", "time_ns", LOG_COLUMNS, where, params, "", position, lo, limit):
        for row in rows:
            found.append(log(row[2:], resources))
            if len(found) >= limit:
                return LogPage(found, _make_cursor(row[1], row[0]))
        next_cursor = None if exhausted else _make_cursor(*last)
    return LogPage(found, next_cursor)
