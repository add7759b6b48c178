"""The fast span encoder produces exactly the upstream OTLP encoder's request."""

from __future__ import annotations

import math

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from infertel_exporters.durable._encoder import encode_spans_fast
from infertel_exporters.durable._transport import encode_span_batch


def _spans() -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    providers = [
        TracerProvider(resource=Resource.create({"service.name": "a", "n": 3, "f": 1.5, "b": True})),
        TracerProvider(resource=Resource({"service.name": "b"}, schema_url="https://opentelemetry.io/schemas/1.21.0")),
    ]
    for provider in providers:
        provider.add_span_processor(SimpleSpanProcessor(memory))
    remote = SpanContext(
        0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1), trace_state=TraceState([("vendor", "v1"), ("x", "y")])
    )
    for index, provider in enumerate(providers):
        tracer = provider.get_tracer(
            "scope", "1.0", schema_url="https://example.com/s" if index else None, attributes={"scope.attr": "s"}
        )
        other = provider.get_tracer("other-scope")
        attributes = {
            "gen_ai.request.model": "llama",
            "i": 7,
            "neg": -5,
            "big": 2**62,
            "f": 0.25,
            "t": True,
            "no": False,
            "zero": 0,
            "empty": "",
            "list": [1, 2, 3],
            "strs": ("a", "b"),
            "fl": [1.5],
            "bools": [True, False],
            "unicode": "żółw 🐢",
            "nan": math.nan,
        }
        with tracer.start_as_current_span("root", kind=SpanKind.SERVER, attributes=attributes) as root:
            root.add_event("started", {"k": "v", "n": 1})
            root.add_event("bare")
            with other.start_as_current_span(
                "child", kind=SpanKind.CLIENT, links=[Link(remote, {"l": 1}), Link(root.get_span_context())]
            ) as child:
                child.set_status(StatusCode.ERROR, "it broke")
                child.record_exception(ValueError("bad"))
            with tracer.start_as_current_span("ok", kind=SpanKind.PRODUCER) as ok:
                ok.set_status(StatusCode.OK)
        tracer.start_span(
            "remote-child", context=set_span_in_context(NonRecordingSpan(remote)), kind=SpanKind.CONSUMER
        ).end()
        tracer.start_span("", kind=SpanKind.INTERNAL).end()
    return list(memory.get_finished_spans())


def test_fast_encoder_matches_the_upstream_encoder() -> None:
    spans = _spans()
    assert len(spans) == 10
    ours = ExportTraceServiceRequest.FromString(encode_spans_fast(spans))
    upstream = encode_spans(spans)
    # NaN != NaN in message equality: compare the serialized forms, which are deterministic.
    assert ours.SerializeToString(deterministic=True) == upstream.SerializeToString(deterministic=True)
    assert encode_spans_fast(spans) == upstream.SerializeToString()


def test_values_upstream_treats_differently_fall_back_to_it() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.get_tracer("t").start_span("s", attributes={"huge": 2**64, "ok": 1}).end()
    spans = list(memory.get_finished_spans())
    with pytest.raises(OverflowError):
        encode_spans_fast(spans)
    assert encode_span_batch(spans) == encode_spans(spans).SerializeToString()
