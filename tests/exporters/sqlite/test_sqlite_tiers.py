"""The 1 min / 10 min / 1 h span rollups summed from the 10 s ones when a bucket closes equal the direct ones.

(Metric rollups: schema 5 marks raw points instead, ``test_sqlite_metric_marks.py``.)
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from infertel import semconv
from infertel_exporters.sqlite import (
    SQLiteSpanExporter,
    SQLiteStore,
    _span_rollups,
    _tiers,
)
from infertel_exporters.sqlite._encode import ResourceCache
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
