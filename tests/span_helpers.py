"""Helpers shared by the instrumentation tests: the one finished span, its timings, metric points."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from infertel import semconv

TIMING_KEYS = (
    semconv.INFERTEL_OUTPUT_TOKENS_PER_SECOND,
    semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN,
)
"""Span attributes whose values depend on the clock (checked for type and sign, not value)."""


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def split_timings(span: ReadableSpan) -> tuple[dict[str, Any], dict[str, float]]:
    """The span's attributes without the clock-dependent ones, and those (each a float >= 0)."""
    attributes = dict(span.attributes or {})
    timings = {key: attributes.pop(key) for key in TIMING_KEYS if key in attributes}
    for key, value in timings.items():
        assert isinstance(value, float) and value >= 0, (key, value)
    return attributes, timings


def metric_points(reader: InMemoryMetricReader) -> dict[str, tuple[str, list[Any]]]:
    """Metric name -> (unit, data points) of one collection."""
    data = reader.get_metrics_data()
    found: dict[str, tuple[str, list[Any]]] = {}
    if data is None:
        return found
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                found[metric.name] = (metric.unit, list(metric.data.data_points))
    return found
