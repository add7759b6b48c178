"""The OpenTelemetry SDK exporters writing spans, metric points and log records to the store."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from opentelemetry.context import attach, detach, set_value
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.metrics.view import Aggregation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from infertel_exporters.sqlite._batches import Batch, log_batch, metric_batch, span_batch
from infertel_exporters.sqlite._compat import SUPPRESS_INSTRUMENTATION_KEY, LogRecordExporter, LogRecordExportResult
from infertel_exporters.sqlite._encode import ResourceCache
from infertel_exporters.sqlite._paths import default_path
from infertel_exporters.sqlite._retention import Retention
from infertel_exporters.sqlite._store import SQLiteStore, hold_for_fork, reinit_after_fork, release_after_fork

_logger = logging.getLogger(__name__)

_FROM_ENVIRONMENT: Any = object()

_registry_lock = threading.Lock()
_registry: dict[tuple[int, str], list[Any]] = {}  # (pid, path) -> [store, users]
_writers: weakref.WeakSet[_Writer] = weakref.WeakSet()

_DEGRADED_FOR_S = 60.0
"""A writer whose last failure is more recent than this reports ``degraded`` (``failing`` while failing)."""


def _acquire(path: str | os.PathLike[str] | None, retention: Retention | None, timeout_millis: int) -> SQLiteStore:
    if path is None:
        path = default_path()
        path.parent.mkdir(parents=True, exist_ok=True)
    raw = os.fspath(path)
    key = (os.getpid(), raw if raw == ":memory:" else str(Path(raw).expanduser().resolve()))
    with _registry_lock:
        entry = _registry.get(key)
        if entry is None or entry[0]._closed:
            entry = _registry[key] = [SQLiteStore(raw, retention=retention, timeout_millis=timeout_millis), 0]
        entry[1] += 1
        return entry[0]


def _release(store: SQLiteStore) -> None:
    with _registry_lock:
        key = (os.getpid(), store.path)
        entry = _registry.get(key)
        if entry is not None and entry[0] is store:
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _registry[key]
    store.close()


class _Writer:
    """What the three exporters share: the store, the deadline, failure reporting."""

    def __init__(self, what: str, path: str | os.PathLike[str] | None, retention: Any, timeout_millis: int) -> None:
        if timeout_millis <= 0:
            raise ValueError(f"timeout_millis must be a positive number of milliseconds, got {timeout_millis!r}")
        policy = Retention.from_environment() if retention is _FROM_ENVIRONMENT else retention
        self.what = what
        self.timeout_millis = int(timeout_millis)
        self.store = _acquire(path, policy, self.timeout_millis)
        self.store._on_housekeeping_error = self._housekeeping_failed
        self.cache = ResourceCache()
        self.shut_down = False
        self._last_report: dict[type, float] = {}
        self._reset_counts()
        _writers.add(self)

    def _reset_counts(self) -> None:
        """Zero what :attr:`status` reports (at construction, and in a forked child)."""
        self.received = 0
        self.written = 0
        self.dropped = 0
        self.errors = 0
        self.failing = False
        self.last_error: str | None = None
        self.last_error_ns: int | None = None
        self._last_error_at = -1e18
        self._dropped_at_flush = 0

    def _after_fork_in_child(self) -> None:
        self.cache = ResourceCache()  # a forked child's resource differs from its parent's
        self._last_report = {}
        self._reset_counts()

    @property
    def status(self) -> dict[str, Any]:
        """The shape ``infertel.status()`` reads (see :attr:`SQLiteSpanExporter.status`)."""
        if self.failing:
            state = "failing"
        elif time.monotonic() - self._last_error_at < _DEGRADED_FOR_S:
            state = "degraded"
        else:
            state = "ok"
        return {
            "kind": "sqlite-store",
            "target": self.store.path,
            "state": state,
            "last_error": self.last_error,
            "last_error_time_unix_nano": self.last_error_ns,
            "counts": {
                "received": self.received,
                "written": self.written,
                "dropped": self.dropped,
                "errors": self.errors,
            },
        }

    def dropped_since_flush(self) -> int:
        """Items lost since the previous call (``force_flush``'s verdict)."""
        dropped, self._dropped_at_flush = self.dropped - self._dropped_at_flush, self.dropped
        return dropped

    def write(self, batch: Batch, timeout_millis: float | None = None) -> bool:
        if not batch.rows:
            return True
        try:
            self.store._transaction(batch.write, timeout_millis=timeout_millis or self.timeout_millis)
        except BaseException:
            batch.rolled_back()
            raise
        batch.committed()
        return True

    def failed(self, exc: BaseException, count: int) -> None:
        now = time.monotonic()
        self.dropped += count
        self.errors += 1
        self.failing = True
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.last_error_ns = time.time_ns()
        self._last_error_at = now
        if now - self._last_report.get(type(exc), -1e9) >= 60.0:
            self._last_report[type(exc)] = now
            _logger.warning(
                "infertel SQLite store %s: could not write %d %s (%s: %s); they are dropped "
                "(further failures of this kind are reported once a minute)",
                self.store.path, count, self.what, type(exc).__name__, exc,
            )  # fmt: skip

    def _housekeeping_failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_report.get(RuntimeError, -1e9) >= 60.0:
            self._last_report[RuntimeError] = now
            _logger.warning("infertel SQLite store %s: retention pass failed: %r", self.store.path, exc)

    def shutdown(self) -> None:
        if not self.shut_down:
            self.shut_down = True
            _release(self.store)

    def export(self, encode: Callable[[Any, ResourceCache, SQLiteStore], Batch], data: Any,
               items: int | None, timeout_millis: float | None = None) -> bool:  # fmt: skip
        """Encode and insert ``data`` with instrumentation suppressed; ``False`` (logged) instead of raising.

        A failure is reported as ``items`` lost, or as the encoded rows when ``items`` is ``None``.
        """
        if items is not None:
            self.received += items
        if self.shut_down:
            if items:
                self.failed(RuntimeError("the exporter was shut down"), items)
            return False
        token = attach(set_value(SUPPRESS_INSTRUMENTATION_KEY, True))
        rows = 0
        try:
            batch = encode(data, self.cache, self.store)
            rows = batch.rows
            self.write(batch, timeout_millis)
            self.written += rows if items is None else items
            self.failing = False
            return True
        except Exception as exc:
            self.failed(exc, rows if items is None else items)
            return False
        finally:
            detach(token)


class _StoreExporter:
    """The store, ``force_flush`` and ``shutdown`` of the three exporters (writes are synchronous)."""

    _what: ClassVar[str]

    def __init__(self, path: str | os.PathLike[str] | None = None, *, retention: Retention | None = _FROM_ENVIRONMENT,
                 timeout_millis: int = 5000) -> None:  # fmt: skip
        self._writer = _Writer(self._what, path, retention, timeout_millis)

    @property
    def store(self) -> SQLiteStore:
        """The store written to."""
        return self._writer.store

    @property
    def status(self) -> dict[str, Any]:
        """What this exporter wrote and lost, for health checks (``infertel.status()`` reads it).

        A plain dict: ``kind`` (``"sqlite-store"``), ``target`` (the store's file), ``state``
        (``"failing"`` while the last write failed, ``"degraded"`` for a minute after a failure,
        else ``"ok"``), ``last_error`` (``"<ExceptionType>: <message>"`` or ``None``),
        ``last_error_time_unix_nano`` and ``counts`` (``received``: spans or log records given to
        ``export()``; ``written`` and ``dropped`` items, failed write transactions as ``errors``; a
        forked child starts from zero).

        Example:
            >>> SQLiteSpanExporter(":memory:").status["state"]
            'ok'
        """
        return self._writer.status

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        """Writes are synchronous: nothing is pending. ``False`` if items were lost since the previous call."""
        return self._writer.dropped_since_flush() == 0 and not self._writer.shut_down

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Release the store (closed when its last exporter in this process shuts down)."""
        self._writer.shutdown()


class SQLiteSpanExporter(_StoreExporter, SpanExporter):
    """Writes finished spans to the embedded SQLite store, one short transaction per batch.

    Threading and errors: ``export`` runs on the span processor's thread (the
    ``BatchSpanProcessor`` worker); it waits at most ``timeout_millis`` for the file's write
    lock, never raises, and returns ``FAILURE`` (logged, once a minute per kind) when the file is
    locked, corrupted or unwritable. It runs with instrumentation suppressed. Exporters of one
    process writing one file share a connection and one background retention thread (set up by
    the first one created).

    Args:
        path: The database file (created when missing); ``None``: :func:`default_path`.
        retention: Background retention bounds; default from ``INFERTEL_STORE_MAX_AGE_SECONDS``
            and ``INFERTEL_STORE_MAX_BYTES`` (7 days, 256 MiB); ``None``: no background retention.
        timeout_millis: Longest one export waits for the file's lock.

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider
        >>> from opentelemetry.sdk.trace.export import BatchSpanProcessor
        >>> provider = TracerProvider()
        >>> provider.add_span_processor(BatchSpanProcessor(SQLiteSpanExporter("/tmp/doctest.db")))
    """

    _what = "spans"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Insert ``spans`` in one transaction; ``FAILURE`` instead of raising."""
        ok = self._writer.export(span_batch, spans, len(spans))
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE


class SQLiteMetricExporter(_StoreExporter, MetricExporter):
    """Writes metric points (sums, gauges, histograms) to the embedded SQLite store.

    Same threading and error contract as :class:`SQLiteSpanExporter`; ``export`` waits at most
    ``min(timeout_millis, its own timeout_millis)``. One row per data point.

    Args:
        path: The database file (created when missing); ``None``: :func:`default_path`.
        retention: As for :class:`SQLiteSpanExporter`.
        timeout_millis: Longest one export waits for the file's lock.
        preferred_temporality: Passed to the SDK's ``MetricExporter``.
        preferred_aggregation: Passed to the SDK's ``MetricExporter``.

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        >>> reader = PeriodicExportingMetricReader(SQLiteMetricExporter("/tmp/doctest.db"))
        >>> provider = MeterProvider(metric_readers=[reader])
    """

    _what = "metric points"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        retention: Retention | None = _FROM_ENVIRONMENT,
        timeout_millis: int = 5000,
        preferred_temporality: dict[type, AggregationTemporality] | None = None,
        preferred_aggregation: dict[type, Aggregation] | None = None,
    ) -> None:
        MetricExporter.__init__(
            self, preferred_temporality=preferred_temporality, preferred_aggregation=preferred_aggregation
        )
        super().__init__(path, retention=retention, timeout_millis=timeout_millis)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        """Insert every data point of ``metrics_data`` in one transaction; ``FAILURE`` instead of raising."""
        writer = self._writer
        ok = writer.export(metric_batch, metrics_data, None, min(timeout_millis, writer.timeout_millis))
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE


class SQLiteLogExporter(_StoreExporter, LogRecordExporter):
    """Writes log records (with their trace and span ids) to the embedded SQLite store.

    Same threading and error contract as :class:`SQLiteSpanExporter`.

    Args:
        path: The database file (created when missing); ``None``: :func:`default_path`.
        retention: As for :class:`SQLiteSpanExporter`.
        timeout_millis: Longest one export waits for the file's lock.

    Example:
        >>> from opentelemetry.sdk._logs import LoggerProvider
        >>> from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        >>> provider = LoggerProvider()
        >>> provider.add_log_record_processor(BatchLogRecordProcessor(SQLiteLogExporter("/tmp/doctest.db")))
    """

    _what = "log records"

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        """Insert ``batch`` (SDK ``ReadableLogRecord`` objects) in one transaction; never raises."""
        ok = self._writer.export(log_batch, batch, len(batch))
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE


def _reinit_after_fork() -> None:
    """The distribution's one at-fork hook: the child's own connections, registry, counts and caches.

    The registry is keyed by process id: the parent's entries move to the child's id, so the child's
    exporters still share one store, and it is closed only when the child's last exporter shuts down
    (an entry left under the parent's id would let the first exporter to shut down close the store
    under the others).
    """
    global _registry_lock
    _registry_lock = threading.Lock()  # another thread of the parent may have held it at the fork
    pid = os.getpid()
    moved = {(pid, path): entry for (_old_pid, path), entry in _registry.items()}
    _registry.clear()
    _registry.update(moved)
    reinit_after_fork()
    for writer in list(_writers):
        writer._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=hold_for_fork, after_in_parent=release_after_fork, after_in_child=_reinit_after_fork)
