"""Filters of the traces and logs pages, the trace waterfall, and the live statistics: shared by pages and API."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from markupsafe import Markup

from infertel.dashboard import _svg
from infertel.dashboard._context import TimeRange, time_range
from infertel.dashboard._format import SEVERITIES, duration

MAX_LIMIT = 500
"""Largest page size the traces and logs queries accept."""

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def _bad(name: str, expected: str, got: object) -> HTTPException:
    return HTTPException(422, f"{name}: expected {expected}, got {got!r}")


def _limit(query: Mapping[str, str], default: int) -> int:
    raw = query.get("limit") or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise _bad("limit", f"an integer from 1 to {MAX_LIMIT}", raw) from None
    if not 1 <= value <= MAX_LIMIT:
        raise _bad("limit", f"an integer from 1 to {MAX_LIMIT}", raw)
    return value


def check_trace_id(trace_id: str) -> str:
    """``trace_id`` in lower case, or a 422 naming the expected form.

    Example:
        >>> check_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736")
        '4bf92f3577b34da6a3ce929d0e0e4736'
    """
    value = trace_id.strip().lower()
    if not _TRACE_ID.match(value):
        raise _bad("trace_id", "32 hexadecimal digits", trace_id)
    return value


@dataclass(frozen=True)
class TraceFilters:
    """The traces page's and ``api/traces``' filters, validated."""

    range: TimeRange
    service: str | None
    model: str | None
    status: str | None
    min_duration_s: float | None
    attribute: tuple[str, str] | None
    limit: int
    cursor: str | None

    def search(self, store: Any) -> Any:
        """``store.search_traces`` with these filters."""
        return store.search_traces(
            start_ns=self.range.start_ns, end_ns=self.range.end_ns, service=self.service, model=self.model,
            status=self.status, min_duration_s=self.min_duration_s, attribute=self.attribute, limit=self.limit,
            cursor=self.cursor,
        )  # fmt: skip


def trace_filters(query: Mapping[str, str]) -> TraceFilters:
    """Validate the query parameters of the traces page / API (422 naming the parameter when one is bad).

    Example:
        >>> trace_filters({"status": "error", "min_duration": "0.5"}).min_duration_s
        0.5
    """
    status = query.get("status") or None
    if status not in (None, "ok", "error"):
        raise _bad("status", "ok or error", status)
    raw = query.get("min_duration") or query.get("min_duration_s") or None
    min_duration = None
    if raw is not None:
        try:
            min_duration = float(raw)
        except ValueError:
            raise _bad("min_duration", "a number of seconds >= 0", raw) from None
        if not (math.isfinite(min_duration) and min_duration >= 0):
            raise _bad("min_duration", "a number of seconds >= 0", raw)
    attribute = None
    text = (query.get("attribute") or "").strip()
    if text:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise _bad("attribute", "key=value", text)
        attribute = (key.strip(), value.strip())
    return TraceFilters(
        range=time_range(query.get("range")), service=query.get("service") or None, model=query.get("model") or None,
        status=status, min_duration_s=min_duration, attribute=attribute, limit=_limit(query, 50),
        cursor=query.get("cursor") or None,
    )  # fmt: skip


@dataclass(frozen=True)
class LogFilters:
    """The logs page's and ``api/logs``' filters, validated."""

    range: TimeRange
    level: str | None
    service: str | None
    text: str | None
    trace_id: str | None
    limit: int
    cursor: str | None

    def search(self, store: Any) -> Any:
        """``store.search_logs`` with these filters."""
        return store.search_logs(
            start_ns=self.range.start_ns, end_ns=self.range.end_ns,
            min_severity=None if self.level is None else SEVERITIES[self.level], service=self.service,
            text=self.text, trace_id=self.trace_id, limit=self.limit, cursor=self.cursor,
        )  # fmt: skip


def log_filters(query: Mapping[str, str]) -> LogFilters:
    """Validate the query parameters of the logs page / API.

    Example:
        >>> log_filters({"level": "warn"}).level
        'warn'
    """
    level = (query.get("level") or "").lower() or None
    if level is not None and level not in SEVERITIES:
        raise _bad("level", " | ".join(SEVERITIES), level)
    trace_id = query.get("trace_id") or None
    return LogFilters(
        range=time_range(query.get("range")), level=level, service=query.get("service") or None,
        text=query.get("text") or None, trace_id=None if trace_id is None else check_trace_id(trace_id),
        limit=_limit(query, 100), cursor=query.get("cursor") or None,
    )  # fmt: skip


@dataclass(frozen=True)
class SpanRow:
    """One line of the waterfall: the span, its depth in the tree, its offset and its bar."""

    span: Any
    depth: int
    offset_s: float
    bar: Markup


def waterfall(spans: Sequence[Any]) -> tuple[list[SpanRow], int, int]:
    """The spans in tree order (each parent before its children, siblings by start), with bars.

    Spans whose parent is not in the trace are roots. Returns ``(rows, origin_ns, total_ns)``.

    Example:
        >>> waterfall([])
        ([], 0, 0)
    """
    if not spans:
        return [], 0, 0
    origin = min(s.start_time_ns for s in spans)
    total = max(1, max(s.end_time_ns for s in spans) - origin)
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Any]] = {}
    for s in spans:
        parent = s.parent_span_id if s.parent_span_id in ids else None
        children.setdefault(parent, []).append(s)
    for group in children.values():
        group.sort(key=lambda s: (s.start_time_ns, s.span_id))
    rows: list[SpanRow] = []
    seen: set[str] = set()
    stack: list[tuple[Any, int]] = [(s, 0) for s in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        bar = _svg.bar(
            span.start_time_ns, span.end_time_ns, origin_ns=origin, total_ns=total, error=span.status_code == "ERROR"
        )
        rows.append(SpanRow(span, depth, (span.start_time_ns - origin) / 1e9, bar))
        stack.extend((c, depth + 1) for c in reversed(children.get(span.span_id, [])))
    for s in spans:  # a cycle of parent ids leaves spans unreached: show them flat at the end
        if s.span_id not in seen:
            seen.add(s.span_id)
            bar = _svg.bar(s.start_time_ns, s.end_time_ns, origin_ns=origin, total_ns=total, error=False)
            rows.append(SpanRow(s, 0, (s.start_time_ns - origin) / 1e9, bar))
    return rows, origin, total


def axis_ticks(total_ns: int) -> list[str]:
    """Five labels 0, 1/4 .. 1 of the trace's duration for the waterfall's header.

    Example:
        >>> axis_ticks(4_000_000)
        ['0', '1 ms', '2 ms', '3 ms', '4 ms']
    """
    return ["0"] + [duration(total_ns * k / 4 / 1e9) for k in (1, 2, 3, 4)]


def live_windows() -> list[tuple[float, list[Any]]]:
    """``(window_s, [SeriesStats, ...])`` for every window of this process' live statistics.

    Empty when ``configure()`` installed no statistics (the standalone server).

    Example:
        >>> live_windows()  # doctest: +SKIP
        [(60.0, [SeriesStats(model='llama-3-8b', ...)]), (300.0, [...])]
    """
    from infertel._internal.processors import current

    handle = current()
    if handle is None:
        return []
    snapshots = handle.stats.snapshots()
    return [
        (snap.window_s, sorted(snap.values(), key=lambda s: (-s.requests, str(s.model), str(s.operation))))
        for snap in snapshots
    ]
