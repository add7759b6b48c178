"""The 1 min / 10 min / 1 h rollups summed from the 10 s ones when a bucket closes equal the direct ones."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from infertel import semconv
from infertel_exporters.sqlite import (
    SQLiteMetricExporter,
    SQLiteSpanExporter,
    SQLiteStore,
    _metric_rollups,
    _span_rollups,
    _tiers,
)
from infertel_exporters.sqlite._encode import ResourceCache
from infertel_exporters.sqlite._migrate import services
from infertel_exporters.sqlite._span_encode import span_rows

S = 10**9
T0 = 490_278 * 3600 * S  # a multiple of 1 h
SCOPE = InstrumentationScope("infertel", "0.1.0")
RESOURCES = [Resource({"service.name": name}) for name in ("api", "batch")]
FAR = T0 + 10**6 * S


def _span(i: int, start: int) -> ReadableSpan:
    model = f"m{i % 3}"
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: model,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: i % 50,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: i % 70,
    }
    if i % 4 == 0:
        attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (i % 9) / 20
        attributes[semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN] = (i % 7) / 500
    error = i % 11 == 0
    if i % 22 == 0:
        attributes[semconv.ERROR_TYPE] = "TimeoutError"
    return ReadableSpan(
        name=f"chat {model}", context=SpanContext(0x5000 + i, i + 1, False, TraceFlags(1)), parent=None,
        resource=RESOURCES[i % 2], attributes=attributes, kind=SpanKind.CLIENT, instrumentation_scope=SCOPE,
        status=Status(StatusCode.ERROR) if error else Status(StatusCode.UNSET),
        start_time=start, end_time=start + (i % 40 + 1) * S // 10,
    )  # fmt: skip


def _rows(conn: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    return sorted(conn.execute(f"SELECT * FROM {table}").fetchall())  # keys are unique: never compares a NULL


def _close_all(path: Path, kind: str) -> None:
    with SQLiteStore(path) as store:
        store._transaction(lambda conn: _tiers.close_before(conn, kind, FAR))


def test_span_tiers_summed_at_close_equal_the_rollups_of_every_span(tmp_path: Path) -> None:
    # 2.5 h of spans, one every 7 s, exported in time order in batches of 64; then a late batch
    # whose spans fall in buckets already closed (the first hour) and in the open one.
    spans = [_span(i, T0 + i * 7 * S) for i in range(1300)]
    late = [_span(5000 + i, T0 + (i * 97 % 9000) * S) for i in range(120)]
    path = tmp_path / "s.db"
    exporter = SQLiteSpanExporter(path, retention=None)
    for i in range(0, len(spans), 64):
        assert exporter.export(spans[i : i + 64]).name == "SUCCESS"
    assert exporter.export(late).name == "SUCCESS"
    exporter.shutdown()

    with closing(sqlite3.connect(path)) as conn, conn:
        done = _tiers.marks(conn, "span")
        assert done == {60: T0 + 9060 * S, 600: T0 + 9000 * S, 3600: T0 + 7200 * S}  # the newest span: 9093 s
        assert conn.execute("SELECT count(*) FROM span_rollups WHERE step = 3600").fetchone() == (12,)  # 2 h x 6
    with SQLiteStore(path, read_only=True) as reader:
        before = (
            reader.overview(T0, T0 + 3 * 3600 * S),
            reader.overview(T0, T0 + 3 * 3600 * S, group_by=("model", "error_type")),
            reader.timeseries("latency_p95", T0, T0 + 3 * 3600 * S, 600),
            reader.timeseries("requests_per_s", T0, T0 + 3 * 3600 * S, 3600, group_by=("service", "error_type")),
            reader.label_values("model"),
        )

    _close_all(path, "span")
    expected = _span_rollups.SpanRollups()
    span_rows(spans + late, ResourceCache(), expected)
    main, errors, models = expected.rows()
    with closing(sqlite3.connect(path)) as conn, conn:
        assert _rows(conn, "span_rollups") == sorted(main)
        assert _rows(conn, "span_error_rollups") == sorted(errors)
        assert _rows(conn, "span_model_rollups") == sorted(models)  # the duration BLOB included
    with SQLiteStore(path, read_only=True) as reader:
        after = (
            reader.overview(T0, T0 + 3 * 3600 * S),
            reader.overview(T0, T0 + 3 * 3600 * S, group_by=("model", "error_type")),
            reader.timeseries("latency_p95", T0, T0 + 3 * 3600 * S, 600),
            reader.timeseries("requests_per_s", T0, T0 + 3 * 3600 * S, 3600, group_by=("service", "error_type")),
            reader.label_values("model"),
        )
    assert after == before
    assert before[4] == ["m0", "m1", "m2"]


def _collections() -> list[Any]:
    """Cumulative collections of a real MeterProvider: histogram, counter, gauge; one every 47 s."""
    out = []
    for r, resource in enumerate(RESOURCES):
        reader = InMemoryMetricReader()
        provider = MeterProvider(metric_readers=[reader], resource=resource)
        meter = provider.get_meter("infertel")
        duration = meter.create_histogram("gen_ai.server.request.duration", unit="s")
        requests = meter.create_counter("infertel.requests", unit="{request}")
        gauge = meter.create_gauge("infertel.gen_ai.in_flight", unit="{request}")
        for k in range(200):
            for m in range(2):
                attrs = {semconv.GEN_AI_REQUEST_MODEL: f"m{m}"}
                duration.record((k * 7 + m) % 13 / 4, attrs)
                requests.add(k % 5 + m, attrs)
                gauge.set((k + m) % 6, attrs)
            data = reader.get_metrics_data()
            # the second process's points arrive later, into buckets the first one closed
            offset = T0 + (k * 47 + r * 3) * S
            out.append((r, k, _at(data, offset)))
        provider.shutdown()
    return [data for _r, _k, data in sorted(out, key=lambda x: (x[0], x[1]))]


def _at(data: Any, time_ns: int) -> Any:
    return replace(data, resource_metrics=[
        replace(rm, scope_metrics=[
            replace(sm, metrics=[
                replace(m, data=replace(m.data, data_points=[
                    replace(p, time_unix_nano=time_ns) for p in m.data.data_points]))
                for m in sm.metrics])
            for sm in rm.scope_metrics])
        for rm in data.resource_metrics])  # fmt: skip


def _approx_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [
        tuple(json.loads(v) if isinstance(v, str) else pytest.approx(v) if isinstance(v, float) else v for v in row)
        for row in rows
    ]


def test_metric_tiers_summed_at_close_equal_the_rollups_of_every_point(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    exporter = SQLiteMetricExporter(path, retention=None)
    for data in _collections():
        assert exporter.export(data).name == "SUCCESS"
    exporter.shutdown()
    queries = [
        ("metric:infertel.requests", 600, ("model",)),
        ("metric:infertel.requests", 60, ("service",)),
        ("metric:gen_ai.server.request.duration:p95", 600, ("model",)),
        ("metric:gen_ai.server.request.duration:p50", 3600, ()),
        ("metric:infertel.gen_ai.in_flight:last", 600, ("model",)),
        ("metric:infertel.gen_ai.in_flight:max", 60, ("service",)),
        ("metric:infertel.gen_ai.in_flight:sum", 3600, ("model",)),
        # 2 min steps over 1 min rollups: the step bucket at the 1 min mark (9300 s) is split between two pieces
        ("metric:infertel.gen_ai.in_flight:last", 120, ("model",)),
        ("metric:infertel.gen_ai.in_flight:sum", 120, ()),
        ("metric:infertel.requests", 120, ()),
    ]
    with SQLiteStore(path, read_only=True) as reader:
        before = [reader.timeseries(q, T0, T0 + 3 * 3600 * S, step, group_by=g) for q, step, g in queries]
    with closing(sqlite3.connect(path)) as conn, conn:
        assert _tiers.marks(conn, "metric") == {
            60: T0 + 9300 * S,
            600: T0 + 9000 * S,
            3600: T0 + 7200 * S,
        }  # newest: 9356 s

    _close_all(path, "metric")
    expected = sqlite3.connect(":memory:")
    _metric_rollups.register_functions(expected)
    for statement in _metric_rollups.CREATE:
        expected.execute(statement)
    with closing(sqlite3.connect(path)) as conn, conn:
        raw = conn.execute(
            "SELECT name, unit, kind, temporality, monotonic, start_ns, time_ns, attributes, value, histogram,"
            " scope_name, resource_id FROM metric_points ORDER BY id"
        ).fetchall()
        service_of = services(conn)
        series, rollups = _metric_rollups.rollup_rows(raw, _metric_rollups.MetricState(), service_of.__getitem__, None)
        expected.executemany(_metric_rollups.SERIES_INSERT, series)
        expected.executemany(_metric_rollups.UPSERT, rollups)
        got = _rows(conn, "metric_rollups")
    want = _rows(expected, "metric_rollups")
    expected.close()
    assert len(got) == len(want) > 600
    assert _approx_rows(got) == _approx_rows(want)
    with SQLiteStore(path, read_only=True) as reader:
        after = [reader.timeseries(q, T0, T0 + 3 * 3600 * S, step, group_by=g) for q, step, g in queries]
    assert after == before
    assert all(series and any(v is not None for _, v in series[0].points) for series in before)


def test_retention_closes_the_buckets_whose_10_s_rows_it_deletes(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    exporter = SQLiteSpanExporter(path, retention=None)
    assert exporter.export([_span(i, T0 + i * 5 * S) for i in range(30)]).name == "SUCCESS"  # 0-145 s
    exporter.shutdown()
    with SQLiteStore(path) as store:
        before = store.overview(T0, T0 + 3600 * S)
        store._transaction(lambda conn: _tiers.close_before(conn, "span", T0 + 100 * S))
        with closing(sqlite3.connect(path)) as conn, conn:
            assert _tiers.marks(conn, "span") == dict.fromkeys((60, 600, 3600), T0 + 3600 * S)
            conn.execute("DELETE FROM span_rollups WHERE step = 10")  # what retention does next
            conn.execute("DELETE FROM span_error_rollups WHERE step = 10")
        assert store.overview(T0, T0 + 3600 * S) == before
