"""The store exporters' ``status`` and ``force_flush`` verdict: a failing store is never reported as fine."""

from __future__ import annotations

import time
from pathlib import Path

from infertel_exporters.sqlite import SQLiteSpanExporter


def _timeless(status: dict) -> dict:
    return {k: v for k, v in status.items() if k != "last_error_time_unix_nano"}


def test_status_follows_failures_and_recovery(tmp_path: Path, span_factory) -> None:
    db = tmp_path / "store.db"
    db.mkdir()  # a directory where the file should be: opening fails (for root too)
    exporter = SQLiteSpanExporter(db, retention=None)
    fresh = exporter.status
    assert fresh == {
        "kind": "sqlite-store",
        "target": str(db),
        "state": "ok",
        "last_error": None,
        "last_error_time_unix_nano": None,
        "counts": {"received": 0, "written": 0, "dropped": 0, "errors": 0},
    }
    assert exporter.force_flush() is True

    before = time.time_ns()
    assert exporter.export([span_factory(i, time.time_ns()) for i in range(3)]).name == "FAILURE"
    failing = exporter.status
    assert _timeless(failing) == {
        "kind": "sqlite-store",
        "target": str(db),
        "state": "failing",
        "last_error": "OperationalError: unable to open database file",
        "counts": {"received": 3, "written": 0, "dropped": 3, "errors": 1},
    }
    assert before <= failing["last_error_time_unix_nano"] <= time.time_ns()
    assert exporter.force_flush() is False  # 3 spans were lost since the last flush
    assert exporter.force_flush() is True  # ... and nothing since

    # The directory goes away: the next write succeeds; the state stays degraded for a while.
    db.rmdir()
    assert exporter.export([span_factory(10 + i, time.time_ns()) for i in range(2)]).name == "SUCCESS"
    assert _timeless(exporter.status) == {
        "kind": "sqlite-store",
        "target": str(db),
        "state": "degraded",
        "last_error": "OperationalError: unable to open database file",
        "counts": {"received": 5, "written": 2, "dropped": 3, "errors": 1},
    }
    assert exporter.force_flush() is True
    exporter.shutdown()
    assert exporter.force_flush() is False  # shut down: nothing more can be written
