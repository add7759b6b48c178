"""Helpers shared by the instrumentation tests: the one finished span, its timings, metric points, the reaper."""

from __future__ import annotations

import threading
import time
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
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


class LockingProcessor(SpanProcessor):
    """Takes ``lock`` in ``on_end``, as a processor or metric aggregator does; notes the thread and result.

    A span ended inside a finalizer on a thread that holds ``lock`` would wait for it: the 2 s
    timeout turns that hang into ``acquired=False`` in :attr:`ended`.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ended: list[tuple[str, bool]] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        acquired = self.lock.acquire(timeout=2.0)
        if acquired:
            self.lock.release()
        self.ended.append((threading.current_thread().name, acquired))


def wait_reaped(seconds: float) -> None:
    """Wait until the stream reaper has ended every span handed to it (at most ``seconds``)."""
    from infertel._internal.instrument import reaper

    assert reaper.wait_reaped(time.monotonic() + seconds)
