"""``SQLiteStore``: one connection to the store file, short write transactions, reads, housekeeping."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from infertel_exporters.sqlite import _queries
from infertel_exporters.sqlite._metric_marks import Marks
from infertel_exporters.sqlite._metric_rollups import register_functions
from infertel_exporters.sqlite._queries import MetricPoint, StoredLog, StoredSpan
from infertel_exporters.sqlite._read_api import ReadAPI
from infertel_exporters.sqlite._retention import Housekeeper, Retention, RetentionResult, apply
from infertel_exporters.sqlite._schema import StoreError, connect, connect_read_only, is_busy

_T = TypeVar("_T")
_logger = logging.getLogger(__name__)

_stores: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


class SQLiteStore(ReadAPI):
    """The embedded telemetry store: a SQLite file in WAL mode with a small read API.

    The exporters (:class:`SQLiteSpanExporter` ...) write through one of these; the dashboard
    and ``infertel demo`` read through another. Several processes may write one file at once:
    every write is one short ``BEGIN IMMEDIATE`` transaction, retried on ``SQLITE_BUSY`` until
    its deadline.

    Threading: every method is thread-safe (one connection per store, behind a lock). After
    ``fork()`` the child opens its own connection. Read methods raise :class:`StoreError` or
    ``sqlite3.Error`` when the file is unusable; the exporters never raise.

    Args:
        path: The database file (created, with its folder, when missing).
        retention: Bounds applied by a background daemon thread, started on first use;
            ``None`` (the default for readers) starts no thread. :meth:`apply_retention` runs one
            pass on demand either way.
        timeout_millis: Longest a single operation waits for a lock held by another writer.

    Example:
        >>> store = SQLiteStore("/tmp/infertel-doctest.db")
        >>> [t.trace_id for t in store.recent_traces(limit=5)]  # doctest: +SKIP
        ['4bf92f3577b34da6a3ce929d0e0e4736', ...]
        >>> store.close()
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False, retention: Retention | None = None,
                 timeout_millis: int = 5000, rollups: bool = True):  # fmt: skip
        if timeout_millis <= 0:
            raise ValueError(f"SQLiteStore timeout_millis must be positive, got {timeout_millis!r}")
        if read_only and retention is not None:
            raise ValueError("SQLiteStore: a read_only store cannot apply a retention policy (retention=None)")
        raw = os.fspath(path)
        self._path = raw if raw == ":memory:" else str(Path(raw).expanduser().resolve())
        self._read_only = bool(read_only)
        self.rollups = bool(rollups)
        """Whether writes through this store also write the rollups (``False`` only to measure their cost)."""
        self._metric_marks = Marks()
        self._retention = retention
        self._timeout_millis = int(timeout_millis)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._busy_ms = -1
        self._closed = False
        self._housekeeper: Housekeeper | None = None
        self._housekeeper_lock = threading.Lock()
        self._on_housekeeping_error: Callable[[BaseException], None] = self._log_housekeeping_error
        _stores.add(self)

    @property
    def path(self) -> str:
        """The absolute path of the database file."""
        return self._path

    @property
    def retention(self) -> Retention | None:
        """The background retention policy (``None``: none runs)."""
        return self._retention

    # --- connection and transactions ---------------------------------------------------------

    def _connection(self, deadline: float) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"the store {self._path!r} is closed")
        remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
        if self._conn is None:
            if self._read_only:
                self._conn = connect_read_only(self._path, busy_timeout_millis=remaining_ms)
            else:
                self._conn = connect(self._path, busy_timeout_millis=remaining_ms)
            register_functions(self._conn)
            self._busy_ms = remaining_ms
        if abs(self._busy_ms - remaining_ms) > 20:  # keep SQLite's own wait within the deadline
            self._conn.execute(f"PRAGMA busy_timeout = {remaining_ms}")
            self._busy_ms = remaining_ms
        return self._conn

    def _transaction(
        self, fn: Callable[[sqlite3.Connection], _T], *, write: bool = True, timeout_millis: float | None = None
    ) -> _T:
        """Run ``fn(connection)`` in one transaction (``BEGIN IMMEDIATE`` when ``write``).

        Retries on ``SQLITE_BUSY`` until ``timeout_millis`` (the store's default) has passed.

        Raises:
            TimeoutError: The lock of this store or of the file could not be had in time.
            StoreError: The file is not a usable store.
            sqlite3.Error: Anything else SQLite reports.
        """
        if self._housekeeper is None and self._retention is not None:
            self._ensure_housekeeper()  # started on first use (and again in a forked child)
        if write and self._read_only:
            raise StoreError(f"the store {self._path!r} was opened read-only")
        timeout_s = (self._timeout_millis if timeout_millis is None else timeout_millis) / 1000.0
        deadline = time.monotonic() + timeout_s
        if not self._lock.acquire(timeout=max(0.0, timeout_s)):
            raise TimeoutError(f"the store {self._path!r} stayed busy in this process for {timeout_s:.3g} s")
        try:
            delay = 0.002
            while True:
                try:
                    conn = self._connection(deadline)
                    if not write:
                        return fn(conn)
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        result = fn(conn)
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            try:
                                conn.execute("ROLLBACK")
                            except sqlite3.Error:
                                pass  # the original error says more
                        raise
                    return result
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc):
                        self._drop_connection()
                        raise
                    if time.monotonic() + delay >= deadline:
                        raise TimeoutError(f"the store {self._path!r} stayed locked for {timeout_s:.3g} s") from exc
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
                except sqlite3.DatabaseError:
                    self._drop_connection()  # corrupted under us: reopen (and re-check) next time
                    raise
        finally:
            self._lock.release()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    # --- housekeeping ------------------------------------------------------------------------

    def _ensure_housekeeper(self) -> None:
        with self._housekeeper_lock:
            if self._retention is not None and self._housekeeper is None and not self._closed:
                housekeeper = Housekeeper(self, self._retention, self._report_housekeeping_error)
                try:
                    housekeeper.start()
                except RuntimeError:  # no new thread at interpreter exit (Python 3.12): write now, prune later
                    return
                self._housekeeper = housekeeper

    def _log_housekeeping_error(self, exc: BaseException) -> None:
        _logger.warning("infertel SQLite store %s: retention pass failed: %r", self._path, exc)

    def _report_housekeeping_error(self, exc: BaseException) -> None:
        self._on_housekeeping_error(exc)

    def apply_retention(self, *, now_ns: int | None = None, policy: Retention | None = None) -> RetentionResult:
        """Run one retention pass now (the background thread does this every ``interval_s``).

        Args:
            now_ns: The current time for the age bound (tests move it forward).
            policy: Bounds for this pass; default: the store's, or ``Retention()``.

        Example:
            >>> with SQLiteStore(":memory:") as store:
            ...     store.apply_retention().deleted
            {'spans': 0, 'metric_points': 0, 'logs': 0, 'span_rollups': 0, 'span_error_rollups': 0, 'metric_rollups': 0}
        """
        return apply(self, policy or self._retention or Retention(), now_ns=now_ns)

    def close(self) -> None:
        """Stop the background retention and close the connection (idempotent)."""
        self._closed = True
        housekeeper, self._housekeeper = self._housekeeper, None
        if housekeeper is not None:
            housekeeper.stop()
        with self._lock:
            self._drop_connection()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _after_fork_in_child(self) -> None:
        # The parent's connection, lock and thread do not survive fork(); never touch the connection.
        self._conn = None
        self._busy_ms = -1
        self._lock = threading.Lock()
        self._housekeeper_lock = threading.Lock()
        self._housekeeper = None
        self._metric_marks = Marks()

    # --- read API ----------------------------------------------------------------------------

    def _read(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        return self._transaction(fn, write=False)

    def trace(self, trace_id: str | int) -> list[StoredSpan]:
        """Every span of one trace (hex string or int id), ordered by start time.

        Example:
            >>> with SQLiteStore(":memory:") as store:
            ...     store.trace("4bf92f3577b34da6a3ce929d0e0e4736")
            []
        """
        tid = _queries.blob_id(trace_id, 16)
        return self._read(lambda c: _queries.trace(c, tid))

    def spans(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        name: str | None = None,
        model: str | None = None,
        limit: int | None = 10_000,
    ) -> list[StoredSpan]:
        """Spans that started in ``[start_ns, end_ns)``, oldest first.

        Example:
            >>> SQLiteStore(":memory:").spans(0, 2**63 - 1, model="llama-3-8b")
            []
        """
        return self._read(lambda c: _queries.spans(c, start_ns, end_ns, name, model, limit))

    def metric_series(
        self,
        name: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        attributes: Mapping[str, Any] | None = None,
        limit: int | None = 100_000,
    ) -> list[MetricPoint]:
        """Points of metric ``name`` with ``time`` in ``[start_ns, end_ns)``, oldest first.

        Args:
            name: The metric name.
            start_ns: Lower bound (inclusive) on the point's time.
            end_ns: Upper bound (exclusive).
            attributes: Keep only points whose attributes include every given pair.
            limit: At most this many points.

        Example:
            >>> SQLiteStore(":memory:").metric_series("gen_ai.server.request.duration", attributes={"x": 1})
            []
        """
        return self._read(lambda c: _queries.metric_series(c, name, start_ns, end_ns, attributes, limit))

    def metric_names(self) -> list[str]:
        """Names of the metrics in the store, sorted.

        Example:
            >>> SQLiteStore(":memory:").metric_names()
            []
        """
        return self._read(_queries.metric_names)

    def logs(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        trace_id: str | None = None,
        limit: int | None = 10_000,
    ) -> list[StoredLog]:
        """Log records with time in ``[start_ns, end_ns)`` (optionally of one trace), oldest first.

        Example:
            >>> SQLiteStore(":memory:").logs(trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
            []
        """
        return self._read(lambda c: _queries.logs(c, start_ns, end_ns, trace_id, limit))

    def counts(self) -> dict[str, int]:
        """Rows per table (``spans``, ``metric_points``, ``logs``, ``resources``).

        Example:
            >>> SQLiteStore(":memory:").counts()
            {'spans': 0, 'metric_points': 0, 'logs': 0, 'resources': 0}
        """
        return self._read(_queries.counts)


FORK_WAIT_S = 2.0
"""How long ``fork()`` waits for a store's transaction in flight on another thread to end."""
_held_at_fork: list[threading.Lock] = []


def hold_for_fork() -> None:
    """Before ``fork()``: wait for every store's transaction in flight (another thread's export, retention).

    SQLite keeps the locks of a process' connections in the process. A child forked in the middle
    of a transaction inherits that record, with no connection left to release it, and finds the
    file locked for good: every write of the child then times out. Holding each store's lock across
    the fork means no transaction is in flight. A store busy for longer than :data:`FORK_WAIT_S`
    is not waited for (the fork goes on).
    """
    try:
        stores = list(_stores)
    except RuntimeError:  # the set changed size under another thread: take it again
        stores = list(_stores)
    for store in stores:
        lock = store._lock
        if lock.acquire(timeout=FORK_WAIT_S):
            _held_at_fork.append(lock)


def release_after_fork() -> None:
    """After ``fork()``, in the parent: release what :func:`hold_for_fork` took."""
    while _held_at_fork:
        _held_at_fork.pop().release()


def reinit_after_fork() -> None:
    """In a forked child: every store opens its own connection (called by the distribution's one at-fork hook)."""
    _held_at_fork.clear()  # the parent's locks: each store takes a new one below
    for store in list(_stores):
        store._after_fork_in_child()
