"""The durable exporter's private OTLP-client paths (``_compat``) against their public fallbacks.

With the upstream exporter's client recognised, spooled bytes go out through it; with it forced
unrecognised (a future opentelemetry-exporter-otlp), spans are decoded and sent through the inner
exporter's public ``export()``: the collector receives the same spans either way.
"""

from __future__ import annotations

from typing import Any

import pytest
from core._configure_support import OtlpHttpReceiver
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from infertel_exporters.durable import _compat, _transport
from infertel_exporters.durable._transport import Outcome, encode_span_batch, sender_for


def _spans() -> list[Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "compat"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t", "1.0")
    with tracer.start_as_current_span("parent", attributes={"a": 1, "b": "x"}):
        span = tracer.start_span("child", attributes={"gen_ai.operation.name": "chat"})
        span.add_event("e", {"k": 2.5})
        span.set_status(Status(StatusCode.ERROR, "boom"))
        span.end()
    return list(exporter.get_finished_spans())


def _received(receiver: OtlpHttpReceiver) -> list[tuple[Any, ...]]:
    return sorted(
        (
            span.name,
            span.trace_id.hex(),
            span.span_id.hex(),
            span.parent_span_id.hex(),
            span.start_time_unix_nano,
            span.end_time_unix_nano,
            span.status.code,
            span.status.message,
            sorted((kv.key, str(kv.value)) for kv in span.attributes),
            [(event.name, event.time_unix_nano) for event in span.events],
        )
        for span in receiver.spans()
    )


def test_the_private_clients_are_recognised_on_this_release() -> None:
    http = _compat.http_transport(HttpSpanExporter(endpoint="http://127.0.0.1:4318/v1/traces"))
    assert http is not None and http.endpoint == "http://127.0.0.1:4318/v1/traces"
    grpc_exporter = GrpcSpanExporter(endpoint="127.0.0.1:4317", insecure=True)
    grpc = _compat.grpc_transport(grpc_exporter)
    assert grpc is not None and grpc.endpoint == "127.0.0.1:4317"
    assert callable(grpc.channel().unary_unary)
    assert _compat.send_timeout_s(grpc_exporter) == 10.0
    assert _compat.http_transport(object()) is None and _compat.grpc_transport(object()) is None


def test_span_fallback_delivers_the_same_spans(
    monkeypatch: pytest.MonkeyPatch, otlp_http_receiver: OtlpHttpReceiver
) -> None:
    inner = HttpSpanExporter(endpoint=otlp_http_receiver.url + "/v1/traces")
    payload = encode_span_batch(_spans())

    fast = sender_for(inner, "traces")
    assert fast.description == f"OTLP/HTTP {otlp_http_receiver.url}/v1/traces"
    assert fast.send(payload, 5.0) is Outcome.DELIVERED
    through_client = _received(otlp_http_receiver)
    otlp_http_receiver.received.clear()

    monkeypatch.setattr(_transport, "http_transport", lambda inner: None)
    public = sender_for(inner, "traces")
    assert public.description == "OTLPSpanExporter"  # decode + the exporter's public export()
    assert public.send(payload, 5.0) is Outcome.DELIVERED
    through_export = _received(otlp_http_receiver)

    assert len(through_client) == 2
    assert through_export == through_client
    inner.shutdown()


def test_metric_exporter_without_a_recognised_client_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_transport, "http_transport", lambda inner: None)
    with pytest.raises(ValueError, match="durable metrics export needs an OTLP exporter"):
        sender_for(HttpMetricExporter(endpoint="http://127.0.0.1:4318/v1/metrics"), "metrics")
