"""The Phoenix harness itself: it starts, receives OTLP/HTTP and reads spans back."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from peers.phoenix import PhoenixServer

pytestmark = pytest.mark.integration


def test_phoenix_receives_and_returns_a_span(phoenix: PhoenixServer) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=phoenix.otlp_http_traces_endpoint)))
    with provider.get_tracer("peer-test").start_as_current_span("peer-check") as span:
        span.set_attribute("check", 1)
    trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    spans = phoenix.wait_for_spans(1, trace_id=trace_id)
    assert [s["name"] for s in spans] == ["peer-check"]
    assert spans[0]["attributes"]["check"] == 1
