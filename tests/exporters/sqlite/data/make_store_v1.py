"""How ``store-v1.db`` was made: run once with infertel-exporter-sqlite at schema version 1 (commit b983e14).

Kept for the record (today's code writes a newer version, so running it again does not rebuild a v1 file);
``store-v2.db`` and ``store-v3.db`` are this script run with the schema-2 (fefa75e) and schema-3 (5497d87) code.
Fixed times and ids, so the migration test states every expected value. Usage:
``.venv/bin/python tests/exporters/sqlite/data/make_store_v1.py tests/exporters/sqlite/data/store-v1.db``
"""

from __future__ import annotations

import sqlite3
import sys

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

from infertel._internal.compat import new_log_record
from infertel_exporters.sqlite import SQLiteLogExporter, SQLiteMetricExporter, SQLiteSpanExporter

T0 = 1_764_000_000 * 10**9  # 2025-11-24T16:00:00Z
S = 10**9
API = Resource({"service.name": "chat-api", "process.pid": 101})
API2 = Resource({"service.name": "chat-api", "process.pid": 102})
BATCH = Resource({"service.name": "batch", "process.pid": 201})
SCOPE = InstrumentationScope("infertel", "0.1.0")


def _span(trace: int, span: int, parent: int | None, name: str, start: float, end: float, resource: Resource,
          attributes: dict, *, kind: SpanKind = SpanKind.INTERNAL, error: bool = False,
          events: tuple = ()) -> ReadableSpan:  # fmt: skip
    return ReadableSpan(
        name=name,
        context=SpanContext(trace, span, is_remote=False, trace_flags=TraceFlags(1)),
        parent=None if parent is None else SpanContext(trace, parent, is_remote=False),
        resource=resource,
        attributes=attributes,
        events=events,
        kind=kind,
        status=Status(StatusCode.ERROR, "engine timed out") if error else Status(StatusCode.UNSET),
        start_time=T0 + int(start * S),
        end_time=T0 + int(end * S),
        instrumentation_scope=SCOPE,
    )


def spans() -> list[ReadableSpan]:
    def chat(model: str, stream: bool, tin: int, tout: int, ttft: float | None, tpot: float | None) -> dict:
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model, "gen_ai.response.model": model,
                      "gen_ai.provider.name": "vllm", "gen_ai.usage.input_tokens": tin,
                      "gen_ai.usage.output_tokens": tout}  # fmt: skip
        if stream:
            attributes["gen_ai.request.stream"] = True
        if ttft is not None:
            attributes["gen_ai.response.time_to_first_chunk"] = ttft
        if tpot is not None:
            attributes["infertel.time_per_output_token"] = tpot
        return attributes

    failed = chat("llama-3-8b", False, 50, 0, None, None)
    failed["error.type"] = "TimeoutError"
    return [
        _span(0xA1, 0x11, None, "POST /v1/chat", 1.0, 1.9, API, {"http.route": "/v1/chat"}, kind=SpanKind.SERVER),
        _span(0xA1, 0x12, 0x11, "chat llama-3-8b", 1.1, 1.8, API, chat("llama-3-8b", True, 100, 40, 0.05, 0.01),
              events=(Event("gen_ai.first_token", {"n": 1}, T0 + int(1.15 * S)),)),  # fmt: skip
        _span(0xA2, 0x21, None, "chat llama-3-8b", 3.0, 8.0, API2, failed, error=True),
        _span(0xA3, 0x31, None, "text_completion mistral-7b", 12.0, 12.25, BATCH,
              {**chat("mistral-7b", False, 10, 5, None, None), "gen_ai.operation.name": "text_completion"}),
        _span(0xA4, 0x41, None, "cleanup", 65.0, 65.5, BATCH, {"job": "gc"}),
    ]  # fmt: skip


def metrics(collection: int) -> MetricsData:
    """Collection 0, 1, 2 at T0+10 s, +20 s, +30 s; process 102 restarts before collection 2."""
    now = T0 + (collection + 1) * 10 * S
    restart = T0 + 25 * S
    attrs = {"gen_ai.request.model": "llama-3-8b"}
    requests = (3, 7, 12)[collection]
    requests2 = (4, 6, 2)[collection]  # reset to 2 (new start time)
    bounds = (0.1, 0.5, 1.0, 5.0)
    counts = ((1, 1, 0, 1, 0), (2, 3, 1, 1, 0), (2, 5, 3, 1, 1))[collection]

    def rm(resource: Resource, ms: list[Metric]) -> ResourceMetrics:
        return ResourceMetrics(resource, [ScopeMetrics(SCOPE, ms, "")], "")

    def counter(value: int, start: int) -> Metric:
        point = NumberDataPoint(attrs, start, now, value)
        return Metric("gen_ai.requests", "", "{request}", Sum([point], AggregationTemporality.CUMULATIVE, True))

    total = sum(c * b for c, b in zip(counts, (0.05, 0.3, 0.8, 3.0, 8.0), strict=True))
    histogram = Metric(
        "gen_ai.server.request.duration",
        "",
        "s",
        Histogram(
            [HistogramDataPoint(attrs, T0, now, sum(counts), total, counts, bounds, 0.01, 9.0)],
            AggregationTemporality.CUMULATIVE,
        ),
    )  # noqa: E501
    gauge = Metric("infertel.gen_ai.in_flight", "", "{request}",
                   Gauge([NumberDataPoint(attrs, 0, now, (2, 5, 1)[collection])]))  # fmt: skip
    gauge2 = Metric("infertel.gen_ai.in_flight", "", "{request}",
                    Gauge([NumberDataPoint(attrs, 0, now, (1, 1, 3)[collection])]))  # fmt: skip
    return MetricsData([
        rm(API, [counter(requests, T0), histogram, gauge]),
        rm(API2, [counter(requests2, T0 if collection < 2 else restart), gauge2]),
    ])  # fmt: skip


def main(path: str) -> None:
    span_exporter = SQLiteSpanExporter(path, retention=None)
    assert span_exporter.export(spans()).name == "SUCCESS"
    metric_exporter = SQLiteMetricExporter(path, retention=None)
    for collection in range(3):
        assert metric_exporter.export(metrics(collection)).name == "SUCCESS"
    log_exporter = SQLiteLogExporter(path, retention=None)
    provider = LoggerProvider(resource=API)
    provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    logger = provider.get_logger("app")
    context = set_span_in_context(NonRecordingSpan(SpanContext(0xA1, 0x12, is_remote=False, trace_flags=TraceFlags(1))))
    logger.emit(new_log_record(logger, timestamp=T0 + int(1.5 * S), observed_timestamp=T0 + int(1.5 * S),
                               context=context, body="first token sent", severity_number=SeverityNumber.INFO,
                               severity_text="INFO", attributes={"k": "v"}))  # fmt: skip
    logger.emit(new_log_record(logger, timestamp=T0 + 4 * S, observed_timestamp=T0 + 4 * S,
                               body={"error": "timeout"}, severity_number=SeverityNumber.ERROR,
                               severity_text="ERROR"))  # fmt: skip
    provider.shutdown()
    span_exporter.shutdown()
    metric_exporter.shutdown()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    conn.execute("VACUUM")
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
