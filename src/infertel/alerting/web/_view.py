"""What the alerts pages and API show, computed once per request as plain data from one of two sources.

:class:`LiveAlerts` reads a running :class:`~infertel.alerting.AlertEngine` (the dashboard mounted
in the serving process); :class:`StoredAlerts` reads the ``alerting_*`` tables the engine keeps in
the store's file (the standalone ``infertel dashboard``). Both write silences and acknowledgements
through the engine's own API (``engine.add_silence`` / ``AlertStore.add_silence`` ...), so a running
engine honours them: silences are re-read every evaluation round.

Threading: every method may run on any worker thread; the engine's methods are thread-safe and a
:class:`StoredAlerts` opens its own short-lived connection per call.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infertel.alerting._persist import AlertStore
from infertel.alerting._routing import Silence, matchers_of
from infertel.alerting._state import rfc3339

HISTORY_LIMIT = 50
"""History entries on the alerts page (the API takes ``limit`` up to :data:`MAX_HISTORY`)."""
MAX_HISTORY = 1000


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else int(round(seconds * 1e9))


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else rfc3339(seconds)


def _ack(entry: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    ns = int(entry.get("time_unix_nano", 0))
    return {"by": str(entry.get("by", "")), "comment": str(entry.get("comment", "")), "time": rfc3339(ns / 1e9),
            "time_unix_nano": ns}  # fmt: skip


def alert_dict(alert: Any, silences: Sequence[Silence], ack: Mapping[str, Any] | None, now: float) -> dict[str, Any]:
    """One alert (an :class:`~infertel.alerting.Alert`) as the API's ``AlertOut`` shape.

    Example:
        >>> from infertel.alerting import Alert
        >>> a = Alert("A", {"alertname": "A", "severity": "page"}, {}, "firing", 2.0, 0.0, 60.0, None, "f" * 16)
        >>> alert_dict(a, [], None, 90.0)["fired_at"]
        '1970-01-01T00:01:00Z'
    """
    labels = {str(k): str(v) for k, v in alert.labels.items()}
    return {
        "fingerprint": alert.fingerprint,
        "name": alert.name,
        "state": alert.state,
        "severity": labels.get("severity", ""),
        "labels": labels,
        "annotations": {str(k): str(v) for k, v in alert.annotations.items()},
        "value": alert.value,
        "active_at": rfc3339(alert.active_at),
        "active_at_unix_nano": _ns(alert.active_at),
        "fired_at": _iso(alert.fired_at),
        "fired_at_unix_nano": _ns(alert.fired_at),
        "resolved_at": _iso(alert.resolved_at),
        "resolved_at_unix_nano": _ns(alert.resolved_at),
        "silenced_by": [s.id for s in silences if alert.state != "resolved" and s.mutes(labels, now=now)],
        "acknowledged": _ack(ack),
    }


def silence_dict(silence: Silence, now: float) -> dict[str, Any]:
    """One silence as the API's ``SilenceOut`` shape (``state``: pending, active or expired).

    Example:
        >>> from infertel.alerting import Silence
        >>> s = Silence("abc", matchers_of(['alertname="A"']), 0.0, 60.0, "ops", "deploy")
        >>> silence_dict(s, 30.0)["state"], silence_dict(s, 30.0)["matchers"]
        ('active', ['alertname="A"'])
    """
    state = "pending" if now < silence.starts_at else ("active" if now < silence.ends_at else "expired")
    return {
        "id": silence.id, "matchers": [str(m) for m in silence.matchers], "starts_at": rfc3339(silence.starts_at),
        "starts_at_unix_nano": _ns(silence.starts_at), "ends_at": rfc3339(silence.ends_at),
        "ends_at_unix_nano": _ns(silence.ends_at), "created_by": silence.created_by, "comment": silence.comment,
        "state": state,
    }  # fmt: skip


def history_dict(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One history row of the engine's store as the API's ``HistoryEntryOut`` shape."""
    ns = int(entry["time_unix_nano"])
    return {"time": rfc3339(ns / 1e9), "time_unix_nano": ns, "fingerprint": entry["fingerprint"],
            "alertname": entry["alertname"], "event": entry["event"], "state": entry["state"],
            "labels": dict(entry["labels"]), "value": entry["value"], "message": entry["message"]}  # fmt: skip


@dataclass
class Snapshot:
    """Everything the alerts page shows, from one source at one moment."""

    source: str
    """``engine`` (a running engine), ``store`` (the store's tables) or ``none`` (no alerting data)."""
    alerts: list[dict[str, Any]] = field(default_factory=list)
    silences: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def of_state(self, state: str, *, silenced: bool | None = None) -> list[dict[str, Any]]:
        """Alerts in ``state`` (``silenced``: only those a silence mutes, or only those it does not)."""
        return [a for a in self.alerts if a["state"] == state
                and (silenced is None or bool(a["silenced_by"]) == silenced)]  # fmt: skip

    @property
    def silenced(self) -> list[dict[str, Any]]:
        """Pending or firing alerts that an active silence mutes."""
        return [a for a in self.alerts if a["state"] != "resolved" and a["silenced_by"]]


def _sorted(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(alerts, key=lambda a: (a["name"], a["fingerprint"]))


class LiveAlerts:
    """The alerts of a running engine (``engine_of()`` is asked on every call; ``None``: there is none).

    Example:
        >>> LiveAlerts(lambda: None).snapshot().source
        'none'
    """

    def __init__(self, engine_of: Callable[[], Any]) -> None:
        self._engine_of = engine_of

    def engine(self) -> Any:
        """The engine now, or ``None``."""
        return self._engine_of()

    def snapshot(self, history_limit: int = HISTORY_LIMIT) -> Snapshot:
        """Alerts, silences and history of the engine now."""
        engine = self.engine()
        if engine is None:
            return Snapshot("none")
        # The engine's own time (its injected clock in tests and replays) decides what is active, as for the engine.
        now = engine.now()
        silences = engine.silences()
        store = getattr(engine, "store", None)
        acks = store.acks() if store is not None else {}
        alerts = []
        for alert in engine.alerts():
            ack = acks.get(alert.fingerprint)
            if ack is None and engine.acknowledged(alert.fingerprint):
                ack = {"time_unix_nano": 0, "by": "", "comment": ""}
            alerts.append(alert_dict(alert, silences, ack, now))
        history = [history_dict(h) for h in engine.history(limit=history_limit)]
        return Snapshot("engine", _sorted(alerts), [silence_dict(s, now) for s in silences], history)

    def add_silence(self, matchers: Sequence[str], *, duration_s: float, created_by: str, comment: str) -> str:
        """Create a silence through the engine; ``ValueError`` for bad matchers."""
        engine = self._require()
        return str(engine.add_silence(list(matchers), duration_s=duration_s, created_by=created_by, comment=comment))

    def expire_silence(self, silence_id: str) -> bool:
        """End a silence now; ``False`` when none is active with that id."""
        return bool(self._require().expire_silence(silence_id))

    def acknowledge(self, fingerprint: str, *, by: str, comment: str) -> bool:
        """Acknowledge a firing alert; ``False`` when no firing alert has that fingerprint."""
        return bool(self._require().acknowledge(fingerprint, by=by, comment=comment))

    def _require(self) -> Any:
        engine = self.engine()
        if engine is None:
            raise LookupError("no alert engine runs in this process (configure(alert_rules=...))")
        return engine


def _has_tables(path: Path) -> bool:
    """Whether the file holds the engine's tables, checked read-only (no file or table is created)."""
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0)
        try:
            query = "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alerting_silences'"
            return conn.execute(query).fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error as exc:
        from infertel_exporters.sqlite import StoreError

        raise StoreError(f"alerting tables of {path}: {exc}") from exc


class StoredAlerts:
    """The alerting tables of the store's file, as the last engine that used it left them.

    Reads change nothing; silences and acknowledgements are written with the engine's
    :class:`~infertel.alerting.AlertStore` (a running engine re-reads silences every round).

    Example:
        >>> StoredAlerts("/nonexistent/store.db").snapshot().source
        'none'
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock

    def _open(self) -> AlertStore:
        """The engine's tables; a file that cannot serve them now raises ``StoreError`` (the pages answer 503)."""
        try:
            return AlertStore(self.path)
        except (sqlite3.Error, ValueError) as exc:  # locked too long, not a database, tables of a newer release
            from infertel_exporters.sqlite import StoreError

            raise StoreError(f"alerting tables of {self.path}: {exc}") from exc

    def snapshot(self, history_limit: int = HISTORY_LIMIT) -> Snapshot:
        """Pending and firing alerts as last saved, silences (expired ones too) and history."""
        if not _has_tables(self.path):
            return Snapshot("none")
        from infertel.alerting._state import Alert

        now = self._clock()
        store = self._open()
        try:
            every = store.silences(include_expired=True, now=now)
            acks = store.acks()
            rows = store.active()
            history = store.history(limit=history_limit)
        finally:
            store.close()
        in_effect = [s for s in every if s.ends_at > now]
        alerts = [
            alert_dict(Alert(r["alertname"], r["labels"], r["annotations"], r["state"], r["value"], r["active_at"],
                             r["fired_at"], None, r["fingerprint"]), in_effect, acks.get(r["fingerprint"]), now)
            for r in rows
        ]  # fmt: skip
        return Snapshot("store", _sorted(alerts), [silence_dict(s, now) for s in every],
                        [history_dict(h) for h in history])  # fmt: skip

    def add_silence(self, matchers: Sequence[str], *, duration_s: float, created_by: str, comment: str) -> str:
        """Store a silence (the tables are created if this store has none yet)."""
        parsed = matchers_of(list(matchers))
        now = self._clock()
        store = self._open()
        try:
            return store.add_silence(parsed, starts_at=now, ends_at=now + duration_s, created_by=created_by,
                                     comment=comment)  # fmt: skip
        finally:
            store.close()

    def expire_silence(self, silence_id: str) -> bool:
        """End a stored silence now."""
        if not _has_tables(self.path):
            return False
        store = self._open()
        try:
            return store.expire_silence(silence_id, now=self._clock())
        finally:
            store.close()

    def acknowledge(self, fingerprint: str, *, by: str, comment: str) -> bool:
        """Acknowledge a firing alert of the store (recorded in its history as the engine records it)."""
        if not _has_tables(self.path):
            return False
        now = self._clock()
        store = self._open()
        try:
            row = next((r for r in store.active() if r["fingerprint"] == fingerprint and r["state"] == "firing"), None)
            if row is None:
                return False
            store.acknowledge(fingerprint, time=now, by=by, comment=comment, labels=row["labels"])
            store.record(time=now, fingerprint=fingerprint, alertname=row["alertname"], event="acknowledged",
                         state=row["state"], labels=row["labels"], value=row["value"],
                         message=f"by {by}: {comment}" if comment else f"by {by}")  # fmt: skip
            return True
        finally:
            store.close()
