"""One exported batch -> one write transaction: raw rows, resources, shapes and rollups together."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from infertel_exporters.sqlite import _metric_marks, _metric_rollups, _model_rollups, _span_rollups, _tiers
from infertel_exporters.sqlite._encode import LOG_INSERT, METRIC_INSERT, RESOURCE_UPSERT, ResourceCache
from infertel_exporters.sqlite._encode import log_rows as _log_rows
from infertel_exporters.sqlite._encode import metric_rows as _metric_rows
from infertel_exporters.sqlite._span_encode import SHAPE_INSERT, SPAN_INSERT
from infertel_exporters.sqlite._span_encode import span_rows as _span_rows

if TYPE_CHECKING:
    from infertel_exporters.sqlite._store import SQLiteStore


class Batch:
    """Rows to insert in one transaction; ``committed`` runs after the commit (``rolled_back`` after a failure)."""

    def __init__(self, rows: int, statements: list[tuple[str, Sequence[Any]]]) -> None:
        self.rows = rows
        self.statements = statements

    def write(self, conn: sqlite3.Connection) -> None:
        """Execute every statement (inside the caller's transaction)."""
        for statement, rows in self.statements:
            if rows:
                conn.executemany(statement, rows)

    def committed(self) -> None:
        """Called once the transaction is committed."""

    def rolled_back(self) -> None:
        """Called when the transaction failed."""


class _SpanBatch(Batch):
    def __init__(self, rows: int, statements: list[tuple[str, Sequence[Any]]],
                 rollups: _span_rollups.SpanRollups | None) -> None:  # fmt: skip
        super().__init__(rows, statements)
        self._rollups = rollups

    def write(self, conn: sqlite3.Connection) -> None:
        super().write(conn)
        if self._rollups:
            done = _tiers.marks(conn, "span")
            main, errors, models = self._rollups.rows(done)
            conn.executemany(_span_rollups.UPSERT, main)
            if models:
                conn.executemany(_model_rollups.UPSERT, models)
            if errors:
                conn.executemany(_span_rollups.UPSERT_ERRORS, errors)
            _tiers.advance(conn, "span", _tiers.open_targets(self._rollups.newest()), done)


def span_batch(spans: Sequence[Any], cache: ResourceCache, store: SQLiteStore) -> Batch:
    """Spans, their resources and shapes, and (when the store keeps them) the span rollups.

    The rollups are the 10 s ones (and the coarser ones of buckets already closed); the coarser
    buckets this batch closes are then summed from them (``_tiers``), in the same transaction.
    """
    rollups = _span_rollups.SpanRollups() if store.rollups else None
    rows, resources, shapes = _span_rows(spans, cache, rollups)
    statements: list[tuple[str, Sequence[Any]]] = [(RESOURCE_UPSERT, resources), (SHAPE_INSERT, shapes),
                                                    (SPAN_INSERT, rows)]  # fmt: skip
    return _SpanBatch(len(rows), statements, rollups)


class _MarkedMetricBatch(Batch):
    """Raw points with their marks (``_metric_marks``): the metric rollups of schema 5."""

    def __init__(self, data: Any, cache: ResourceCache, store: SQLiteStore) -> None:
        marks = store._metric_marks
        self._data, self._cache, self._marks = data, cache, marks
        self._version = marks.version
        try:
            self._encoded: Any = _metric_marks.marked_rows(data, cache, marks, None)
            rows = len(self._encoded[0]) + len(self._encoded[1])
        except _metric_marks.Unknown:  # a series' last point is in the store: read in the transaction
            self._encoded = None
            rows = sum(len(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics
                       for m in sm.metrics)  # fmt: skip
        super().__init__(rows, [])

    def write(self, conn: sqlite3.Connection) -> None:
        marks = self._marks
        if self._encoded is None or self._version != marks.version:  # another batch committed in between
            self._encoded = _metric_marks.marked_rows(self._data, self._cache, marks, conn)
            self._version = marks.version
        plain, marked, resources, _pending, _series, new_series = self._encoded
        if resources:
            conn.executemany(RESOURCE_UPSERT, resources)
        if plain:
            conn.executemany(METRIC_INSERT, plain)
        if marked:
            conn.executemany(_metric_marks.INSERT, marked)
        if new_series:
            conn.executemany(_metric_rollups.SERIES_INSERT, new_series)

    def committed(self) -> None:
        pending, series, new_series = self._encoded[3:]
        self._marks.commit(pending, series, new_series)


def metric_batch(data: Any, cache: ResourceCache, store: SQLiteStore) -> Batch:
    """Metric points and (when the store keeps rollups) their marks and new series."""
    if store.rollups:
        return _MarkedMetricBatch(data, cache, store)
    rows, resources = _metric_rows(data, cache)
    return Batch(len(rows), [(RESOURCE_UPSERT, resources), (METRIC_INSERT, rows)])


def log_batch(records: Sequence[Any], cache: ResourceCache, store: SQLiteStore) -> Batch:
    """Log records and their resources."""
    rows, resources = _log_rows(records, cache)
    return Batch(len(rows), [(RESOURCE_UPSERT, resources), (LOG_INSERT, rows)])
