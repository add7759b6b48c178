"""Schema 5's metric reads (raw and marked points) against schema 4's rollups of the same points.

Schema 4 summed every point's increase into 10 s / 1 min / 10 min / 1 h rows; schema 5 reads the
increase of a bucket from its marked points. Counters and histograms must read the same; gauges are
sampled in the coarse buckets (the latest value stays exact).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from metric_data_support import at_time
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from infertel import semconv
from infertel_exporters.sqlite import (
    Retention,
    Series,
    SQLiteMetricExporter,
    SQLiteStore,
    _metric_legacy,
    _metric_rollups,
)
from infertel_exporters.sqlite._migrate import services
from infertel_exporters.sqlite._tiers import COARSE

S = 10**9
T0 = 490_278 * 3600 * S  # a multiple of 1 h
END = T0 + 4 * 3600 * S
RESOURCES = [Resource({"service.name": "api", "process.pid": 1}), Resource({"service.name": "batch"})]


def _run(resource: Resource, times: list[int], seed: int, models: int = 2) -> list[tuple[int, Any]]:
    """One process: a real MeterProvider's cumulative collections (histogram, counter, gauge) at ``times``."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=resource)
    meter = provider.get_meter("infertel")
    duration = meter.create_histogram("gen_ai.server.request.duration", unit="s")
    requests = meter.create_counter("infertel.requests", unit="{request}")
    gauge = meter.create_gauge("infertel.gen_ai.in_flight", unit="{request}")
    out = []
    for k, t in enumerate(times):
        for m in range(models if k > 3 else 1):  # a second series appears after a few exports
            attrs = {semconv.GEN_AI_REQUEST_MODEL: f"m{m}"}
            for _ in range((k * 7 + m + seed) % 4):
                duration.record((k * 7 + m + seed) % 13 / 4, attrs)
            requests.add((k + seed) % 5 + m, attrs)
            gauge.set((k + m + seed) % 6, attrs)
        out.append((t, at_time(reader.get_metrics_data(), t)))
    provider.shutdown()
    return out


def _exports(late: bool = False) -> list[Any]:
    """Two services; "api" restarts (a new start time, same series) after a 40 min gap; exports every 10 or 47 s.

    ``late``: every export of "api" first, then those of "batch" (into buckets long past).
    """
    exports = _run(RESOURCES[0], [T0 + (3 + 10 * k) * S for k in range(400)], 0)  # 0 .. 66 min
    exports += _run(RESOURCES[0], [T0 + (6000 + 10 * k) * S for k in range(700)], 3)  # restart at 100 min
    exports += _run(RESOURCES[1], [T0 + (47 * k + 5) * S for k in range(300)], 1, models=3)
    if late:
        return [
            data
            for _t, data in sorted(exports, key=lambda e: (e[1].resource_metrics[0].resource is RESOURCES[1], e[0]))
        ]
    return [data for _t, data in sorted(exports, key=lambda e: e[0])]


_OPEN: list[sqlite3.Connection] = []


@pytest.fixture(autouse=True)
def _close_schema4_databases() -> Iterator[None]:
    """Close what ``_schema4`` opened (Python 3.13 warns about a connection left to the garbage collector)."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def _schema4(raw: list[tuple[Any, ...]], service_of: dict[int, str]) -> sqlite3.Connection:
    """Schema 4's rollups of ``raw`` (every point's increase, into every step), closed, in a fresh database."""
    conn = sqlite3.connect(":memory:")
    _OPEN.append(conn)
    _metric_rollups.register_functions(conn)
    for statement in (*_metric_rollups.CREATE, "CREATE TABLE rollup_marks (kind TEXT, step INTEGER, done_ns INTEGER)"):
        conn.execute(statement)
    series, rollups = _metric_rollups.rollup_rows(raw, _metric_rollups.MetricState(), service_of.__getitem__, None)
    conn.executemany(_metric_rollups.SERIES_INSERT, series)
    conn.executemany(_metric_rollups.UPSERT, rollups)
    conn.executemany("INSERT INTO rollup_marks VALUES ('metric', ?, ?)", [(step, END + 10**6 * S) for step in COARSE])
    return conn


def _same(got: list[Series], want: list[Series]) -> None:
    assert [s.labels for s in got] == [s.labels for s in want]
    for g, w in zip(got, want, strict=True):
        assert [b for b, _ in g.points] == [b for b, _ in w.points]
        assert [v for _, v in g.points] == [None if v is None else pytest.approx(v, rel=1e-9) for _, v in w.points]


COUNTED = [
    (f"metric:{name}{stat}", step, group_by)
    for name, stats in (("infertel.requests", ("", ":rate")), ("gen_ai.server.request.duration", ("", ":p50", ":p99")))
    for stat in stats
    for step, group_by in ((10, ("model",)), (60, ("service",)), (120, ()), (600, ("model", "service")), (3600, ()),
                           (1200, ("model",)))
]  # fmt: skip
RANGES = [(T0, END), (T0 + 1234 * S, T0 + 5432 * S), (T0 + 3000 * S, T0 + 3700 * S), (T0 + 7000 * S, T0 + 7310 * S)]


def test_counters_and_histograms_read_as_schema_4_rollups(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    exports = _exports(late=True)
    for part in (exports[:500], exports[500:]):  # the second writer finds each series' last point in the store
        exporter = SQLiteMetricExporter(path, retention=None)
        for data in part:
            assert exporter.export(data).name == "SUCCESS"
        exporter.shutdown()
    with closing(sqlite3.connect(path)) as conn:
        raw = conn.execute(
            "SELECT name, unit, kind, temporality, monotonic, start_ns, time_ns, attributes, value, histogram,"
            " scope_name, resource_id FROM metric_points ORDER BY time_ns, id"
        ).fetchall()
        marks = dict(conn.execute("SELECT mark, count(*) FROM metric_points GROUP BY mark").fetchall())
        expected = _schema4(raw, services(conn))
    # 15 series start (7); api's 2 counters and 2 histograms restart at 100 min (4 + 2: the 10 min bucket they
    # open); the other points opening a minute, 10 minutes or an hour: 1, 2, 3
    assert marks[7] == 15 and marks[6] == 4 and 4 not in marks and 5 not in marks
    assert marks[1] > marks[2] > marks[3] > 0
    checked = 0
    with SQLiteStore(path, read_only=True) as reader:
        for lo, hi in RANGES:
            for query, step, group_by in COUNTED:
                got = reader.timeseries(query, lo, hi, step, group_by=group_by)
                want = _metric_legacy.legacy(expected, query, lo, hi, step, group_by, None)
                _same(got, want)
                checked += sum(v is not None for s in want for _, v in s.points)
    assert checked > 3000


def test_gauges_latest_value_exact_and_coarse_buckets_sampled(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    exporter = SQLiteMetricExporter(path, retention=None)
    for data in _exports():
        assert exporter.export(data).name == "SUCCESS"
    exporter.shutdown()
    with closing(sqlite3.connect(path)) as conn:
        raw = conn.execute(
            "SELECT name, unit, kind, temporality, monotonic, start_ns, time_ns, attributes, value, histogram,"
            " scope_name, resource_id FROM metric_points ORDER BY time_ns, id"
        ).fetchall()
        expected = _schema4(raw, services(conn))
    query = "metric:infertel.gen_ai.in_flight"
    with SQLiteStore(path, read_only=True) as reader:
        for lo, hi in RANGES:
            for stat in ("avg", "min", "max", "sum", "last"):  # 10 s buckets: from the raw points, exact
                for group_by in (("model",), ()):
                    _same(reader.timeseries(f"{query}:{stat}", lo, hi, 10, group_by=group_by),
                          _metric_legacy.legacy(expected, f"{query}:{stat}", lo, hi, 10, group_by, None))  # fmt: skip
            for step in (60, 600, 3600):  # the latest value: exact at every step
                _same(
                    reader.timeseries(f"{query}:last", lo, hi, step, group_by=("model", "service")),
                    _metric_legacy.legacy(expected, f"{query}:last", lo, hi, step, ("model", "service"), None),
                )
                # sampled: the bucket-opening points lie between the bucket's minimum and maximum
                lows = _metric_legacy.legacy(expected, f"{query}:min", lo, hi, step, ("model", "service"), None)
                highs = _metric_legacy.legacy(expected, f"{query}:max", lo, hi, step, ("model", "service"), None)
                for stat in ("avg", "min", "max"):
                    got = reader.timeseries(f"{query}:{stat}", lo, hi, step, group_by=("model", "service"))
                    assert [s.labels for s in got] == [s.labels for s in lows]
                    for g, low, high in zip(got, lows, highs, strict=True):
                        for (_b, v), (_, a), (_, z) in zip(g.points, low.points, high.points, strict=True):
                            assert (v is None) == (a is None) and (v is None or a <= v <= z)


def test_migrated_store_reads_its_marked_points_as_its_schema_4_rollups(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    shutil.copyfile(Path(__file__).parent / "data" / "store-v4.db", path)
    t0 = 1_764_000_000 * S
    queries = [("metric:gen_ai.requests", ("service",)), ("metric:gen_ai.server.request.duration", ()),
               ("metric:gen_ai.server.request.duration:p50", ()), ("in_flight", ("model",))]  # fmt: skip
    with SQLiteStore(path) as store:  # migrates: these buckets come from the schema-4 rollups
        before = [store.timeseries(q, t0, t0 + 60 * S, step, group_by=g) for q, g in queries for step in (10, 60)]
    with closing(sqlite3.connect(path)) as conn, conn:
        assert _metric_legacy.switch_ns(conn) == t0 + 3600 * S
        conn.execute("DELETE FROM rollup_marks WHERE kind = ?", (_metric_legacy.KIND,))
    with SQLiteStore(path, read_only=True) as reader:  # now from the marked points
        after = [reader.timeseries(q, t0, t0 + 60 * S, step, group_by=g) for q, g in queries for step in (10, 60)]
    assert after == before
    assert before[0] == [Series({"service": "chat-api"}, [(t0 + i * 10 * S, v) for i, v in
                                                          enumerate([None, 0.7, 0.6, 0.7, None, None])])]  # fmt: skip


def test_retention_keeps_the_marked_points_for_the_rollup_age(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    exporter = SQLiteMetricExporter(path, retention=None)
    for data in _exports():
        assert exporter.export(data).name == "SUCCESS"
    exporter.shutdown()
    query = ("metric:infertel.requests", T0, END, 3600)
    with SQLiteStore(path) as store:
        hourly = store.timeseries(*query, group_by=("model",))
        ten_s = store.timeseries("metric:infertel.requests", T0, END, 10, group_by=())
        with closing(sqlite3.connect(path)) as conn:
            marked = conn.execute("SELECT count(*) FROM metric_points WHERE mark > 0").fetchone()[0]
            old = conn.execute(
                "SELECT count(*) FROM metric_points WHERE mark = 0 AND time_ns < ?", (END - 3600 * S,)
            ).fetchone()[0]
        # raw points older than 1 h before END go; the marked ones stay for the rollups' 30 days
        result = store.apply_retention(now_ns=END, policy=Retention(max_age_s=3600, max_bytes=None))
        with closing(sqlite3.connect(path)) as conn:
            kept = conn.execute("SELECT count(*), min(time_ns) FROM metric_points WHERE mark = 0").fetchone()
            assert conn.execute("SELECT count(*) FROM metric_points WHERE mark > 0").fetchone()[0] == marked
        assert result.deleted["metric_points"] == old > 4000
        assert kept[1] >= END - 3600 * S
        assert store.timeseries(*query, group_by=("model",)) == hourly  # the hours read the same
        after = store.timeseries("metric:infertel.requests", T0, END, 10, group_by=())[0].points
        assert after[-360:] == ten_s[0].points[-360:]  # the last hour's 10 s buckets are whole
        # past the rollup age, the marked points go too
        late = END + 31 * 24 * 3600 * S
        store.apply_retention(now_ns=late, policy=Retention(max_age_s=3600, max_bytes=None))
        assert store.counts()["metric_points"] == 0
