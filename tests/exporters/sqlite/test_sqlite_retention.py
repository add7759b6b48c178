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
    # 5 s into a 10 s rollup bucket: the 120 old spans (1 ns apart) share one 10 s bucket whatever the wall clock
    now = time.time_ns() // 10**10 * 10**10 + 5 * 10**9
    exporter = SQLiteSpanExporter(db, retention=None)
    old = [span_factory(i, now - 10 * DAY_NS + i) for i in range(120)]
    new = [span_factory(1000 + i, now - DAY_NS + i) for i in range(30)]
    assert exporter.export(old + new).name == "SUCCESS"
    exporter.shutdown()
    with SQLiteStore(db) as store:
        result = store.apply_retention(policy=Retention(max_age_s=2 * 86_400, max_bytes=None, chunk_rows=50))
        # the old spans' 10 s rollup buckets go with them (3 models x 1 bucket of old spans; the 1 min and 1 h
        # buckets are younger than 30 days)
        assert result.deleted == {
            "spans": 120,
            "metric_points": 0,
            "logs": 0,
            "span_rollups": 3,
            "span_error_rollups": 0,
            "metric_rollups": 0,
        }
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


def test_rollup_retention_keeps_buckets_that_remaining_raw_rows_feed(tmp_path: Path, span_factory) -> None:
    db = str(tmp_path / "t.db")
    now = 490_300 * 3600 * 10**9  # a whole hour
    exporter = SQLiteSpanExporter(db, retention=None)
    # one span 40 days ago, one 2 days ago, one now
    spans = [span_factory(0, now - 40 * DAY_NS), span_factory(1, now - 2 * DAY_NS), span_factory(2, now)]
    assert exporter.export(spans).name == "SUCCESS"
    exporter.shutdown()
    with SQLiteStore(db) as store:
        # raw rows kept 50 days, rollups 1 day: the rollups of the remaining raw rows stay anyway
        keep_raw = Retention(max_age_s=50 * 86_400, rollup_max_age_s=86_400, max_bytes=None)
        result = store.apply_retention(now_ns=now, policy=keep_raw)
        assert result.deleted == {
            "spans": 0,
            "metric_points": 0,
            "logs": 0,
            "span_rollups": 0,
            "span_error_rollups": 0,
            "metric_rollups": 0,
        }
        assert [r.requests for r in store.overview(now - 41 * DAY_NS, now + DAY_NS, group_by=())] == [3]
        # default bounds: the raw row of 40 days ago goes, so do its 10 s (with the raw rows) and
        # 1 min / 10 min / 1 h rollups (older than 30 days); the 2-day-old rows stay with all their rollups
        result = store.apply_retention(now_ns=now, policy=Retention(max_bytes=None))
        assert result.deleted == {
            "spans": 1,
            "metric_points": 0,
            "logs": 0,
            "span_rollups": 4,
            "span_error_rollups": 0,
            "metric_rollups": 0,
        }
        assert [r.requests for r in store.overview(now - 41 * DAY_NS, now + DAY_NS, group_by=())] == [2]
        assert [r.requests for r in store.overview(now - 3 * DAY_NS, now - DAY_NS, group_by=())] == [1]


def test_rollup_retention_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from infertel.environment_variables import INFERTEL_STORE_ROLLUP_MAX_AGE_SECONDS

    assert Retention.from_environment() == Retention(max_age_s=3 * 86_400, rollup_max_age_s=30 * 86_400)
    monkeypatch.setenv(INFERTEL_STORE_ROLLUP_MAX_AGE_SECONDS, "0")
    assert Retention.from_environment().rollup_max_age_s is None
    monkeypatch.setenv(INFERTEL_STORE_ROLLUP_MAX_AGE_SECONDS, "a week")
    with pytest.raises(ValueError, match=f"{INFERTEL_STORE_ROLLUP_MAX_AGE_SECONDS} must be a non-negative number"):
        Retention.from_environment()
    with pytest.raises(ValueError, match="rollup_max_age_s must be a positive number"):
        Retention(rollup_max_age_s=0)
