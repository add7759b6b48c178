"""Alert history, silences and acknowledgements in the store's SQLite file (``alerting_*`` tables).

The tables are this module's own, versioned apart from the store's schema
(``alerting_meta.schema_version``); they live in the same file so that one ``--store PATH``
holds everything and a restart finds them again. History is bounded (``max_history`` rows, the
oldest deleted first).

Threading: one connection guarded by a lock; safe from any thread. Other processes (the
``infertel silence`` command) write the same tables; SQLite's locking serialises them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infertel.alerting._routing import Matcher, Silence, matchers_of

SCHEMA_VERSION = 1
DEFAULT_MAX_HISTORY = 100_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerting_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerting_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time_unix_nano INTEGER NOT NULL, fingerprint TEXT NOT NULL,
    alertname TEXT NOT NULL, event TEXT NOT NULL, state TEXT NOT NULL, labels TEXT NOT NULL,
    value REAL, message TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS alerting_history_time ON alerting_history (time_unix_nano);
CREATE INDEX IF NOT EXISTS alerting_history_fp ON alerting_history (fingerprint);
CREATE TABLE IF NOT EXISTS alerting_silences (
    id TEXT PRIMARY KEY, matchers TEXT NOT NULL, starts_unix_nano INTEGER NOT NULL,
    ends_unix_nano INTEGER NOT NULL, created_by TEXT NOT NULL, comment TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerting_active (
    fingerprint TEXT PRIMARY KEY, alertname TEXT NOT NULL, labels TEXT NOT NULL, annotations TEXT NOT NULL,
    state TEXT NOT NULL, value REAL, active_unix_nano INTEGER NOT NULL, fired_unix_nano INTEGER,
    notified INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS alerting_acks (
    fingerprint TEXT PRIMARY KEY, time_unix_nano INTEGER NOT NULL, by TEXT NOT NULL, comment TEXT NOT NULL,
    labels TEXT NOT NULL);
"""


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


class AlertStore:
    """The ``alerting_*`` tables of one SQLite file.

    Example:
        >>> store = AlertStore(":memory:")
        >>> sid = store.add_silence(['alertname="A"'], starts_at=0.0, ends_at=60.0, created_by="me", comment="x")
        >>> [s.id for s in store.silences()] == [sid]
        True
        >>> store.close()
    """

    def __init__(self, path: str | os.PathLike[str], *, max_history: int = DEFAULT_MAX_HISTORY) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.max_history = max_history
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        try:
            with self._lock:
                self._conn.executescript(_SCHEMA)
                row = self._conn.execute("SELECT value FROM alerting_meta WHERE key = 'schema_version'").fetchone()
                if row is None:
                    self._conn.execute(
                        "INSERT OR IGNORE INTO alerting_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                elif int(row[0]) > SCHEMA_VERSION:
                    raise ValueError(
                        f"alert store {self.path}: alerting tables version {row[0]} are newer than this infertel "
                        f"(version {SCHEMA_VERSION}); upgrade infertel"
                    )
        except BaseException:  # not a database, locked too long, a newer release's tables: no connection left open
            self._conn.close()
            raise
        self._writes = 0

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()

    def schema_version(self) -> int:
        """The ``alerting_*`` tables' version."""
        with self._lock:
            return int(self._conn.execute("SELECT value FROM alerting_meta WHERE key='schema_version'").fetchone()[0])

    # History -----------------------------------------------------------------------------------
    def record(self, *, time: float, fingerprint: str, alertname: str, event: str, state: str,
               labels: Mapping[str, str], value: float | None, message: str = "") -> None:  # fmt: skip
        """Append one history entry."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO alerting_history (time_unix_nano, fingerprint, alertname, event, state, labels, value, "
                "message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (_ns(time), fingerprint, alertname, event, state, json.dumps(dict(labels), sort_keys=True), value,
                 message),
            )  # fmt: skip
            self._writes += 1
            if self._writes % 1000 == 0:
                self._conn.execute(
                    "DELETE FROM alerting_history WHERE id <= (SELECT MAX(id) FROM alerting_history) - ?",
                    (self.max_history,),
                )

    def history(self, *, limit: int = 100, fingerprint: str | None = None) -> list[dict[str, Any]]:
        """History entries, newest first."""
        query = (
            "SELECT time_unix_nano, fingerprint, alertname, event, state, labels, value, message FROM alerting_history"
        )
        args: tuple[Any, ...] = ()
        if fingerprint is not None:
            query += " WHERE fingerprint = ?"
            args = (fingerprint,)
        query += " ORDER BY id DESC LIMIT ?"
        with self._lock:
            rows = self._conn.execute(query, (*args, limit)).fetchall()
        return [
            {"time_unix_nano": r[0], "fingerprint": r[1], "alertname": r[2], "event": r[3], "state": r[4],
             "labels": json.loads(r[5]), "value": r[6], "message": r[7]}
            for r in rows
        ]  # fmt: skip

    # Silences ----------------------------------------------------------------------------------
    def add_silence(self, matchers: Any, *, starts_at: float, ends_at: float, created_by: str = "",
                    comment: str = "") -> str:  # fmt: skip
        """Store a silence; returns its id. ``ValueError`` for no matchers or an end not after the start."""
        parsed = matchers_of(matchers)
        if not parsed:
            raise ValueError("silence: at least one matcher is needed (name=value)")
        if not ends_at > starts_at:
            raise ValueError("silence: the end must be after the start")
        silence_id = uuid.uuid4().hex
        with self._lock:
            self._conn.execute(
                "INSERT INTO alerting_silences VALUES (?, ?, ?, ?, ?, ?)",
                (silence_id, json.dumps([[m.name, m.op, m.value] for m in parsed]), _ns(starts_at), _ns(ends_at),
                 created_by, comment),
            )  # fmt: skip
        return silence_id

    def silences(self, *, include_expired: bool = False, now: float | None = None) -> list[Silence]:
        """Stored silences (by default those not yet ended at ``now``), newest end first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, matchers, starts_unix_nano, ends_unix_nano, created_by, comment FROM alerting_silences "
                "ORDER BY ends_unix_nano DESC"
            ).fetchall()
        out = [
            Silence(r[0], tuple(Matcher(*m) for m in json.loads(r[1])), r[2] / 1e9, r[3] / 1e9, r[4], r[5])
            for r in rows
        ]
        if not include_expired and now is not None:
            out = [s for s in out if s.ends_at > now]
        return out

    def expire_silence(self, silence_id: str, *, now: float) -> bool:
        """End a silence now; ``False`` when no silence has that id (or it already ended)."""
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE alerting_silences SET ends_unix_nano = ? WHERE id = ? AND ends_unix_nano > ?",
                (_ns(now), silence_id, _ns(now)),
            )
            return cursor.rowcount > 0

    # Active alerts (restored after a restart, as Prometheus restores its "for" state) ------------
    def save_active(self, *, fingerprint: str, alertname: str, labels: Mapping[str, str],
                    annotations: Mapping[str, str], state: str, value: float | None, active_at: float,
                    fired_at: float | None) -> None:  # fmt: skip
        """Insert or update a pending or firing alert (its ``notified`` mark is kept)."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO alerting_active VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT(fingerprint) DO UPDATE SET "
                "state = excluded.state, value = excluded.value, annotations = excluded.annotations, "
                "fired_unix_nano = excluded.fired_unix_nano",
                (fingerprint, alertname, json.dumps(dict(labels), sort_keys=True),
                 json.dumps(dict(annotations), sort_keys=True), state, value, _ns(active_at),
                 None if fired_at is None else _ns(fired_at)),
            )  # fmt: skip

    def mark_notified(self, fingerprint: str) -> None:
        """Remember that a firing alert was notified (no second notification after a restart)."""
        with self._lock:
            self._conn.execute("UPDATE alerting_active SET notified = 1 WHERE fingerprint = ?", (fingerprint,))

    def forget_active(self, fingerprint: str) -> None:
        """The alert resolved or its pending condition cleared."""
        with self._lock:
            self._conn.execute("DELETE FROM alerting_active WHERE fingerprint = ?", (fingerprint,))

    def active(self) -> list[dict[str, Any]]:
        """Pending and firing alerts as saved."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT fingerprint, alertname, labels, annotations, state, value, active_unix_nano, fired_unix_nano, "
                "notified FROM alerting_active"
            ).fetchall()
        return [
            {"fingerprint": r[0], "alertname": r[1], "labels": json.loads(r[2]), "annotations": json.loads(r[3]),
             "state": r[4], "value": r[5], "active_at": r[6] / 1e9, "fired_at": None if r[7] is None else r[7] / 1e9,
             "notified": bool(r[8])}
            for r in rows
        ]  # fmt: skip

    # Acknowledgements --------------------------------------------------------------------------
    def acknowledge(self, fingerprint: str, *, time: float, by: str, comment: str, labels: Mapping[str, str]) -> None:
        """Mark an alert acknowledged (until it resolves)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO alerting_acks VALUES (?, ?, ?, ?, ?)",
                (fingerprint, _ns(time), by, comment, json.dumps(dict(labels), sort_keys=True)),
            )

    def clear_ack(self, fingerprint: str) -> None:
        """Forget an acknowledgement (the alert resolved)."""
        with self._lock:
            self._conn.execute("DELETE FROM alerting_acks WHERE fingerprint = ?", (fingerprint,))

    def acks(self) -> dict[str, dict[str, Any]]:
        """Acknowledgements by fingerprint."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT fingerprint, time_unix_nano, by, comment, labels FROM alerting_acks"
            ).fetchall()
        return {r[0]: {"time_unix_nano": r[1], "by": r[2], "comment": r[3], "labels": json.loads(r[4])} for r in rows}
