"""Scheduled actions (interval, daily, compaction, spool cleanup) and the daily digest, recorded like remediations."""

from __future__ import annotations

import datetime
import fcntl
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from infertel import Distribution, SeriesStats, Snapshot
from infertel.alerting import AlertEngine, ReplaySource, ThresholdRule
from infertel.alerting.channels import CallableChannel
from infertel.alerting.digest import build_digest, daily_digest, digest_data, digest_text
from infertel.alerting.schedule import ScheduledAction, Scheduler, clean_spool, compact_store


def test_daily_and_interval_due_times() -> None:
    tz = datetime.timezone(datetime.timedelta(hours=2))
    action = ScheduledAction("x", lambda: None, daily_at=datetime.time(3, 30), timezone=tz)
    now = datetime.datetime(2026, 12, 7, 1, 0, tzinfo=tz).timestamp()
    assert action.following(now) == datetime.datetime(2026, 12, 7, 3, 30, tzinfo=tz).timestamp()
    later = datetime.datetime(2026, 12, 7, 3, 30, tzinfo=tz).timestamp()
    assert action.following(later) == datetime.datetime(2026, 12, 8, 3, 30, tzinfo=tz).timestamp()
    assert ScheduledAction("y", lambda: None, every_s=90).following(1000.0) == 1090.0


def test_scheduler_runs_on_interval_and_records(
    tmp_path: Path, tracer_provider: Any, span_exporter: InMemorySpanExporter
) -> None:
    engine = AlertEngine([], store=str(tmp_path / "alerts.db"))
    scheduler = Scheduler(engine=engine, tracer_provider=tracer_provider)
    count = {"n": 0}

    def tick() -> str:
        count["n"] += 1
        return f"tick {count['n']}"

    scheduler.add("tick", tick, every_s=0.3)
    scheduler.add("broken", lambda: 1 / 0, every_s=0.3)
    scheduler.start()
    time.sleep(1.4)
    assert scheduler.shutdown()
    ticks = [r for r in scheduler.runs if r.action == "tick"]
    assert 2 <= len(ticks) <= 5
    assert [r.message for r in ticks] == [f"tick {i}" for i in range(1, len(ticks) + 1)]
    broken = [r for r in scheduler.runs if r.action == "broken"]
    assert {(r.outcome, r.message) for r in broken} == {("failed", "ZeroDivisionError: division by zero")}
    spans = [s for s in span_exporter.get_finished_spans() if s.name == "infertel.remediation broken"]
    assert spans and spans[0].status.status_code == StatusCode.ERROR
    assert dict(spans[0].attributes) == {
        "infertel.remediation.action": "broken",
        "infertel.remediation.trigger": "schedule",
        "infertel.remediation.dry_run": False,
        "error.type": "ZeroDivisionError",
        "infertel.remediation.outcome": "failed",
    }
    history = [(e["fingerprint"], e["event"], e["message"]) for e in reversed(engine.history(limit=50))]
    assert ("schedule:tick", "scheduled_action", "tick: ok: tick 1") in history
    assert ("schedule:broken", "scheduled_action", "broken: failed: ZeroDivisionError: division by zero") in history
    engine.shutdown()


def test_timeout_then_busy_and_dry_run(tracer_provider: Any) -> None:
    release = threading.Event()
    scheduler = Scheduler(tracer_provider=tracer_provider)
    scheduler.add("slow", lambda: release.wait(5), every_s=3600, timeout_millis=100)
    scheduler.add("drop-caches", lambda: pytest.fail("a dry run must not run"), every_s=3600, dry_run=True)
    assert (scheduler.run_now("slow").outcome, scheduler.run_now("slow").outcome) == ("timeout", "busy")
    release.set()
    time.sleep(0.05)
    assert scheduler.run_now("slow").outcome == "ok"
    dry = scheduler.run_now("drop-caches")
    assert (dry.outcome, dry.message) == ("dry_run", "dry run: would run drop-caches")


def test_configuration_errors() -> None:
    scheduler = Scheduler()
    with pytest.raises(ValueError, match="exactly one"):
        scheduler.add("a", print)
    with pytest.raises(ValueError, match="daily_at"):
        scheduler.add("a", print, daily_at="25h")
    with pytest.raises(ValueError, match="every_s"):
        scheduler.add("a", print, every_s=0)
    scheduler.add("a", print, every_s=1)
    with pytest.raises(ValueError, match="already exists"):
        scheduler.add("a", print, every_s=1)
    with pytest.raises(ValueError, match="channel"):
        daily_digest(scheduler, [])


def test_compact_store_frees_pages(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA auto_vacuum=INCREMENTAL")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE spans (id INTEGER PRIMARY KEY, body BLOB)")
    db.executemany("INSERT INTO spans (body) VALUES (?)", [(b"x" * 4000,) for _ in range(500)])
    db.commit()
    db.execute("DELETE FROM spans")
    db.commit()
    db.close()
    before = path.stat().st_size
    message = compact_store(path)()
    freed = int(message.split()[1])
    assert freed > 400 and path.stat().st_size < before / 4
    assert message.startswith(f"freed {freed} pages; ")


def test_clean_spool_removes_only_empty_unowned_lanes(tmp_path: Path) -> None:
    def lane(name: str, data: bytes) -> Path:
        folder = tmp_path / "traces" / name
        folder.mkdir(parents=True)
        (folder / "lock").touch()
        (folder / "00000000000000000001.seg").write_bytes(data)
        return folder

    ended, with_data, alive = lane("ended", b""), lane("pending", b"ISP1..."), lane("alive", b"")
    with open(alive / "lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a live exporter owns this lane
        message = clean_spool(tmp_path)()
    assert not ended.exists() and with_data.exists() and alive.exists()
    assert message == "removed 1 empty lane(s) of ended processes; the spool holds 7 bytes"


def _snapshot(window_s: float, p99s: dict[str, float]) -> Snapshot:
    series = {
        (m, "chat"): SeriesStats(
            model=m,
            operation="chat",
            window_s=window_s,
            requests=100,
            latency=Distribution(count=100, quantiles={0.99: v}),
        )
        for m, v in p99s.items()
    }
    return Snapshot(window_s=window_s, time=0.0, series=series)


def test_daily_digest_to_a_channel(tmp_path: Path) -> None:
    source = ReplaySource([('infertel_live_in_flight{gen_ai_request_model="m1"}', "100 100 10 100")], interval_s=60)
    engine = AlertEngine(
        [ThresholdRule("Overloaded", signal="in_flight", threshold=50)],
        source=source,
        store=str(tmp_path / "alerts.db"),
        clock=lambda: time.time(),
    )
    now = time.time()  # the history is stamped by the engine's (wall) clock; the series run on their own times
    for i in range(4):
        engine.evaluate(60.0 * i)
    stats = {
        3600.0: _snapshot(3600.0, {"llama": 3.0, "qwen": 1.0}),
        86400.0: _snapshot(86400.0, {"llama": 2.0, "qwen": 1.5}),
    }
    data = digest_data(engine=engine, stats=stats.__getitem__, now=now)
    assert data["alerts"] == {"fired_today": {"Overloaded": 2}, "firing_now": ["Overloaded"]}
    assert data["regressions"] == [
        {"model": "llama", "operation": "chat", "p99_last_hour_s": 3.0, "p99_last_day_s": 2.0, "change": 0.5}
    ]
    assert digest_text(data).splitlines()[2:] == [
        "SLOs:",
        "  none defined",
        "",
        "Alerts fired in the last 24 h:",
        "  Overloaded: 2",
        "Firing now: Overloaded",
        "",
        "Top latency regressions (p99, last hour vs last day):",
        "  llama chat: 2.000 s -> 3.000 s (+50%)",
    ]
    received: list[dict[str, Any]] = []
    scheduler = Scheduler(engine=engine)
    daily_digest(
        scheduler, [CallableChannel(received.append, name="team")], engine=engine, stats=stats.__getitem__, at="08:00"
    )
    run = scheduler.run_now("daily_digest")
    assert run.outcome == "ok"
    assert run.message == "digest sent to team: 2 alert(s) fired in the last 24 h, 1 firing now, 0 SLO(s) burning"
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.01)
    (payload,) = received
    assert set(payload) == {
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    }
    assert payload["commonLabels"] == {"alertname": "InfertelDailyDigest", "severity": "info"}
    assert payload["alerts"][0]["annotations"]["description"] == digest_text(
        digest_data(engine=engine, stats=stats.__getitem__, now=now)
    ).replace(data["time"], payload["alerts"][0]["startsAt"])
    assert build_digest(now=0)["alerts"][0]["fingerprint"] == build_digest(now=100)["alerts"][0]["fingerprint"]
    engine.shutdown()
