"""Log correlation: records carry the active span's ids and go out with the other signals, once."""

from __future__ import annotations

import logging

import pytest
from core._configure_support import OtlpHttpReceiver
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from infertel._internal import logs, state
from infertel._internal.compat import InMemoryLogRecordExporter, SimpleLogRecordProcessor, logging_handler_class
from infertel._internal.configure import configure, shutdown

LoggingHandler = logging_handler_class()

pytestmark = pytest.mark.usefixtures("fresh_otel")

app_logger = logging.getLogger("app.inference")


@pytest.fixture
def pipeline() -> tuple[TracerProvider, InMemorySpanExporter, LoggerProvider, InMemoryLogRecordExporter]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    records = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(records))
    return tracer_provider, spans, logger_provider, records


def test_record_inside_a_span_carries_its_ids(pipeline: tuple) -> None:
    tracer_provider, spans, logger_provider, records = pipeline
    configure(tracer_provider=tracer_provider, logger_provider=logger_provider, export_logs=True)
    tracer = state.current().tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("generate"):
        app_logger.warning("slow token %d", 7)
    app_logger.error("outside any span")
    [span] = spans.get_finished_spans()
    inside, outside = (r.log_record for r in records.get_finished_logs())
    assert (inside.body, inside.severity_text) == ("slow token 7", "WARN")
    assert (inside.trace_id, inside.span_id) == (span.context.trace_id, span.context.span_id)
    assert inside.trace_flags == span.context.trace_flags
    assert (outside.body, outside.trace_id, outside.span_id) == ("outside any span", 0, 0)


def test_repeated_configure_never_duplicates_records(pipeline: tuple) -> None:
    tracer_provider, _, logger_provider, records = pipeline
    for _ in range(3):
        configure(tracer_provider=tracer_provider, logger_provider=logger_provider, export_logs=True)
    configure(tracer_provider=tracer_provider, logger_provider=logger_provider, capture_content=True, export_logs=True)
    app_logger.warning("once")
    assert [r.log_record.body for r in records.get_finished_logs()] == ["once"]
    otel_handlers = [h for h in logging.getLogger().handlers if isinstance(h, LoggingHandler)]
    assert otel_handlers == [logs.attached()]


def test_existing_opentelemetry_handler_is_not_doubled(pipeline: tuple) -> None:
    _, _, logger_provider, records = pipeline
    existing = LoggingHandler(logger_provider=logger_provider)  # what opentelemetry-instrument attaches
    logging.getLogger().addHandler(existing)
    try:
        configure(logger_provider=logger_provider, export_logs=True)
        assert logs.attached() is None
        app_logger.warning("single")
        assert [r.log_record.body for r in records.get_finished_logs()] == ["single"]
    finally:
        logging.getLogger().removeHandler(existing)


def test_sdk_own_logs_are_not_fed_back(pipeline: tuple) -> None:
    _, _, logger_provider, records = pipeline
    configure(logger_provider=logger_provider, export_logs=True)
    logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter").warning("export failed")
    app_logger.warning("kept")
    assert [r.log_record.body for r in records.get_finished_logs()] == ["kept"]


def test_shutdown_detaches_the_handler(pipeline: tuple) -> None:
    _, _, logger_provider, records = pipeline
    configure(logger_provider=logger_provider, export_logs=True)
    assert shutdown() is True
    app_logger.warning("after shutdown")
    assert records.get_finished_logs() == ()
    assert logs.attached() is None


def test_correlated_record_exported_over_otlp_with_the_span(otlp_http_receiver: OtlpHttpReceiver) -> None:
    configure(endpoint=otlp_http_receiver.url, protocol="http/protobuf", service_name="logs-e2e", export_logs=True)
    with trace.get_tracer("test").start_as_current_span("generate") as span:
        app_logger.warning("in span")
    assert shutdown(timeout_millis=10_000) is True
    [exported_span] = otlp_http_receiver.spans()
    [record] = [r for r in otlp_http_receiver.log_records() if r.body.string_value == "in span"]
    assert record.trace_id == exported_span.trace_id == span.get_span_context().trace_id.to_bytes(16, "big")
    assert record.span_id == exported_span.span_id == span.get_span_context().span_id.to_bytes(8, "big")
    [logs_request] = otlp_http_receiver.of("/v1/logs")
    resource = {a.key: a.value.string_value for a in logs_request.message.resource_logs[0].resource.attributes}
    assert resource["service.name"] == "logs-e2e"
