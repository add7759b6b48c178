"""Every private OpenTelemetry member this distribution uses, each behind a probe, with its fallback.

(Exporter distributions do not import infertel's private modules, so this is the durable exporter's
own counterpart of ``infertel._internal.compat``.) Supported: opentelemetry-sdk and
opentelemetry-exporter-otlp ``>=1.37.0,<2``, checked on 1.37.0 and 1.45.2 in CI.

* Logs names: ``opentelemetry.sdk._logs`` is the logs SDK's only home in every supported release;
  1.39 renamed ``LogExporter``/``LogExportResult`` to ``LogRecordExporter``/``LogRecordExportResult``.
* The OTLP log exporters and log encoder live in underscore modules upstream in every supported
  release (``..._log_exporter``, ``..._log_encoder``): those modules are the only path to them.
* Re-sending spooled bytes through an upstream OTLP exporter's own connection (its endpoint,
  headers, TLS, compression) needs its private client: :func:`http_transport` and
  :func:`grpc_transport` probe the two shapes the supported releases have (1.37-1.42: the exporter
  posts through ``_export(bytes, timeout)`` / holds ``_channel`` from construction; later: an
  ``_client`` with ``_compress``/``_submit`` / a lazily built channel). When neither shape is found
  they return None and the durable exporter falls back to public APIs: spans are decoded back into
  ``ReadableSpan`` objects and passed to the inner exporter's public ``export()``; metric and log
  exporters are refused at construction with a ``ValueError`` (no public API takes encoded bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter

if TYPE_CHECKING:  # the 1.39+ names
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
else:  # read newest first, so the deprecated 1.37-1.38 names are never touched where the new ones exist
    from opentelemetry.sdk._logs import export as _logs_export

    LogRecordExporter = getattr(_logs_export, "LogRecordExporter", None) or _logs_export.LogExporter
    LogRecordExportResult = getattr(_logs_export, "LogRecordExportResult", None) or _logs_export.LogExportResult

__all__ = [
    "HttpLogExporter",
    "HttpTransport",
    "GrpcTransport",
    "LogRecordExportResult",
    "LogRecordExporter",
    "encode_logs",
    "endpoint_of",
    "grpc_transport",
    "http_transport",
    "plain_attributes",
    "preferred_metric_settings",
    "send_timeout_s",
    "span_attributes",
]


def plain_attributes(attributes: Any) -> Any:
    """The plain dict inside the SDK's ``BoundedAttributes`` (``_dict``, 1.37-1.45), else ``attributes`` itself.

    Iterating it directly skips a lock and two Python-level mapping layers per attribute; any
    other mapping (or a release without that member) is iterated through its public interface.

    Example:
        >>> plain_attributes({"k": 1})
        {'k': 1}
    """
    inner = getattr(attributes, "_dict", None)
    return inner if isinstance(inner, dict) else attributes


def span_attributes(span: Any) -> Any:
    """A span's attribute mapping without the public property's read-only wrapper.

    The SDK's ``ReadableSpan`` keeps it in ``_attributes`` (1.37-1.45); otherwise ``span.attributes``.
    """
    attributes = getattr(span, "_attributes", None)
    return attributes if attributes is not None else span.attributes


def preferred_metric_settings(inner: Any) -> tuple[Any, Any]:
    """The temporality and aggregation preferences an SDK ``MetricExporter`` was built with.

    ``MetricExporter`` keeps them in ``_preferred_temporality``/``_preferred_aggregation`` (1.37-1.45)
    and has no public getter; ``(None, None)`` (the SDK defaults) when they cannot be read.
    """
    return getattr(inner, "_preferred_temporality", None), getattr(inner, "_preferred_aggregation", None)


def endpoint_of(inner: Any) -> str | None:
    """The endpoint an upstream OTLP exporter sends to (``_endpoint`` in 1.37-1.45), or None."""
    endpoint = getattr(inner, "_endpoint", None)
    return endpoint if isinstance(endpoint, str) else None


def send_timeout_s(inner: Any) -> float | None:
    """The inner exporter's own send timeout in seconds (``[_client.]_timeout``), or None when unknown."""
    client = getattr(inner, "_client", None)
    timeout = getattr(client, "_timeout", None) or getattr(inner, "_timeout", None)
    return float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else None


class HttpTransport:
    """POSTs an already serialized OTLP request through an upstream OTLP/HTTP exporter's session."""

    def __init__(self, post: Callable[[bytes, float], Any], endpoint: str) -> None:
        self._post = post
        self.endpoint = endpoint

    def post(self, payload: bytes, timeout_s: float) -> int | None:
        """One attempt; the HTTP status code, or None when no response came."""
        status = getattr(self._post(payload, timeout_s), "status_code", None)
        return status if isinstance(status, int) else None


def http_transport(inner: Any) -> HttpTransport | None:
    """The private sending path of an upstream OTLP/HTTP exporter, or None (use the public fallback).

    Example:
        >>> from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        >>> http_transport(OTLPSpanExporter(endpoint="http://127.0.0.1:4318/v1/traces")).endpoint
        'http://127.0.0.1:4318/v1/traces'
    """
    endpoint = endpoint_of(inner)
    if endpoint is None:
        return None
    client = getattr(inner, "_client", None)
    compress, submit = getattr(client, "_compress", None), getattr(client, "_submit", None)
    if callable(compress) and callable(submit):  # the shared HTTP client of newer releases
        return HttpTransport(lambda payload, timeout_s: submit(compress(payload), timeout_s), endpoint)
    export = getattr(inner, "_export", None)
    if callable(export) and getattr(inner, "_session", None) is not None:  # 1.37-era: compresses and posts
        return HttpTransport(export, endpoint)
    return None


class GrpcTransport:
    """The channel and metadata of an upstream OTLP/gRPC exporter."""

    def __init__(self, inner: Any, endpoint: str, lazy: bool) -> None:
        self._inner = inner
        self.endpoint = endpoint
        self._lazy = lazy

    def channel(self) -> Any:
        """The exporter's channel (built on first use where the exporter builds it lazily)."""
        if self._lazy and self._inner._client is None:
            self._inner._initialize_channel_and_stub()
        return self._inner._channel

    @property
    def metadata(self) -> Any:
        """The exporter's headers as gRPC metadata."""
        return self._inner._headers

    def reconnect(self) -> None:
        """Drop the channel (its own reconnect backoff can reach minutes) for a fresh one.

        Only where the exporter can build one (newer releases); the 1.37-era exporter keeps its channel.
        """
        if self._lazy:
            try:
                self._inner._channel.close()
            finally:
                self._inner._initialize_channel_and_stub()


def grpc_transport(inner: Any) -> GrpcTransport | None:
    """The private channel of an upstream OTLP/gRPC exporter, or None (use the public fallback)."""
    endpoint = endpoint_of(inner)
    if endpoint is None or not hasattr(inner, "_channel") or not isinstance(getattr(inner, "_headers", None), tuple):
        return None
    if callable(getattr(inner, "_initialize_channel_and_stub", None)) and hasattr(inner, "_client"):
        return GrpcTransport(inner, endpoint, lazy=True)
    if getattr(inner, "_channel", None) is not None and callable(getattr(inner._channel, "unary_unary", None)):
        return GrpcTransport(inner, endpoint, lazy=False)
    return None
