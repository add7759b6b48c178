"""Schema of the store, connection set-up and schema versioning (``PRAGMA user_version``).

The schema is documented in the package docstring (``infertel_exporters.sqlite``) and in the
distribution's README; keep the three in step.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from infertel_exporters.sqlite._metric_rollups import migrate_to_v4
from infertel_exporters.sqlite._migrate import migrate_to_v2
from infertel_exporters.sqlite._migrate_v5 import migrate_to_v5
from infertel_exporters.sqlite._tiers import migrate_to_v3

_logger = logging.getLogger(__name__)

SCHEMA_VERSION = 5
"""Current ``PRAGMA user_version``; bump it and add a step to ``_MIGRATIONS`` when the schema changes."""

_CREATE_V1 = (
    """CREATE TABLE resources (
        id INTEGER PRIMARY KEY,
        attributes TEXT NOT NULL,
        schema_url TEXT NOT NULL DEFAULT '',
        last_seen_ns INTEGER NOT NULL
    )""",
    """CREATE TABLE spans (
        id INTEGER PRIMARY KEY,
        trace_id TEXT NOT NULL,
        span_id TEXT NOT NULL,
        parent_span_id TEXT,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        start_ns INTEGER NOT NULL,
        end_ns INTEGER NOT NULL,
        status_code TEXT NOT NULL,
        status_message TEXT,
        model TEXT,
        operation TEXT,
        attributes TEXT NOT NULL,
        events TEXT,
        links TEXT,
        scope_name TEXT,
        scope_version TEXT,
        resource_id INTEGER
    )""",
    "CREATE UNIQUE INDEX spans_trace ON spans (trace_id, span_id)",
    "CREATE INDEX spans_start ON spans (start_ns)",
    "CREATE INDEX spans_model ON spans (model, start_ns) WHERE model IS NOT NULL",
    """CREATE TABLE metric_points (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        unit TEXT,
        kind TEXT NOT NULL,
        temporality TEXT,
        monotonic INTEGER,
        start_ns INTEGER,
        time_ns INTEGER NOT NULL,
        attributes TEXT NOT NULL,
        value,
        histogram TEXT,
        scope_name TEXT,
        resource_id INTEGER
    )""",
    "CREATE INDEX metric_points_name_time ON metric_points (name, time_ns)",
    "CREATE INDEX metric_points_time ON metric_points (time_ns)",
    """CREATE TABLE logs (
        id INTEGER PRIMARY KEY,
        time_ns INTEGER NOT NULL,
        observed_ns INTEGER,
        severity_number INTEGER,
        severity_text TEXT,
        body TEXT,
        attributes TEXT NOT NULL,
        event_name TEXT,
        trace_id TEXT,
        span_id TEXT,
        trace_flags INTEGER,
        scope_name TEXT,
        resource_id INTEGER
    )""",
    "CREATE INDEX logs_time ON logs (time_ns)",
    "CREATE INDEX logs_trace ON logs (trace_id) WHERE trace_id IS NOT NULL",
)

# version reached -> statements that bring version - 1 to it (version 1 creates everything);
# a callable step runs Python over the connection (inside the migration's transaction).
_MIGRATIONS: dict[int, Any] = {1: _CREATE_V1, 2: migrate_to_v2, 3: migrate_to_v3, 4: migrate_to_v4, 5: migrate_to_v5}


class StoreError(Exception):
    """The store file cannot be used (corrupted, a newer schema, not a database)."""


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked/busy" (worth retrying)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (primary codes)
    message = str(exc).lower()
    return "locked" in message or "busy" in message


def connect(path: str, *, busy_timeout_millis: int) -> sqlite3.Connection:
    """Open ``path`` in autocommit mode with the store's pragmas; create or migrate the schema.

    Raises:
        StoreError: The file is not a usable store (corrupted, a newer schema version).
        sqlite3.OperationalError: The file stayed locked for longer than ``busy_timeout_millis``.
    """
    if path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path,
        timeout=busy_timeout_millis / 1000.0,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=64,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_millis)}")
        _ensure_schema(conn, path, busy_timeout_millis)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -16384")  # 16 MiB: the random-key trace index stays in memory
        conn.execute("PRAGMA journal_size_limit = 67108864")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if is_busy(exc):
            raise
        raise StoreError(f"{path!r} is not a usable infertel store: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def connect_read_only(path: str, *, busy_timeout_millis: int) -> sqlite3.Connection:
    """Open ``path`` read-only (a ``mode=ro`` URI): never writes, never migrates.

    Raises:
        StoreError: The file is missing, not a store, of another schema version (an older one:
            "run any writer once to migrate").
    """
    if path == ":memory:":
        raise StoreError("a read-only store needs a file, not ':memory:'")
    if not Path(path).exists():
        raise StoreError(f"{path!r} does not exist (no infertel store has been written there yet)")
    try:
        conn = sqlite3.connect(
            Path(path).resolve().as_uri() + "?mode=ro",
            uri=True,
            timeout=busy_timeout_millis / 1000.0,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=64,
        )
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path!r} cannot be opened read-only: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_millis)}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA cache_size = -16384")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if is_busy(exc):
            raise
        raise StoreError(f"{path!r} is not a usable infertel store: {exc}") from exc
    if version != SCHEMA_VERSION:
        conn.close()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path!r} has schema version {version}, newer than this infertel-exporter-sqlite "
                f"understands ({SCHEMA_VERSION}); upgrade infertel-exporter-sqlite"
            )
        raise StoreError(
            f"{path!r} has schema version {version}, older than this reader's ({SCHEMA_VERSION}); "
            "run any writer once to migrate (e.g. open it with SQLiteStore(path) or run the instrumented app)"
        )
    return conn


def _ensure_schema(conn: sqlite3.Connection, path: str, busy_timeout_millis: int) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        _set_wal(conn, busy_timeout_millis)
        return
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path!r} has schema version {version}, newer than this infertel-exporter-sqlite "
            f"understands ({SCHEMA_VERSION}); upgrade infertel-exporter-sqlite or use another file"
        )
    # auto_vacuum only takes effect before the first table exists; it lets retention give
    # freed pages back to the file system (PRAGMA incremental_vacuum).
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    _set_wal(conn, busy_timeout_millis)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
        for target in range(version + 1, SCHEMA_VERSION + 1):
            step = _MIGRATIONS[target]
            if callable(step):
                step(conn)
            else:
                for statement in step:
                    conn.execute(statement)
            _logger.debug("infertel store %s: schema version %d", path, target)
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _set_wal(conn: sqlite3.Connection, busy_timeout_millis: int) -> None:
    # journal_mode is persistent; switching needs a moment without other connections' locks.
    deadline = time.monotonic() + busy_timeout_millis / 1000.0
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
            continue
        if str(mode).lower() != "wal":  # in-memory databases cannot use WAL
            _logger.debug("infertel store: journal_mode is %s, not WAL", mode)
        return
