"""Helpers of the dashboard tests: a store filled through infertel and the real exporters, and a real uvicorn.

:func:`fill_store` runs a known workload through ``infertel.inference`` with explicit providers whose
processors write to a real SQLite store (and to an in-memory exporter, so a test can compare what
the API returns with what the SDK exported), plus correlated log records and resource metrics.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from peers.phoenix import free_port as free_port  # noqa: E402  (re-exported for the tests)
from served import Served as Served  # noqa: E402

import infertel
from infertel._internal.compat import logging_handler_class
from infertel_exporters.sqlite import SQLiteLogExporter, SQLiteMetricExporter, SQLiteSpanExporter

EVIL = '<script>alert("x")</script>\'"'
"""Markup and quotes that must render inert wherever a stored value is shown."""


@dataclass
class Filled:
    """What :func:`fill_store` wrote: the store's path and the spans as the SDK exported them."""

    path: Path
    spans: list[ReadableSpan]
    service: str
    models: tuple[str, ...]
    requests: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    log_trace_id: str = ""

    def traces(self) -> dict[str, list[ReadableSpan]]:
        out: dict[str, list[ReadableSpan]] = {}
        for span in self.spans:
            out.setdefault(f"{span.context.trace_id:032x}", []).append(span)
        return out


def fill_store(
    path: Path,
    *,
    service: str = "svc-a",
    models: Sequence[str] = ("model-a", "model-b"),
    requests: int = 6,
    evil_attribute: str | None = None,
    resource_metrics: bool = False,
) -> Filled:
    """Run ``requests`` calls per model (every third one fails, every second one streams) into ``path``."""
    resource = Resource.create({"service.name": service})
    memory = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(SQLiteSpanExporter(path)))
    tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(SQLiteLogExporter(path)))
    reader = PeriodicExportingMetricReader(SQLiteMetricExporter(path), export_interval_millis=3_600_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    handler_class = logging_handler_class()
    assert handler_class is not None
    handler = handler_class(logger_provider=logger_provider)
    log = logging.getLogger(f"dashboard-test.{service}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    resources = None
    if resource_metrics:
        resources = infertel.start_resource_metrics(meter_provider=meter_provider, gpu=False, interval_s=0.2)
        meter_provider.force_flush()
    filled = Filled(path=path, spans=[], service=service, models=tuple(models))
    try:
        for model in models:
            for i in range(requests):
                _one_request(model, i, tracer_provider, meter_provider, log, evil_attribute)
                filled.requests[model] = filled.requests.get(model, 0) + 1
                filled.errors[model] = filled.errors.get(model, 0) + (1 if i % 3 == 2 else 0)
        if resources is not None:
            time.sleep(0.3)
            meter_provider.force_flush()
    finally:
        log.removeHandler(handler)
        if resources is not None:
            resources.shutdown()
        meter_provider.shutdown()
        tracer_provider.shutdown()
        logger_provider.shutdown()
    filled.spans = list(memory.get_finished_spans())
    return filled


def _one_request(model: str, i: int, tp: Any, mp: Any, log: logging.Logger, evil: str | None) -> None:
    tracer = tp.get_tracer("dashboard-test")
    with tracer.start_as_current_span("POST /v1/chat", kind=_server_kind()) as server:
        server.set_attribute("http.route", "/v1/chat")
        if evil is not None:
            server.set_attribute("test.evil", evil)
        try:
            with infertel.inference(model=model, operation="chat", tracer_provider=tp, meter_provider=mp) as inv:
                inv.set_input_tokens(10 + i)
                if i % 2 == 1:
                    for _ in range(3):
                        time.sleep(0.002)
                        inv.record_chunk(tokens=1)
                else:
                    time.sleep(0.004)
                    inv.set_output_tokens(5)
                log.info("request %d of %s done", i, model)
                if i % 3 == 2:
                    log.error("request %d of %s failed", i, model)
                    raise RuntimeError("boom")
        except RuntimeError:
            pass


def _server_kind() -> Any:
    from opentelemetry.trace import SpanKind

    return SpanKind.SERVER


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def style_of(html: str) -> str:
    """The text of the page's one ``<style>`` element."""
    found = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    assert len(found) == 1, found
    return found[0]
