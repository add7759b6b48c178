"""The installed OpenTelemetry pipeline as plain data, to compare two ways of setting it up.

``describe()`` reads the global providers: span processors (infertel's hub expanded into its
delegates), log record processors, metric readers, each with its exporter class (the OTLP one
behind a durable spool too) and its batch settings or interval, plus the classes of the root
logger's handlers. It reads SDK internals: it is a test helper, run against the SDK in the venv.
Run as a script it prints the description as JSON on a line starting with ``MARKER``; with ``--configure`` it calls
``infertel.configure()`` first (and prints the ``ValueError`` it raises, if any).
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

MARKER = "pipeline: "
"""Prefix of the printed line (console exporters print to stdout too)."""


def _name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _exporter(obj: Any) -> dict[str, Any]:
    inner = getattr(obj, "inner", None)
    if inner is not None:  # an infertel durable exporter
        return {"class": _name(obj), "inner": _name(inner)}
    return {"class": _name(obj)}


def _batch(processor: Any) -> dict[str, Any]:
    described: dict[str, Any] = {"processor": _name(processor)}
    batch = getattr(processor, "_batch_processor", None)
    if batch is not None:
        described["exporter"] = _exporter(batch._exporter)
        described["max_queue_size"] = batch._max_queue_size
        described["max_export_batch_size"] = batch._max_export_batch_size
        described["schedule_delay_millis"] = batch._schedule_delay_millis
        described["export_timeout_millis"] = batch._export_timeout_millis
    elif hasattr(processor, "exporter"):  # infertel's DurableBatchSpanProcessor
        described["exporter"] = _exporter(processor.exporter)
        pipeline = processor.exporter._pipeline
        described["max_queue_size"] = pipeline._max_queue_items
        described["max_export_batch_size"] = pipeline._max_batch_items
        described["schedule_delay_millis"] = round(pipeline._schedule_delay_s * 1000)
    return described


def describe_batch_processor(signal: str) -> dict[str, Any]:
    """A default SDK batch processor of ``signal`` (``traces``/``logs``), given only an exporter, described."""
    from infertel._internal import compat

    if signal == "traces":
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

        processor: Any = BatchSpanProcessor(ConsoleSpanExporter())
    else:
        processor = compat.BatchLogRecordProcessor(compat.ConsoleLogRecordExporter())
    try:
        return _batch(processor)
    finally:
        processor.shutdown()


def _expand(processors: Any) -> list[Any]:
    expanded = []
    for processor in processors:
        delegates = getattr(processor, "delegates", None)
        expanded.extend(delegates if delegates is not None else [processor])
    return expanded


def describe() -> dict[str, Any]:
    """The pipeline of the global providers, as JSON-ready data."""
    from opentelemetry import _logs, metrics, trace

    tracer_provider = trace.get_tracer_provider()
    meter_provider = metrics.get_meter_provider()
    logger_provider = _logs.get_logger_provider()
    span_processors = getattr(getattr(tracer_provider, "_active_span_processor", None), "_span_processors", ())
    multi_log = getattr(logger_provider, "_multi_log_record_processor", None)
    log_processors = getattr(multi_log, "_log_record_processors", ())
    readers = []
    for reader in getattr(meter_provider, "_all_metric_readers", ()) or getattr(
        getattr(meter_provider, "_sdk_config", None), "metric_readers", ()
    ):
        entry: dict[str, Any] = {"reader": _name(reader)}
        if hasattr(reader, "_exporter"):
            entry["exporter"] = _exporter(reader._exporter)
            entry["interval_millis"] = reader._export_interval_millis
            entry["timeout_millis"] = reader._export_timeout_millis
        readers.append(entry)
    return {
        "tracer_provider": _name(tracer_provider),
        "meter_provider": _name(meter_provider),
        "logger_provider": _name(logger_provider),
        "span_processors": [_batch(p) for p in _expand(span_processors)],
        "log_processors": [_batch(p) for p in _expand(log_processors)],
        "metric_readers": sorted(readers, key=json.dumps),
        "root_handlers": [_name(h) for h in logging.getLogger().handlers],
    }


def main() -> None:
    """Print the description (after ``infertel.configure()`` with ``--configure``) as one JSON line."""
    if "--configure" in sys.argv:
        import infertel

        try:
            infertel.configure()
        except ValueError as exc:
            print(MARKER + json.dumps({"error": str(exc)}), flush=True)
            return
    else:
        from infertel._internal.configure import active_settings

        if active_settings() is None:  # the configurator failed: opentelemetry-instrument logged why
            print(MARKER + json.dumps({"error": "not configured"}), flush=True)
            return
    print(MARKER + json.dumps(describe(), sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
