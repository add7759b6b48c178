"""Closed coarse ``metric:`` buckets kept between reads (``_metric_cache``): same figures as a fresh read, always."""

from __future__ import annotations

import os
import sqlite3
import warnings
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from metric_data_support import at_time
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from infertel import semconv
from infertel_exporters.sqlite import SQLiteMetricExporter, SQLiteStore, _metric_cache, _metric_read
from infertel_exporters.sqlite._metric_cache import MetricPieces, Piece, SettledSteps

S = 10**9
T0 = 490_300 * 3600 * S  # a multiple of 1 h
NAMES = {
    "infertel.requests": "sum",
    "gen_ai.server.request.duration": "histogram",
    "infertel.gen_ai.in_flight": "gauge",
}


class Process:
    """One process with a real MeterProvider: a counter, a histogram and a gauge per model, collected on demand."""

    def __init__(self, resource: Resource, seed: int) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader], resource=resource)
        meter = self.provider.get_meter("infertel")
        self.duration = meter.create_histogram("gen_ai.server.request.duration", unit="s")
        self.requests = meter.create_counter("infertel.requests", unit="{request}")
        self.gauge = meter.create_gauge("infertel.gen_ai.in_flight", unit="{request}")
        self.seed = seed
        self.k = 0

    def collect(self, time_ns: int) -> Any:
        self.k += 1
        k, seed = self.k, self.seed
        for m in range(2 if k > 5 else 1):  # a second series appears after a few exports
            attrs = {semconv.GEN_AI_REQUEST_MODEL: f"m{m}"}
            for _ in range((k * 7 + m + seed) % 4):
                self.duration.record((k * 7 + m + seed) % 13 / 4, attrs)
            self.requests.add((k + seed) % 5 + m, attrs)
            self.gauge.set((k + m + seed) % 6, attrs)
        return at_time(self.reader.get_metrics_data(), time_ns)


def _reads(conn: sqlite3.Connection, pieces: MetricPieces, end: int) -> list[tuple[Any, Any]]:
    """Every coarse read the dashboard makes near ``end`` (1 h at 1 min, 6 h at 10 min, 24 h at 1 h): kept, fresh."""
    out = []
    for name, kind in NAMES.items():
        series = {tuple(r) for r in conn.execute("SELECT resource_id, attributes FROM metric_series WHERE name = ?",
                                                 (name,))}  # fmt: skip
        for counted in (True, False) if kind != "histogram" else (True,):
            for tier, span_s in ((60, 3600), (600, 6 * 3600), (3600, 24 * 3600)):
                lo = max(T0, end - span_s * S)
                lo -= lo % (tier * S)
                args = (conn, name, kind, counted, tier, lo, end, series)
                out.append((_metric_read.buckets(*args, reuse=pieces), _metric_read.buckets(*args, reuse=None)))
    return out


def test_kept_buckets_read_as_fresh_ones_while_points_arrive_late_data_included(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    processes = [Process(Resource({"service.name": "api", "process.pid": 1}), 0),
                 Process(Resource({"service.name": "batch"}), 2)]  # fmt: skip
    exporter = SQLiteMetricExporter(path, retention=None)
    exporter.store.counts()  # creates the file
    pieces = MetricPieces()
    compared = 0
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        for k in range(1, 13 * 60 // 10 * 10 + 1):  # 130 minutes of exports every 10 s (batch: every 30 s)
            t = T0 + (10 * k - 3) * S
            for i, process in enumerate(processes):
                if i == 0 or k % 3 == 0:
                    assert exporter.export(process.collect(t)).name == "SUCCESS"
            if k % 7 == 0:  # a dashboard refreshing every 70 s, its range ending now
                for kept, fresh in _reads(conn, pieces, t + 2 * S):
                    assert kept == fresh
                    compared += sum(map(len, fresh.values()))
            if k == 600:  # a new process's first export, 40 minutes late: into buckets already kept
                before = [len(fresh) for _kept, fresh in _reads(conn, pieces, t + 2 * S)]
                late = Process(Resource({"service.name": "late", "process.pid": 3}), 1)
                assert exporter.export(late.collect(t - 2400 * S)).name == "SUCCESS"
                misses = pieces.stats()["misses"]
                after = []
                for kept, fresh in _reads(conn, pieces, t + 2 * S):
                    assert kept == fresh
                    after.append(len(fresh))
                assert pieces.stats()["misses"] > misses  # the fingerprints moved: read afresh
                gained = [a - b for a, b in zip(after, before, strict=True)]
                assert gained == [1] * 6 + [0] * 3 + [1] * 6  # its one series in each read (no histogram point yet)
    exporter.shutdown()
    stats = pieces.stats()
    assert compared > 20_000
    assert stats["hits"] > 5 * stats["misses"] > 0


def test_store_timeseries_reuses_kept_buckets_and_matches_a_cold_read(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    process = Process(Resource({"service.name": "api"}), 0)
    exporter = SQLiteMetricExporter(path, retention=None)
    for k in range(1, 800):
        assert exporter.export(process.collect(T0 + 10 * k * S)).name == "SUCCESS"
    end = T0 + 7995 * S
    queries = ["metric:infertel.requests", "metric:gen_ai.server.request.duration:p95", "in_flight",
               "metric:infertel.gen_ai.in_flight"]  # fmt: skip
    _metric_cache.KEPT.clear()
    with SQLiteStore(path, read_only=True) as reader:
        first = [reader.timeseries(q, end - 3600 * S, end, 60, group_by=("model",)) for q in queries]
        # the two gauge reads share their buckets (one kept piece): the second reuses the first's
        assert len(_metric_cache.KEPT) == 3 and _metric_cache.KEPT.stats() == {"hits": 1, "misses": 0}
        again = [reader.timeseries(q, end - 3600 * S, end, 60, group_by=("model",)) for q in queries]
        assert _metric_cache.KEPT.stats() == {"hits": 5, "misses": 0}
        assert again == first
        # a page's chart asks for its last minutes only (dashboard SeriesCache): kept apart, the 1 h pieces stay
        tails = [reader.timeseries(q, end - 180 * S, end, 60, group_by=("model",)) for q in queries]
        assert [[s.points for s in t] for t in tails] == [[s.points[-4:] for s in f] for f in first]
        assert again == [reader.timeseries(q, end - 3600 * S, end, 60, group_by=("model",)) for q in queries]
        assert _metric_cache.KEPT.stats() == {"hits": 10, "misses": 0}
        # a new point in the current minute is read at once (the last buckets are read every call)
        assert exporter.export(process.collect(end + S)).name == "SUCCESS"
        later = [reader.timeseries(q, end - 3600 * S, end + 2 * S, 60, group_by=("model",)) for q in queries]
        _metric_cache.KEPT.clear()
        cold = [reader.timeseries(q, end - 3600 * S, end + 2 * S, 60, group_by=("model",)) for q in queries]
    exporter.shutdown()
    assert later == cold
    assert later[0] != first[0]
    assert sum(v is not None for s in cold[0] for _, v in s.points) == 2 * 61  # 2 models, 61 minutes


STORE_READS = [  # (query, range s, step s, group_by, where): the dashboard's and other steps, labels and filters
    ("metric:infertel.requests", 3600, 60, ("model",), None),
    ("metric:infertel.requests", 6 * 3600, 1800, ("service",), None),
    ("metric:infertel.requests:avg", 3600, 120, (), None),
    ("metric:gen_ai.server.request.duration", 3600, 60, ("model",), None),
    ("metric:gen_ai.server.request.duration:p50", 24 * 3600, 1800, ("model", "service"), None),
    ("metric:gen_ai.server.request.duration:p99", 3600, 600, (), {"service": "api"}),
    ("in_flight", 3600, 60, ("model",), None),
    ("metric:infertel.gen_ai.in_flight", 24 * 3600, 1800, ("model",), None),
    ("metric:infertel.gen_ai.in_flight:max", 3600, 180, ("service",), {"model": "m1"}),
    ("metric:infertel.gen_ai.in_flight:last", 24 * 3600, 3600, (), None),
]


def test_store_reads_with_kept_steps_match_cold_reads_while_points_arrive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.db"
    processes = [Process(Resource({"service.name": "api", "process.pid": 1}), 0),
                 Process(Resource({"service.name": "batch"}), 2)]  # fmt: skip
    exporter = SQLiteMetricExporter(path, retention=None)
    exporter.store.counts()
    _metric_cache.clear()
    compared = 0
    with SQLiteStore(path, read_only=True) as reader:
        for k in range(1, 100 * 6 + 1):  # 100 minutes of exports every 10 s (batch: every 30 s)
            t = T0 + (10 * k - 3) * S
            for i, process in enumerate(processes):
                if i == 0 or k % 3 == 0:
                    assert exporter.export(process.collect(t)).name == "SUCCESS"
            if k == 450:  # a late export of a new process, 30 minutes back: kept buckets and steps read afresh
                late = Process(Resource({"service.name": "api", "process.pid": 3}), 1)
                assert exporter.export(late.collect(t - 1800 * S)).name == "SUCCESS"
            if k % 5 == 0 or k == 450:
                end = t + 2 * S
                for query, span, step, group_by, where in STORE_READS:
                    got = reader.timeseries(query, max(T0, end - span * S), end, step, group_by=group_by, where=where)
                    with monkeypatch.context() as cold:  # the same read with nothing kept
                        cold.setattr(_metric_cache, "KEPT", MetricPieces())
                        cold.setattr(_metric_cache, "STEPS", SettledSteps())
                        want = reader.timeseries(query, max(T0, end - span * S), end, step, group_by=group_by,
                                                 where=where)  # fmt: skip
                    assert got == want, (k, query, step)
                    compared += sum(v is not None for s in want for _, v in s.points)
    exporter.shutdown()
    assert compared > 30_000
    assert _metric_cache.KEPT.stats()["hits"] > 10 * _metric_cache.KEPT.stats()["misses"]
    _metric_cache.clear()


def _piece(conn: sqlite3.Connection, items: int) -> Piece:
    return Piece(conn, 0, 60 * S, {}, {(1, "{}"): {b * 60 * S: [1, None, None] for b in range(items)}}, {}, object())


def test_kept_pieces_are_bounded() -> None:
    with closing(sqlite3.connect(":memory:")) as conn:  # closed here, not left to the collector (3.13 warns)
        _bounded(conn)


def _bounded(conn: sqlite3.Connection) -> None:
    pieces = MetricPieces(max_entries=2)
    for key in ("a", "b", "c"):
        pieces.put((key,), _piece(conn, 3))
    assert len(pieces) == 2 and pieces.get(("a",)) is None and pieces.get(("c",)) is not None
    pieces.put(("big",), _piece(conn, _metric_cache.MAX_ITEMS + 1))  # one read over too many series and buckets
    assert pieces.get(("big",)) is None and len(pieces) == 2
    many = MetricPieces(max_entries=100)
    for k in range(2 * _metric_cache.MAX_TOTAL // _metric_cache.MAX_ITEMS + 1):  # all of them: past the total bound
        many.put((k,), _piece(conn, _metric_cache.MAX_ITEMS))
    assert len(many) == _metric_cache.MAX_TOTAL // _metric_cache.MAX_ITEMS
    assert many.get((0,)) is None and many.get((4,)) is not None
    steps = SettledSteps(max_entries=3)
    for key in "abcd":
        steps.put((key,), _metric_cache.Steps(conn, object(), 0, 0, {("m",): {0: 1.0}}))
    assert len(steps) == 3 and steps.get(("a",)) is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_starts_with_nothing_kept_and_a_free_lock() -> None:
    with closing(sqlite3.connect(":memory:")) as conn:
        _forked(conn)


def _forked(conn: sqlite3.Connection) -> None:
    kept = _metric_cache.KEPT
    kept.put(("parent",), _piece(conn, 2))
    with kept._lock:  # held by this thread while fork() copies it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a multi-threaded process (3.12+)
            pid = os.fork()
        if pid == 0:
            code = 1
            try:
                kept.put(("child",), _piece(conn, 1))  # would block on the inherited lock
                code = 0 if len(kept) == 1 and kept.get(("parent",)) is None else 2
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert kept.get(("parent",)) is not None
    kept.clear()
