from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from infertel import semconv
from infertel._internal.compat import new_log_record
from infertel_exporters.sqlite import (
    SCHEMA_VERSION,
    SQLiteLogExporter,
    SQLiteMetricExporter,
    SQLiteSpanExporter,
    SQLiteStore,
    StoredEvent,
    StoredLink,
)

RESOURCE = Resource({"service.name": "chat-api", "service.version": "1.2.3", "host.name": "h1", "k8s.pod.uid": "x"})


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "store" / "telemetry.db")


@pytest.fixture
def store(db: str) -> Iterator[SQLiteStore]:
    s = SQLiteStore(db)
    yield s
    s.close()


def _make_spans() -> list:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("infertel", "0.1.0")
    with tracer.start_as_current_span("http request", kind=SpanKind.SERVER) as root:
        root.set_status(Status(StatusCode.OK))
        other = trace.SpanContext(0xABC, 0xDEF, is_remote=True)
        with tracer.start_as_current_span(
            "chat llama-3-8b",
            kind=SpanKind.CLIENT,
            attributes={
                semconv.GEN_AI_OPERATION_NAME: "chat",
                semconv.GEN_AI_REQUEST_MODEL: "llama-3-8b",
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 42,
                semconv.GEN_AI_REQUEST_TEMPERATURE: 0.25,
                semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop", "length"),
                semconv.GEN_AI_REQUEST_STREAM: True,
                "unicode": "héllo ✓",
            },
            links=[Link(other, {"why": "batch"})],
        ) as span:
            span.add_event("first token", {semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: 0.125, "ids": (1, 2, 3)})
            span.add_event("empty")
            span.record_exception(TimeoutError("engine timed out"))
            span.set_status(Status(StatusCode.ERROR, "engine timed out"))
    spans = list(memory.get_finished_spans())
    provider.shutdown()
    return spans


def test_span_round_trip_is_exact(db: str, store: SQLiteStore) -> None:
    spans = _make_spans()
    exporter = SQLiteSpanExporter(db)
    assert exporter.export(spans).name == "SUCCESS"
    exporter.shutdown()

    child_sdk = next(s for s in spans if s.parent is not None)
    root_sdk = next(s for s in spans if s.parent is None)
    stored = store.trace(child_sdk.context.trace_id)
    assert [s.name for s in stored] == ["http request", "chat llama-3-8b"]
    root, child = stored
    assert root.parent_span_id is None
    assert (root.kind, root.status_code, root.status_message) == ("SERVER", "OK", None)
    assert child.trace_id == f"{child_sdk.context.trace_id:032x}"
    assert child.span_id == f"{child_sdk.context.span_id:016x}"
    assert child.parent_span_id == f"{root_sdk.context.span_id:016x}" == root.span_id
    assert child.kind == "CLIENT"
    assert (child.start_time_ns, child.end_time_ns) == (child_sdk.start_time, child_sdk.end_time)
    assert (child.status_code, child.status_message) == ("ERROR", "engine timed out")
    assert child.attributes == dict(child_sdk.attributes)
    assert (child.model, child.operation) == ("llama-3-8b", "chat")
    assert child.events == [StoredEvent(e.name, e.timestamp, dict(e.attributes or {})) for e in child_sdk.events]
    assert child.events[0].attributes["ids"] == (1, 2, 3)
    assert child.events[2].attributes["exception.type"] == "TimeoutError"
    assert child.links == [StoredLink(f"{0xABC:032x}", f"{0xDEF:016x}", {"why": "batch"})]
    assert child.resource == dict(RESOURCE.attributes)
    assert (child.scope_name, child.scope_version) == ("infertel", "0.1.0")
    assert child.duration_s == pytest.approx((child_sdk.end_time - child_sdk.start_time) / 1e9)


def test_reexported_spans_are_not_duplicated_and_queries_filter(db: str, store: SQLiteStore) -> None:
    spans = _make_spans()
    exporter = SQLiteSpanExporter(db)
    assert exporter.export(spans).name == "SUCCESS"
    assert exporter.export(spans).name == "SUCCESS"  # a retried batch
    exporter.shutdown()
    assert store.counts()["spans"] == 2
    [summary] = store.recent_traces(limit=10)
    assert summary.trace_id == f"{spans[0].context.trace_id:032x}"
    assert (summary.root_name, summary.span_count, summary.error_count) == ("http request", 2, 1)
    assert summary.models == ("llama-3-8b",)
    assert summary.service_name == "chat-api"
    assert store.recent_traces(limit=10, model="other") == []
    assert store.recent_traces(limit=10, since=max(s.start_time for s in spans) + 1) == []
    assert [s.name for s in store.spans(0, None, model="llama-3-8b")] == ["chat llama-3-8b"]
    assert [s.name for s in store.spans(name="http request")] == ["http request"]
    assert store.spans(0, min(s.start_time for s in spans)) == []


def test_metric_points_of_each_kind(db: str, store: SQLiteStore) -> None:
    reader = InMemoryMetricReader()
    views = [View(instrument_name="exp.latency", aggregation=ExponentialBucketHistogramAggregation(max_size=20))]
    provider = MeterProvider(metric_readers=[reader], resource=RESOURCE, views=views)
    meter = provider.get_meter("infertel")
    attrs = {semconv.GEN_AI_REQUEST_MODEL: "m1", semconv.GEN_AI_OPERATION_NAME: "chat"}
    counter = meter.create_counter("requests", unit="{request}")
    counter.add(3, attrs)
    counter.add(2, {semconv.GEN_AI_REQUEST_MODEL: "m2"})
    updown = meter.create_up_down_counter("inflight")
    updown.add(-2)
    gauge = meter.create_gauge("gpu.util", unit="1")
    gauge.set(0.75, {"hw.id": "gpu0"})
    hist = meter.create_histogram(
        semconv.GEN_AI_SERVER_REQUEST_DURATION, unit="s", explicit_bucket_boundaries_advisory=[0.1, 1.0]
    )
    for v in (0.05, 0.5, 0.7, 3.0):
        hist.record(v, attrs)
    exp_hist = meter.create_histogram("exp.latency", unit="s")
    for v in (1.0, 2.0, 4.0):
        exp_hist.record(v)
    data = reader.get_metrics_data()
    provider.shutdown()

    exporter = SQLiteMetricExporter(db)
    assert exporter.export(data).name == "SUCCESS"
    exporter.shutdown()

    assert store.metric_names() == sorted(["requests", "inflight", "gpu.util", semconv.GEN_AI_SERVER_REQUEST_DURATION,
                                           "exp.latency"])  # fmt: skip
    requests = store.metric_series("requests", attributes={semconv.GEN_AI_REQUEST_MODEL: "m1"})
    assert len(requests) == 1
    point = requests[0]
    assert (point.kind, point.unit, point.temporality, point.monotonic) == ("sum", "{request}", "cumulative", True)
    assert point.value == 3 and isinstance(point.value, int)
    assert point.attributes == attrs
    assert point.resource == dict(RESOURCE.attributes)
    assert sorted(p.value for p in store.metric_series("requests")) == [2, 3]
    [inflight] = store.metric_series("inflight")
    assert (inflight.kind, inflight.monotonic, inflight.value) == ("sum", False, -2)
    [util] = store.metric_series("gpu.util", attributes={"hw.id": "gpu0"})
    assert (util.kind, util.temporality, util.value, util.unit) == ("gauge", None, 0.75, "1")
    [duration] = store.metric_series(semconv.GEN_AI_SERVER_REQUEST_DURATION, 0, 2**62)
    assert duration.kind == "histogram"
    assert duration.histogram == {"bounds": [0.1, 1.0], "counts": [1, 2, 1], "sum": pytest.approx(4.25), "count": 4,
                                  "min": 0.05, "max": 3.0}  # fmt: skip
    [exp] = store.metric_series("exp.latency")
    sdk_exp = next(m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
                   if m.name == "exp.latency").data.data_points[0]  # fmt: skip
    assert exp.kind == "exponential_histogram"
    assert exp.histogram == {
        "scale": sdk_exp.scale, "zero_count": 0, "sum": 7.0, "count": 3, "min": 1.0, "max": 4.0,
        "positive": {"offset": sdk_exp.positive.offset, "counts": list(sdk_exp.positive.bucket_counts)},
        "negative": {"offset": sdk_exp.negative.offset, "counts": list(sdk_exp.negative.bucket_counts)},
    }  # fmt: skip
    assert exp.time_ns == sdk_exp.time_unix_nano and exp.start_time_ns == sdk_exp.start_time_unix_nano
    assert store.metric_series("requests", 0, point.time_ns) == []  # end is exclusive


def test_logs_with_trace_ids(db: str, store: SQLiteStore) -> None:
    exporter = SQLiteLogExporter(db)
    logger_provider = LoggerProvider(resource=RESOURCE)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    tracer_provider = TracerProvider(resource=RESOURCE)
    tracer = tracer_provider.get_tracer("t")
    otel_logger = logger_provider.get_logger("app.logger")
    with tracer.start_as_current_span("work") as span:
        otel_logger.emit(new_log_record(otel_logger, body="inside", severity_number=SeverityNumber.WARN,
                                        severity_text="WARN", attributes={"k": "v", "n": (1, 2)}))  # fmt: skip
    otel_logger.emit(new_log_record(otel_logger, body={"structured": [1, "a"]}, severity_number=SeverityNumber.INFO))
    logger_provider.shutdown()
    tracer_provider.shutdown()

    ctx = span.get_span_context()
    inside, outside = store.logs()
    assert inside.body == "inside"
    assert (inside.severity_number, inside.severity_text) == (SeverityNumber.WARN.value, "WARN")
    assert inside.attributes == {"k": "v", "n": (1, 2)}
    assert (inside.trace_id, inside.span_id) == (f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}")
    assert inside.trace_flags == int(ctx.trace_flags)
    assert inside.resource == dict(RESOURCE.attributes)
    assert outside.body == {"structured": [1, "a"]}
    assert outside.trace_id is None and outside.span_id is None
    assert store.logs(trace_id=f"{ctx.trace_id:032x}") == [inside]


def test_schema_version_wal_and_indices(db: str, store: SQLiteStore) -> None:
    store.counts()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        indices = {
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")
        }
        assert indices == {
            "spans_trace", "spans_start", "spans_errors", "metric_points_name_mark", "metric_points_time",
            "logs_time", "logs_trace", "metric_series_name",
        }  # fmt: skip
        plan = " ".join(str(r) for r in conn.execute("EXPLAIN QUERY PLAN SELECT * FROM spans WHERE trace_id = x'00'"))
        assert "spans_trace" in plan
        query = "SELECT * FROM spans WHERE status_code = 'ERROR' AND start_ns >= 1 ORDER BY start_ns DESC"
        plan = " ".join(str(r) for r in conn.execute(f"EXPLAIN QUERY PLAN {query}"))
        assert "spans_errors" in plan
    finally:
        conn.close()


def test_export_is_done_with_instrumentation_suppressed(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_value

    from infertel_exporters.sqlite import _batches

    seen = []
    original = _batches._span_rows

    def spy(spans, cache, rollups):
        seen.append(get_value(_SUPPRESS_INSTRUMENTATION_KEY))
        return original(spans, cache, rollups)

    monkeypatch.setattr(_batches, "_span_rows", spy)
    exporter = SQLiteSpanExporter(db)
    assert exporter.export(_make_spans()).name == "SUCCESS"
    exporter.shutdown()
    assert seen == [True]
    assert get_value(_SUPPRESS_INSTRUMENTATION_KEY) is None
