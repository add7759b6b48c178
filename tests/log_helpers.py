"""An in-memory OpenTelemetry logs pipeline, for the GenAI exception events (``gen_ai.client.operation.exception``)."""

from __future__ import annotations

import traceback
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs import export as logs_export
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.trace import Span

from infertel import semconv

# Renamed InMemoryLogRecordExporter in newer SDKs; the old name is the one SDK 1.37 has.
_Exporter: Any = getattr(logs_export, "InMemoryLogRecordExporter", None) or logs_export.InMemoryLogExporter


def memory_logs() -> tuple[LoggerProvider, Any]:
    """A LoggerProvider exporting synchronously to an in-memory exporter, and that exporter."""
    exporter = _Exporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return provider, exporter


def records(exporter: Any) -> list[Any]:
    """The exported log records (the SDK's ``ReadableLogRecord``/``LogData`` unwrapped)."""
    out = []
    for item in exporter.get_finished_logs():
        out.append(getattr(item, "log_record", item))
    return out


def assert_exception_event(record: Any, span: Any, exc: BaseException, exception_type: str) -> None:
    """``record`` is the ``gen_ai.client.operation.exception`` event of ``exc`` in ``span``'s context."""
    assert record.event_name == semconv.GEN_AI_CLIENT_OPERATION_EXCEPTION
    assert record.severity_number.value == 13  # WARN, as the semantic conventions ask
    assert record.severity_text == "WARN"
    stacktrace = record.attributes[semconv.EXCEPTION_STACKTRACE]
    assert dict(record.attributes) == {
        semconv.EXCEPTION_TYPE: exception_type,
        semconv.EXCEPTION_MESSAGE: str(exc),
        semconv.EXCEPTION_STACKTRACE: stacktrace,
    }
    # Taken while the exception propagated: the frames up to infertel's wrapper, then the exception line.
    assert stacktrace.startswith("Traceback (most recent call last):\n")
    last_line = traceback.format_exception_only(type(exc), exc)[-1]
    assert stacktrace.endswith(last_line)
    context = span.get_span_context() if isinstance(span, Span) else span.context
    assert (record.trace_id, record.span_id) == (context.trace_id, context.span_id)
