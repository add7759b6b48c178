"""The read side of the store: result types and the SQL behind ``SQLiteStore``'s read API."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_INT64_MAX = 2**63 - 1


def _attributes(text: str | None) -> dict[str, Any]:
    """Attributes as OTel holds them: JSON arrays back to tuples."""
    return _tuples(json.loads(text)) if text else {}


def _tuples(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in attributes.items()}


@dataclass(frozen=True)
class StoredEvent:
    """A span event as stored."""

    name: str
    timestamp_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredLink:
    """A span link as stored."""

    trace_id: str
    span_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredSpan:
    """A span read back from the store (ids as lower-case hex, times in ns since the epoch)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_time_ns: int
    end_time_ns: int
    status_code: str
    status_message: str | None
    attributes: dict[str, Any]
    events: list[StoredEvent]
    links: list[StoredLink]
    resource: dict[str, Any]
    scope_name: str | None
    scope_version: str | None
    model: str | None
    operation: str | None

    @property
    def duration_s(self) -> float:
        """``end - start`` in seconds."""
        return (self.end_time_ns - self.start_time_ns) / 1e9


@dataclass(frozen=True)
class TraceSummary:
    """One trace in ``recent_traces``: its root (or earliest) span and totals."""

    trace_id: str
    root_name: str
    start_time_ns: int
    end_time_ns: int
    span_count: int
    error_count: int
    models: tuple[str, ...]
    service_name: str | None
    service: str | None = None
    """The root span's ``service.name`` (the same as ``service_name``)."""
    root_span_id: str | None = None
    status: str = "ok"
    """``"error"`` when a span of the trace has status ERROR, else ``"ok"``."""

    @property
    def duration_s(self) -> float:
        """Trace duration in seconds (earliest start to latest end)."""
        return (self.end_time_ns - self.start_time_ns) / 1e9


@dataclass(frozen=True)
class MetricPoint:
    """One metric data point. ``value`` for sums and gauges, ``histogram`` for histograms.

    ``histogram`` holds ``bounds``, ``counts``, ``sum``, ``count``, ``min``, ``max`` (explicit
    buckets) or ``scale``, ``zero_count``, ``positive``, ``negative`` ... (exponential).
    """

    name: str
    unit: str | None
    kind: str
    temporality: str | None
    monotonic: bool | None
    start_time_ns: int | None
    time_ns: int
    attributes: dict[str, Any]
    value: int | float | None
    histogram: dict[str, Any] | None
    resource: dict[str, Any]


@dataclass(frozen=True)
class StoredLog:
    """A log record read back from the store."""

    time_ns: int
    observed_time_ns: int | None
    severity_number: int | None
    severity_text: str | None
    body: Any
    attributes: dict[str, Any]
    event_name: str | None
    trace_id: str | None
    span_id: str | None
    trace_flags: int | None
    resource: dict[str, Any]
    service: str | None = None
    """The resource's ``service.name``."""


def hex_id(value: bytes | None) -> str | None:
    """A stored BLOB id as lower-case hex."""
    return None if value is None else value.hex()


def blob_id(value: str | int, width: int) -> bytes:
    """A hex (or int) id as the stored BLOB of ``width`` bytes.

    Raises:
        ValueError: ``value`` is not a hex id of at most that width.
    """
    if isinstance(value, int):
        return value.to_bytes(width, "big")
    text = value.strip().lower()
    if len(text) > 2 * width:
        raise ValueError(f"not a {width * 8}-bit hex id: {value!r}")
    return int(text, 16).to_bytes(width, "big")


KINDS = ("INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")


Shape = tuple[int | None, str | None, str | None, list[str], dict[str, str]]
"""(resource id, scope name, scope version, keys, implied key -> "model" | "operation")."""


class Shapes:
    """``span_shapes`` rows by id; a shape never changes once written (ids are content hashes)."""

    def __init__(self) -> None:
        self._by_id: dict[int | None, Shape] = {None: (None, None, None, [], {})}

    def get(self, conn: sqlite3.Connection, sid: int | None) -> Shape:
        entry = self._by_id.get(sid)
        if entry is None:
            row = conn.execute(
                "SELECT resource_id, scope_name, scope_version, keys, implied FROM span_shapes WHERE id = ?", (sid,)
            ).fetchone()
            entry = (
                (row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4])) if row else (None, None, None, [], {})
            )
            if len(self._by_id) > 10_000:
                self._by_id.clear()
            self._by_id[sid] = entry
        return entry


def span_attributes(shape: Shape, values: str, model: str | None, operation: str | None) -> dict[str, Any]:
    """A span's attributes from its shape and stored values (implied ones from the columns; arrays as tuples)."""
    keys, implied = shape[3], shape[4]
    if not keys:
        return {}
    stored = iter(json.loads(values))
    out: dict[str, Any] = {}
    for key in keys:
        source = implied.get(key)
        if source is None:
            value = next(stored, None)
            out[key] = tuple(value) if isinstance(value, list) else value
        else:
            out[key] = model if source == "model" else operation
    return out


def span_name(name: str | None, model: str | None, operation: str | None) -> str:
    """The stored name, or ``"<operation> <model>"`` when it was stored as NULL (implied)."""
    return name if name is not None else f"{operation} {model}"


class _Resources:
    """Resource JSON by id, decoded once per query."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._cache: dict[int | None, dict[str, Any]] = {None: {}}

    def get(self, rid: int | None) -> dict[str, Any]:
        if rid not in self._cache:
            row = self._conn.execute("SELECT attributes FROM resources WHERE id = ?", (rid,)).fetchone()
            self._cache[rid] = _attributes(row[0]) if row else {}
        return self._cache[rid]

    def service(self, rid: int | None) -> str | None:
        name = self.get(rid).get("service.name")
        return None if name is None else str(name)


SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, name, kind, start_ns, duration_ns, status_code, status_message,"
    " attributes, events, links, shape_id, model, operation"
)
_SHAPES = Shapes()


def span(conn: sqlite3.Connection, row: tuple[Any, ...], resources: _Resources) -> StoredSpan:
    """A ``StoredSpan`` from a row of ``SPAN_COLUMNS``."""
    shape = _SHAPES.get(conn, row[12])
    events = (
        []
        if row[10] is None
        else [StoredEvent(e["name"], e["time_ns"], _tuples(e["attributes"])) for e in json.loads(row[10])]
    )
    links = (
        []
        if row[11] is None
        else [StoredLink(x["trace_id"], x["span_id"], _tuples(x["attributes"])) for x in json.loads(row[11])]
    )
    return StoredSpan(
        trace_id=row[0].hex(), span_id=row[1].hex(), parent_span_id=hex_id(row[2]),
        name=span_name(row[3], row[13], row[14]), kind=KINDS[row[4]], start_time_ns=row[5],
        end_time_ns=row[5] + row[6], status_code=row[7] or "UNSET", status_message=row[8],
        attributes=span_attributes(shape, row[9], row[13], row[14]), events=events, links=links,
        resource=resources.get(shape[0]), scope_name=shape[1], scope_version=shape[2], model=row[13],
        operation=row[14],
    )  # fmt: skip


def trace(conn: sqlite3.Connection, trace_id: bytes) -> list[StoredSpan]:
    """Spans of one trace by start time."""
    resources = _Resources(conn)
    rows = conn.execute(f"SELECT {SPAN_COLUMNS} FROM spans WHERE trace_id = ? ORDER BY start_ns, id", (trace_id,))
    return [span(conn, row, resources) for row in rows.fetchall()]


def spans(
    conn: sqlite3.Connection,
    start_ns: int | None,
    end_ns: int | None,
    name: str | None,
    model: str | None,
    limit: int | None,
) -> list[StoredSpan]:
    """Spans starting in ``[start_ns, end_ns)``."""
    sql = f"SELECT {SPAN_COLUMNS} FROM spans WHERE start_ns >= ? AND start_ns < ?"
    params: list[Any] = [start_ns or 0, _INT64_MAX if end_ns is None else end_ns]
    if name is not None:
        sql += " AND name = ?"
        params.append(name)
    if model is not None:
        sql += " AND model = ?"
        params.append(model)
    sql += " ORDER BY start_ns, id LIMIT ?"
    params.append(-1 if limit is None else limit)
    resources = _Resources(conn)
    return [span(conn, row, resources) for row in conn.execute(sql, params).fetchall()]


def _matches(attributes: dict[str, Any], wanted: Mapping[str, Any]) -> bool:
    for key, value in wanted.items():
        have = attributes.get(key)
        if isinstance(value, list):
            value = tuple(value)
        if have != value:
            return False
    return True


def metric_series(
    conn: sqlite3.Connection,
    name: str,
    start_ns: int | None,
    end_ns: int | None,
    attributes: Mapping[str, Any] | None,
    limit: int | None,
) -> list[MetricPoint]:
    """Points of one metric by time, filtered on attributes in Python (exact, NaN-safe)."""
    rows = conn.execute(
        "SELECT name, unit, kind, temporality, monotonic, start_ns, time_ns, attributes, value, histogram,"
        " resource_id FROM metric_points WHERE name = ? AND mark IN (0,1,2,3,4,5,6,7) AND time_ns >= ? AND time_ns < ?"
        " ORDER BY time_ns, id",  # the (name, mark, time_ns) index: one range per mark
        (name, start_ns or 0, _INT64_MAX if end_ns is None else end_ns),
    )
    resources = _Resources(conn)
    points: list[MetricPoint] = []
    for row in rows:
        attrs = _attributes(row[7])
        if attributes and not _matches(attrs, attributes):
            continue
        points.append(
            MetricPoint(
                name=row[0], unit=row[1], kind=row[2], temporality=row[3],
                monotonic=None if row[4] is None else bool(row[4]), start_time_ns=row[5], time_ns=row[6],
                attributes=attrs, value=row[8], histogram=json.loads(row[9]) if row[9] else None,
                resource=resources.get(row[10]),
            )
        )  # fmt: skip
        if limit is not None and len(points) >= limit:
            break
    return points


def metric_names(conn: sqlite3.Connection) -> list[str]:
    """Distinct metric names (uses the (name, time) index)."""
    return [row[0] for row in conn.execute("SELECT DISTINCT name FROM metric_points ORDER BY name")]


def logs(
    conn: sqlite3.Connection, start_ns: int | None, end_ns: int | None, trace_id: str | None, limit: int | None
) -> list[StoredLog]:
    """Log records by time, optionally of one trace."""
    sql = (
        "SELECT time_ns, observed_ns, severity_number, severity_text, body, attributes, event_name, trace_id,"
        " span_id, trace_flags, resource_id FROM logs WHERE time_ns >= ? AND time_ns < ?"
    )
    params: list[Any] = [start_ns or 0, _INT64_MAX if end_ns is None else end_ns]
    if trace_id is not None:
        sql += " AND trace_id = ?"
        params.append(blob_id(trace_id, 16))
    sql += " ORDER BY time_ns, id LIMIT ?"
    params.append(-1 if limit is None else limit)
    resources = _Resources(conn)
    return [log(r, resources) for r in conn.execute(sql, params).fetchall()]


LOG_COLUMNS = (
    "time_ns, observed_ns, severity_number, severity_text, body, attributes, event_name, trace_id, span_id,"
    " trace_flags, resource_id"
)


def log(r: tuple[Any, ...], resources: _Resources) -> StoredLog:
    """A ``StoredLog`` from a row of ``LOG_COLUMNS``."""
    return StoredLog(
        time_ns=r[0],
        observed_time_ns=r[1],
        severity_number=r[2],
        severity_text=r[3],
        body=None if r[4] is None else json.loads(r[4]),
        attributes=_attributes(r[5]),
        event_name=r[6],
        trace_id=hex_id(r[7]),
        span_id=hex_id(r[8]),
        trace_flags=r[9],
        resource=resources.get(r[10]),
        service=resources.service(r[10]),
    )


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per table."""
    return {
        t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("spans", "metric_points", "logs", "resources")
    }  # noqa: E501
