"""Encoding batches to OTLP protobuf bytes and re-sending those bytes through the inner exporter.

Choice (documented in the package docstring): the spool holds the serialized OTLP export request
(``ExportTraceServiceRequest`` / ``ExportMetricsServiceRequest`` / ``ExportLogsServiceRequest``)
of each batch, encoded once with ``opentelemetry-exporter-otlp-proto-common``. For the upstream
OTLP exporters (HTTP/protobuf and gRPC) those bytes are sent through the inner exporter's own
client: its endpoint, headers, TLS, compression and timeout. That client is private to
``opentelemetry-exporter-otlp``: :mod:`._compat` probes it (both shapes of the supported releases).
Any other span exporter, or an OTLP span exporter whose client the probe does not recognise, gets
the batch decoded back into ``ReadableSpan`` objects (:mod:`._decode`) and passed to its public
``export()``.
"""

from __future__ import annotations

import enum
import logging
import re
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.sdk.trace.export import SpanExportResult

from infertel_exporters.durable._compat import (
    GrpcTransport,
    HttpLogExporter,
    HttpTransport,
    encode_logs,
    endpoint_of,
    grpc_transport,
    http_transport,
)
from infertel_exporters.durable._encoder import encode_spans_fast

try:  # gRPC is optional (infertel-exporter-durable[grpc]): without it no inner exporter can be a gRPC one.
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (  # the only path upstream (see _compat)
        OTLPLogExporter as GrpcLogExporter,
    )
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
except ImportError:
    grpc = None
    _GRPC_EXPORTERS: tuple[type, ...] = ()
else:
    _GRPC_EXPORTERS = (GrpcSpanExporter, GrpcMetricExporter, GrpcLogExporter)

_logger = logging.getLogger(__name__)

_HOST = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.?)+$|^[0-9a-fA-F:.]+$")
_RETRYABLE_HTTP = frozenset({408, 429, 500, 502, 503, 504})
_RETRYABLE_GRPC = frozenset(
    ()
    if grpc is None
    else {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)


class Outcome(enum.Enum):
    """What one delivery attempt of a spooled batch came to."""

    DELIVERED = "delivered"
    RETRY = "retry"  # connection refused, timeout, retryable status: keep it, back off
    REJECTED = "rejected"  # the collector refused it for good (4xx, INVALID_ARGUMENT): drop and count


def encode_span_batch(spans: Sequence[Any]) -> bytes:
    """Serialized ``ExportTraceServiceRequest`` of ``spans`` (fast encoder; upstream one as fallback)."""
    try:
        return encode_spans_fast(spans)
    except Exception:  # noqa: BLE001 - an unusual attribute: the upstream encoder decides, as it would anyway
        _logger.debug("fast span encoder declined a batch; using the upstream encoder", exc_info=True)
        return bytes(encode_spans(spans).SerializeToString())


def encode_metric_batch(batch: Sequence[Any]) -> bytes:
    """Serialized ``ExportMetricsServiceRequest`` of one or more ``MetricsData``."""
    request = ExportMetricsServiceRequest()
    for data in batch:
        request.MergeFrom(encode_metrics(data))
    return bytes(request.SerializeToString())


def encode_log_batch(records: Sequence[Any]) -> bytes:
    """Serialized ``ExportLogsServiceRequest`` of ``records``."""
    return bytes(encode_logs(records).SerializeToString())


class Sender:
    """Sends one serialized request; never raises."""

    def __init__(self, send: Callable[[bytes, float], Outcome], description: str) -> None:
        self._send = send
        self.description = description

    def send(self, payload: bytes, timeout_s: float) -> Outcome:
        """Deliver ``payload`` within about ``timeout_s`` seconds, instrumentation suppressed."""
        try:
            with suppress_instrumentation():
                return self._send(payload, timeout_s)
        except Exception:  # noqa: BLE001 - the contract is "never raise"; the batch stays spooled
            _logger.warning("delivery through %s failed; the batch stays in the spool", self.description, exc_info=True)
            return Outcome.RETRY


def _http_sender(transport: HttpTransport) -> Sender:
    # requests imports netrc on its first request (requests.utils.get_netrc_auth), which would be on the
    # sender thread; a fork() during an import on another thread leaves the child's lock of that module held.
    import netrc  # noqa: F401

    def send(payload: bytes, timeout_s: float) -> Outcome:
        # One attempt (plus the client's one immediate reconnect); backoff is ours, not the client's.
        status = transport.post(payload, max(timeout_s, 0.001))
        if status is not None and 200 <= status < 400:
            return Outcome.DELIVERED
        if status is not None and status not in _RETRYABLE_HTTP:
            _logger.warning(
                "collector %s rejected a spooled batch with HTTP %d; dropping it", transport.endpoint, status
            )
            return Outcome.REJECTED
        return Outcome.RETRY

    return Sender(send, f"OTLP/HTTP {transport.endpoint}")


_GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}


def _grpc_sender(transport: GrpcTransport, signal: str) -> Sender:
    calls: dict[int, Any] = {}

    def call_for(channel: Any) -> Any:
        # The spooled bytes are the request already: no serializer, no parse and re-encode.
        call = calls.get(id(channel))
        if call is None:
            calls.clear()
            call = calls[id(channel)] = channel.unary_unary(_GRPC_METHODS[signal])
        return call

    def send(payload: bytes, timeout_s: float) -> Outcome:
        try:
            call_for(transport.channel())(payload, metadata=transport.metadata, timeout=max(timeout_s, 0.001))
        except grpc.RpcError as error:
            code = error.code()
            if code == grpc.StatusCode.UNAVAILABLE:
                transport.reconnect()
            if code in _RETRYABLE_GRPC:
                return Outcome.RETRY
            _logger.warning("collector %s rejected a spooled batch with %s; dropping it", transport.endpoint, code)
            return Outcome.REJECTED
        return Outcome.DELIVERED

    return Sender(send, f"OTLP/gRPC {transport.endpoint}")


def _generic_span_sender(inner: Any) -> Sender:
    from infertel_exporters.durable._decode import decode_spans

    def send(payload: bytes, timeout_s: float) -> Outcome:
        spans = decode_spans(payload)
        result = inner.export(spans)
        return Outcome.DELIVERED if result == SpanExportResult.SUCCESS else Outcome.RETRY

    return Sender(send, type(inner).__name__)


def check_endpoint(endpoint: str, *, grpc_style: bool) -> None:
    """Raise ``ValueError`` naming ``endpoint`` unless it is a usable http(s) URL (gRPC: or ``host:port``)."""
    text = endpoint.strip()
    if grpc_style and "://" not in text:
        text = "http://" + text
    try:
        parsed = urllib.parse.urlsplit(text)
        port = parsed.port
    except ValueError as error:
        raise ValueError(f"endpoint {endpoint!r} is not a valid URL ({error}); expected http(s)://host:port") from None
    host = parsed.hostname or ""
    if parsed.scheme not in ("http", "https") or not _HOST.match(host) or port == 0:
        raise ValueError(f"endpoint {endpoint!r} is not a valid OTLP endpoint; expected http(s)://host[:port][/path]")


def sender_for(inner: Any, signal: str) -> Sender:
    """The way to re-send serialized requests of ``signal`` through ``inner``.

    Raises:
        ValueError: The inner OTLP exporter's endpoint is malformed, or ``inner`` is a metric or log
            exporter other than the OTLP ones whose client :mod:`._compat` recognises (only spans can be
            decoded back for any exporter).
    """
    if isinstance(inner, (HttpSpanExporter, HttpMetricExporter, HttpLogExporter)):
        http = http_transport(inner)
        if http is not None:
            check_endpoint(http.endpoint, grpc_style=False)
            return _http_sender(http)
    elif isinstance(inner, _GRPC_EXPORTERS):
        channel = grpc_transport(inner)
        if channel is not None:
            check_endpoint(channel.endpoint, grpc_style=True)
            return _grpc_sender(channel, signal)
    if signal == "traces":
        endpoint = endpoint_of(inner)
        if endpoint is not None:
            check_endpoint(endpoint, grpc_style=isinstance(inner, _GRPC_EXPORTERS))
        return _generic_span_sender(inner)
    raise ValueError(
        f"durable {signal} export needs an OTLP exporter (opentelemetry-exporter-otlp, gRPC or HTTP) as inner; "
        f"got {type(inner).__name__}"
    )
