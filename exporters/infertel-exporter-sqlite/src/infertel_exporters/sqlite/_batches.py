"""One exported batch -> one write transaction: raw rows, resources, shapes and rollups together."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from infertel_exporters.sqlite import _metric_rollups, _model_rollups, _span_rollups, _tiers
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


class _MetricBatch(Batch):
    def __init__(self, rows: list[tuple[Any, ...]], resources: list[Any], cache: ResourceCache, store: SQLiteStore,
                 histograms: dict[int, Any]) -> None:  # fmt: skip
        super().__init__(len(rows), [(RESOURCE_UPSERT, resources), (METRIC_INSERT, rows)])
        self._raw = rows
        self._histograms = histograms
        self._cache = cache
        self._store = store

    def write(self, conn: sqlite3.Connection) -> None:
        super().write(conn)
        if self._store.rollups:
            state = self._store._metric_state
            state.rollback()  # a retried transaction starts from the committed state
            done = _tiers.marks(conn, "metric")
            series, rollups = _metric_rollups.rollup_rows(
                self._raw, state, self._cache.service_by_id, conn, self._histograms, done
            )
            if series:
                conn.executemany(_metric_rollups.SERIES_INSERT, series)
            if rollups:
                conn.executemany(_metric_rollups.UPSERT, rollups)
                _tiers.advance(conn, "metric", _tiers.open_targets(max(row[6] for row in self._raw)), done)

    def committed(self) -> None:
        self._store._metric_state.commit()

    def rolled_back(self) -> None:
        self._store._metric_state.rollback()


def metric_batch(data: Any, cache: ResourceCache, store: SQLiteStore) -> Batch:
    """Metric points and (when the store keeps them) their rollups, with per-series deltas."""
    histograms: dict[int, Any] = {}
    rows, resources = _metric_rows(data, cache, histograms if store.rollups else None)
    return _MetricBatch(rows, resources, cache, store, histograms)


def log_batch(records: Sequence[Any], cache: ResourceCache, store: SQLiteStore) -> Batch:
    """Log records and their resources."""
    rows, resources = _log_rows(records, cache)
    return Batch(len(rows), [(RESOURCE_UPSERT, resources), (LOG_INSERT, rows)])
