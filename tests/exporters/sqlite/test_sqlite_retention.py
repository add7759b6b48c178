from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from infertel.environment_variables import INFERTEL_STORE_MAX_AGE_SECONDS, INFERTEL_STORE_MAX_BYTES
from infertel_exporters.sqlite import Retention, SQLiteSpanExporter, SQLiteStore

DAY_NS = 86_400 * 10**9


def test_retention_by_age_deletes_only_old_rows(tmp_path: Path, span_factory) -> None:
    db = str(tmp_path / "t.db")
    now = time.time_ns()
    exporter = SQLiteSpanExporter(db, retention=None)
    old = [span_factory(i, now - 10 * DAY_NS + i) for i in range(120)]
    new = [span_factory(1000 + i, now - DAY_NS + i) for i in range(30)]
    assert exporter.export(old + new).name == "SUCCESS"
    exporter.shutdown()
    with SQLiteStore(db) as store:
        result = store.apply_retention(policy=Retention(max_age_s=2 * 86_400, max_bytes=None, chunk_rows=50))
        # the old spans' 10 s rollup buckets go with them (3 models x 1 bucket of old spans; the 1 min and 1 h
        # buckets are younger than 30 days)
        assert result.deleted == {"spans": 120, "metric_points": 0, "logs": 0, "span_rollups": 3, "metric_rollups": 0}
        assert result.complete
        remaining = store.spans()
        assert sorted(s.span_id for s in remaining) == sorted(f"{s.context.span_id:016x}" for s in new)
        # moving "now" forward by 10 days removes the rest, and the resource nobody refers to
        later = store.apply_retention(now_ns=now + 10 * DAY_NS, policy=Retention(max_age_s=2 * 86_400, max_bytes=None))
        assert later.deleted["spans"] == 30
        assert store.counts() == {"spans": 0, "metric_points": 0, "logs": 0, "resources": 0}
        hours = store.overview(now - 12 * DAY_NS, now + DAY_NS, group_by=())
        assert [row.requests for row in hours] == [150]  # the 1 min / 1 h rollups outlive the raw rows


def test_retention_by_size_keeps_newest_and_shrinks_the_file(tmp_path: Path, span_factory) -> None:
    db = str(tmp_path / "t.db")
    now = time.time_ns()
    exporter = SQLiteSpanExporter(db, retention=None)
    spans = [span_factory(i, now + i, padding=900) for i in range(3000)]  # ~3.5 MB
    for start in range(0, len(spans), 500):
        assert exporter.export(spans[start : start + 500]).name == "SUCCESS"
    exporter.shutdown()
    bound = 256 * 1024
    with SQLiteStore(db) as store:
        before = os.path.getsize(db)
        assert before > 8 * bound
        result = store.apply_retention(policy=Retention(max_age_s=None, max_bytes=bound, chunk_rows=200))
        assert result.complete
        assert result.used_bytes <= bound
        kept = store.spans(limit=None)
        assert 0 < len(kept) < 300
        newest = sorted(f"{s.context.span_id:016x}" for s in spans[-len(kept) :])
        assert sorted(s.span_id for s in kept) == newest  # the oldest went first
    assert os.path.getsize(db) <= bound * 1.25  # freed pages went back to the file system
    wal = Path(db + "-wal")
    assert not wal.exists() or wal.stat().st_size <= bound


def test_background_retention_thread_runs_and_stops(tmp_path: Path, span_factory) -> None:
    import threading

    db = str(tmp_path / "t.db")
    now = time.time_ns()
    policy = Retention(max_age_s=60, max_bytes=None, interval_s=0.05)
    exporter = SQLiteSpanExporter(db, retention=policy)
    assert exporter.export([span_factory(i, now - DAY_NS) for i in range(10)]).name == "SUCCESS"
    with SQLiteStore(db) as reader:
        deadline = time.monotonic() + 10
        while reader.counts()["spans"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert reader.counts()["spans"] == 0
        assert exporter.export([span_factory(99, now)]).name == "SUCCESS"  # fresh rows are kept
        time.sleep(0.2)
        assert reader.counts()["spans"] == 1
    housekeeper = exporter.store._housekeeper
    assert housekeeper is not None
    thread = housekeeper._thread
    assert thread.daemon and thread.is_alive() and thread in threading.enumerate()
    exporter.shutdown()
    assert not thread.is_alive()


def test_retention_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INFERTEL_STORE_MAX_AGE_SECONDS, "3600")
    monkeypatch.setenv(INFERTEL_STORE_MAX_BYTES, "none")
    assert Retention.from_environment() == Retention(max_age_s=3600.0, max_bytes=None)
    monkeypatch.setenv(INFERTEL_STORE_MAX_BYTES, "-5")
    with pytest.raises(ValueError, match=INFERTEL_STORE_MAX_BYTES):
        Retention.from_environment()
    with pytest.raises(ValueError, match="max_age_s"):
        Retention(max_age_s=-1)
