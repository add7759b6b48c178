from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from infertel_exporters.sqlite import (
    SQLiteLogExporter,
    SQLiteMetricExporter,
    SQLiteSpanExporter,
    SQLiteStore,
    StoreError,
)

LOGGER = "infertel_exporters.sqlite"


def _metrics_data():
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("t").create_counter("c").add(1)
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


def test_garbage_file_fails_without_raising(tmp_path: Path, span_factory, caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "garbage.db"
    db.write_bytes(b"this is not a database at all " * 500)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    exporter = SQLiteSpanExporter(db, retention=None)
    assert exporter.export([span_factory(1, time.time_ns())]).name == "FAILURE"
    assert exporter.export([span_factory(2, time.time_ns())]).name == "FAILURE"
    exporter.shutdown()
    messages = [r.getMessage() for r in caplog.records if r.name.startswith(LOGGER)]
    assert len(messages) == 1  # rate-limited: one line for the same kind of failure
    assert str(db) in messages[0] and "could not write 1 spans" in messages[0] and "StoreError" in messages[0]
    assert db.read_bytes().startswith(b"this is not a database")  # never overwritten
    with pytest.raises(StoreError), SQLiteStore(db) as broken:
        broken.counts()  # the read API does raise


def test_pages_corrupted_under_a_running_exporter(tmp_path: Path, span_factory, caplog) -> None:
    db = tmp_path / "t.db"
    exporter = SQLiteSpanExporter(db, retention=None)
    now = time.time_ns()
    assert exporter.export([span_factory(i, now, padding=500) for i in range(200)]).name == "SUCCESS"
    exporter.shutdown()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    raw = bytearray(db.read_bytes())
    raw[4096:] = b"\xa5" * (len(raw) - 4096)  # every page after the first one is garbage
    db.write_bytes(bytes(raw))
    caplog.set_level(logging.WARNING, logger=LOGGER)
    exporter = SQLiteSpanExporter(db, retention=None)
    assert exporter.export([span_factory(1000, now)]).name == "FAILURE"
    metric_exporter = SQLiteMetricExporter(db, retention=None)
    assert metric_exporter.export(_metrics_data()).name == "FAILURE"
    exporter.shutdown()
    metric_exporter.shutdown()
    assert any("could not write" in r.getMessage() for r in caplog.records)


def test_locked_file_times_out_then_recovers(tmp_path: Path, span_factory, caplog) -> None:
    db = tmp_path / "t.db"
    with SQLiteStore(db) as store:
        store.counts()  # create the schema
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    caplog.set_level(logging.WARNING, logger=LOGGER)
    spans = SQLiteSpanExporter(db, retention=None, timeout_millis=300)
    metrics = SQLiteMetricExporter(db, retention=None)
    logs = SQLiteLogExporter(db, retention=None, timeout_millis=200)
    try:
        t0 = time.monotonic()
        assert spans.export([span_factory(1, time.time_ns())]).name == "FAILURE"
        assert 0.25 <= time.monotonic() - t0 < 3.0
        t0 = time.monotonic()
        assert metrics.export(_metrics_data(), timeout_millis=150).name == "FAILURE"  # the call's own bound
        assert time.monotonic() - t0 < 3.0
        assert logs.export([]).name == "SUCCESS"  # nothing to write needs no lock
        assert any("stayed locked" in r.getMessage() for r in caplog.records)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert spans.export([span_factory(2, time.time_ns())]).name == "SUCCESS"
    assert metrics.export(_metrics_data()).name == "SUCCESS"
    for exporter in (spans, metrics, logs):
        exporter.shutdown()
    with SQLiteStore(db) as store:
        assert store.counts()["spans"] == 1
        assert store.counts()["metric_points"] == 1


def test_newer_schema_is_refused(tmp_path: Path, span_factory, caplog) -> None:
    db = tmp_path / "t.db"
    with SQLiteStore(db) as store:
        store.counts()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    caplog.set_level(logging.WARNING, logger=LOGGER)
    exporter = SQLiteSpanExporter(db, retention=None)
    assert exporter.export([span_factory(1, time.time_ns())]).name == "FAILURE"
    exporter.shutdown()
    assert any("schema version 99" in r.getMessage() for r in caplog.records)


def test_unwritable_path_and_shutdown(tmp_path: Path, span_factory) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    exporter = SQLiteSpanExporter(blocker / "sub" / "t.db", retention=None)
    assert exporter.export([span_factory(1, time.time_ns())]).name == "FAILURE"
    exporter.shutdown()
    ok = SQLiteSpanExporter(tmp_path / "ok.db", retention=None)
    ok.shutdown()
    assert ok.export([span_factory(1, time.time_ns())]).name == "FAILURE"
    assert ok.force_flush() is False
    with pytest.raises(ValueError, match="timeout_millis"):
        SQLiteSpanExporter(tmp_path / "x.db", timeout_millis=0)
