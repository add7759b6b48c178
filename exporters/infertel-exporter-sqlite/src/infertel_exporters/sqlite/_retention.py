"""Retention of the store: by age and by size, in short chunked transactions, in the background."""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infertel_exporters.sqlite._buckets import STEPS_S
from infertel_exporters.sqlite._names import (
    INFERTEL_STORE_MAX_AGE_SECONDS,
    INFERTEL_STORE_MAX_BYTES,
    INFERTEL_STORE_ROLLUP_MAX_AGE_SECONDS,
)
from infertel_exporters.sqlite._tiers import close_before

if TYPE_CHECKING:
    from infertel_exporters.sqlite._store import SQLiteStore

_logger = logging.getLogger(__name__)

# table -> its time column (age retention); size retention removes the oldest rows by id.
TABLES = {"spans": "start_ns", "metric_points": "time_ns", "logs": "time_ns"}
# rollup table -> the raw table (and time column) that feeds it
ROLLUP_TABLES = {
    "span_rollups": ("spans", "start_ns"),
    "span_error_rollups": ("spans", "start_ns"),
    "metric_rollups": ("metric_points", "time_ns"),
}
_DAY_S = 24 * 3600


@dataclass(frozen=True)
class Retention:
    """How much the store keeps; applied by a background thread every ``interval_s``.

    Args:
        max_age_s: Raw rows (spans, metric points, logs) older than this many seconds are deleted,
            with the 10 s rollups (``None``: no age bound).
        rollup_max_age_s: 1 min, 10 min and 1 h rollup buckets older than this are deleted (``None``:
            kept). A rollup bucket that a remaining raw row still feeds is never deleted.
        max_bytes: Bound on the database's used pages; past it the oldest rows of every table
            are deleted (the same fraction of each) and the freed pages returned to the file
            system (``None``: no size bound). The write-ahead log adds at most a few MiB.
        interval_s: Seconds between two background passes.
        chunk_rows: Rows deleted per transaction, so writers never wait long on retention.
        pass_budget_s: Time one pass may take before it yields until the next interval.

    Example:
        >>> Retention(max_age_s=24 * 3600, max_bytes=64 * 1024 * 1024)  # doctest: +ELLIPSIS
        Retention(max_age_s=86400, rollup_max_age_s=2592000, max_bytes=67108864, ...)
    """

    max_age_s: float | None = 3 * _DAY_S
    rollup_max_age_s: float | None = 30 * _DAY_S
    max_bytes: int | None = 256 * 1024 * 1024
    interval_s: float = 60.0
    chunk_rows: int = 5000
    pass_budget_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_age_s is not None and not (self.max_age_s > 0 and math.isfinite(self.max_age_s)):
            raise ValueError(
                f"Retention max_age_s must be a positive number of seconds or None, got {self.max_age_s!r}"
            )
        if self.rollup_max_age_s is not None and not (
            self.rollup_max_age_s > 0 and math.isfinite(self.rollup_max_age_s)
        ):
            raise ValueError(
                "Retention rollup_max_age_s must be a positive number of seconds or None, "
                f"got {self.rollup_max_age_s!r}"
            )
        if self.max_bytes is not None and not (isinstance(self.max_bytes, int) and self.max_bytes > 0):
            raise ValueError(f"Retention max_bytes must be a positive integer or None, got {self.max_bytes!r}")
        if not (self.interval_s > 0 and math.isfinite(self.interval_s)):
            raise ValueError(f"Retention interval_s must be a positive number of seconds, got {self.interval_s!r}")
        if not (isinstance(self.chunk_rows, int) and self.chunk_rows > 0):
            raise ValueError(f"Retention chunk_rows must be a positive integer, got {self.chunk_rows!r}")

    @classmethod
    def from_environment(cls) -> Retention:
        """Defaults overridden by the ``INFERTEL_STORE_*`` variables.

        ``INFERTEL_STORE_MAX_AGE_SECONDS`` (raw rows, default 3 days),
        ``INFERTEL_STORE_ROLLUP_MAX_AGE_SECONDS`` (rollups, default 30 days) and
        ``INFERTEL_STORE_MAX_BYTES`` (256 MiB).

        ``0`` or ``none`` switches a bound off.

        Raises:
            ValueError: A variable is set to something that is not a non-negative number.

        Example:
            >>> Retention.from_environment().interval_s
            60.0
        """
        defaults = cls()
        max_age = _env_number(INFERTEL_STORE_MAX_AGE_SECONDS, defaults.max_age_s)
        max_bytes = _env_number(INFERTEL_STORE_MAX_BYTES, defaults.max_bytes)
        rollup_age = _env_number(INFERTEL_STORE_ROLLUP_MAX_AGE_SECONDS, defaults.rollup_max_age_s)
        return cls(
            max_age_s=max_age, rollup_max_age_s=rollup_age, max_bytes=None if max_bytes is None else int(max_bytes)
        )


def _env_number(name: str, default: float | None) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in ("none", "off"):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a non-negative number (0 or 'none' switches the bound off), got {raw!r}")
    return None if value == 0 else value


@dataclass(frozen=True)
class RetentionResult:
    """What one retention pass deleted (rows per table) and the used bytes after it."""

    deleted: dict[str, int]
    used_bytes: int
    complete: bool


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of the database's pages in use (free pages excluded)."""
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * page_size)


def apply(store: SQLiteStore, policy: Retention, *, now_ns: int | None = None) -> RetentionResult:
    """One bounded retention pass over ``store`` (age first, then size)."""
    deadline = time.monotonic() + policy.pass_budget_s
    deleted = dict.fromkeys(list(TABLES) + list(ROLLUP_TABLES), 0)
    complete = True
    now = now_ns if now_ns is not None else time.time_ns()
    if policy.max_age_s is not None:
        cutoff = now - int(policy.max_age_s * 1e9)
        for table, column in TABLES.items():
            if table == "metric_points":
                complete = _prune_points(store, policy, now, cutoff, deleted, deadline) and complete
                continue
            statement = (
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {column} < ? ORDER BY {column} LIMIT ?)"
            )
            while True:
                n = _rowcount(store, statement, (cutoff, policy.chunk_rows))
                deleted[table] += n
                if n < policy.chunk_rows:
                    break
                if time.monotonic() > deadline:
                    complete = False
                    break
        _rowcount(store, "DELETE FROM resources WHERE last_seen_ns < ?", (cutoff,))
    used = store._transaction(used_bytes, write=False)
    if policy.max_bytes is not None and used > policy.max_bytes:
        used, complete_size = _shrink(store, policy, used, deleted, deadline)
        complete = complete and complete_size
    _prune_rollups(store, policy, now, deleted)
    if sum(deleted.values()):
        store._transaction(_vacuum, write=False)
        used = store._transaction(used_bytes, write=False)
        _logger.debug("infertel store retention deleted %s; %d bytes in use", deleted, used)
    return RetentionResult(deleted=deleted, used_bytes=used, complete=complete)


def _prune_points(store: SQLiteStore, policy: Retention, now: int, cutoff: int, deleted: dict[str, int],
                  deadline: float) -> bool:  # fmt: skip
    """Delete unmarked metric points older than ``cutoff``, marked ones (the rollups) past both age bounds.

    Name by name over the ``(name, mark, time_ns)`` index; ``False`` when the pass ran out of time.
    """
    assert policy.max_age_s is not None
    bounds = [("mark = 0", cutoff)]
    if policy.rollup_max_age_s is not None:
        bounds.append(("mark IN (1,2,3,4,5,6,7)", now - int(max(policy.max_age_s, policy.rollup_max_age_s) * 1e9)))
    names = [row[0] for row in store._transaction(_names, write=False)]
    for name in names:
        for marks, before in bounds:
            statement = (
                f"DELETE FROM metric_points WHERE id IN (SELECT id FROM metric_points WHERE name = ? AND {marks}"
                " AND time_ns < ? LIMIT ?)"
            )
            while True:
                n = _rowcount(store, statement, (name, before, policy.chunk_rows))
                deleted["metric_points"] += n
                if n < policy.chunk_rows:
                    break
                if time.monotonic() > deadline:
                    return False
    return True


def _names(conn: sqlite3.Connection) -> list[tuple[str]]:
    return conn.execute("SELECT DISTINCT name FROM metric_points").fetchall()


def _prune_rollups(store: SQLiteStore, policy: Retention, now: int, deleted: dict[str, int]) -> None:
    """Delete rollup buckets past their age, never one that a remaining raw row still feeds.

    10 s buckets follow the raw rows' age bound; 1 min, 10 min and 1 h buckets ``rollup_max_age_s``.
    """
    for table, (raw, column) in ROLLUP_TABLES.items():
        oldest = _fetchone(store, f"SELECT min({column}) FROM {raw}")[0]
        for step in STEPS_S:
            age = policy.max_age_s if step == STEPS_S[0] else policy.rollup_max_age_s
            if age is None:
                continue
            width = step * 1_000_000_000
            cutoff = (now - int(age * 1e9)) // width * width
            if oldest is not None:
                cutoff = min(cutoff, oldest // width * width)  # the bucket of the oldest raw row stays
            if step == STEPS_S[0] and table == "span_rollups":  # sum them up before their 10 s rows go
                _close(store, "span", cutoff)  # (metric_rollups, schema 4's, are closed once at the move to 5)
            # the rollups of series still known only (metric_rollups is keyed (step, bucket_ns, series_id))
            where = "series_id IN (SELECT id FROM metric_series) AND " if table == "metric_rollups" else ""
            deleted[table] += _rowcount(
                store, f"DELETE FROM {table} WHERE step = ? AND {where}bucket_ns < ?", (step, cutoff)
            )
            if table == "span_rollups":  # its sum over the services goes with it
                _rowcount(store, "DELETE FROM span_model_rollups WHERE step = ? AND bucket_ns < ?", (step, cutoff))


def _close(store: SQLiteStore, kind: str, cutoff: int) -> None:
    def run(conn: sqlite3.Connection) -> None:
        close_before(conn, kind, cutoff)

    store._transaction(run)


def _shrink(
    store: SQLiteStore, policy: Retention, used: int, deleted: dict[str, int], deadline: float
) -> tuple[int, bool]:
    assert policy.max_bytes is not None
    target = int(policy.max_bytes * 0.8)  # hysteresis: do not trim again on the next few writes
    for _round in range(32):
        fraction = min(1.0, max(0.05, 1.0 - target / used))
        for table in TABLES:
            lo, hi = _fetchone(store, f"SELECT min(id), max(id) FROM {table}")
            if lo is None:
                continue
            stop = lo + max(1, math.ceil((hi - lo + 1) * fraction))
            deleted[table] += _delete_ids_below(store, table, lo, stop, policy.chunk_rows)
        used = store._transaction(used_bytes, write=False)
        if used <= target:
            return used, True
        if time.monotonic() > deadline:
            return used, False
    return used, False


def _delete_ids_below(store: SQLiteStore, table: str, lo: int, stop: int, chunk: int) -> int:
    total = 0
    start = lo
    while start < stop:
        bound = min(stop, start + chunk)
        total += _rowcount(store, f"DELETE FROM {table} WHERE id < ?", (bound,))
        start = bound
    return total


def _rowcount(store: SQLiteStore, sql: str, params: tuple[Any, ...]) -> int:
    def run(conn: sqlite3.Connection) -> int:
        return int(conn.execute(sql, params).rowcount)

    return store._transaction(run)


def _fetchone(store: SQLiteStore, sql: str) -> tuple[Any, ...]:
    def run(conn: sqlite3.Connection) -> tuple[Any, ...]:
        return tuple(conn.execute(sql).fetchone())

    return store._transaction(run, write=False)


def _vacuum(conn: sqlite3.Connection) -> None:
    # sqlite3_exec steps the pragma to the end (one page per step); Cursor.execute frees one page only.
    conn.executescript("PRAGMA incremental_vacuum;")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


class Housekeeper:
    """A daemon thread applying ``policy`` to ``store`` every ``policy.interval_s`` until stopped."""

    def __init__(self, store: SQLiteStore, policy: Retention, on_error: Callable[[BaseException], None]) -> None:
        self._store = store
        self._policy = policy
        self._on_error = on_error
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="infertel-sqlite-retention", daemon=True)

    def start(self) -> None:
        """Start the thread (first pass right away)."""
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the thread to stop and wait for it at most ``timeout_s``."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                apply(self._store, self._policy)
            except Exception as exc:
                if not (self._stop.is_set() or self._store._closed):  # closing under a pass is not a failure
                    self._on_error(exc)
            if self._stop.wait(self._policy.interval_s):
                return
