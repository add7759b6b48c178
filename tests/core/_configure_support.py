"""Fixtures for tests that call ``infertel.configure()``, which touches process-wide OTel state.

``fresh_otel`` gives each test unset OpenTelemetry globals (their set-once guards are reset through
the API's private module attributes: the only way to undo ``set_tracer_provider`` in-process), no
``OTEL_*``/``INFERTEL_*`` variables except the test-suite switch, a store path under ``tmp_path``,
and shuts down whatever the test configured. ``otlp_http_receiver`` is a real OTLP/HTTP endpoint on
127.0.0.1 that decodes what it receives with the OTLP protobuf definitions.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import _internal as logs_api
from opentelemetry.metrics import _internal as metrics_api
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.util._once import Once

from infertel._internal import configure as configure_module
from infertel._internal import logs, providers, state
from infertel.environment_variables import INFERTEL_RAISE_INTERNAL_ERRORS, INFERTEL_STORE_PATH


def reset_otel_globals() -> None:
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    metrics_api._METER_PROVIDER_SET_ONCE = Once()
    metrics_api._METER_PROVIDER = None
    metrics_api._PROXY_METER_PROVIDER = metrics_api._ProxyMeterProvider()
    logs_api._LOGGER_PROVIDER_SET_ONCE = Once()
    logs_api._LOGGER_PROVIDER = None
    logs_api._PROXY_LOGGER_PROVIDER = logs_api.ProxyLoggerProvider()


@pytest.fixture
def fresh_otel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Unset OTel globals and a clean environment; yields the store path the test may use."""
    for key in list(os.environ):
        if key.startswith(("OTEL_", "INFERTEL_")) and key != INFERTEL_RAISE_INTERNAL_ERRORS:
            monkeypatch.delenv(key)
    store = tmp_path / "store" / "infertel.db"
    monkeypatch.setenv(INFERTEL_STORE_PATH, str(store))
    monkeypatch.setenv("INFERTEL_SPOOL_DIR", str(tmp_path / "spool"))
    # The structure tests look at the upstream OTLP exporters themselves; tests of the durable
    # wrapping switch it back on.
    monkeypatch.setenv("INFERTEL_DURABLE", "off")
    configure_module.shutdown(timeout_millis=5_000)
    reset_otel_globals()
    root_handlers = list(logging.getLogger().handlers)
    yield store
    configure_module.shutdown(timeout_millis=5_000)
    logs.detach()
    state.reset()
    for provider in (trace._TRACER_PROVIDER, metrics_api._METER_PROVIDER, logs_api._LOGGER_PROVIDER):
        if provider is not None and not providers.is_owned(provider) and hasattr(provider, "shutdown"):
            provider.shutdown()
    reset_otel_globals()
    for handler in list(logging.getLogger().handlers):
        if handler not in root_handlers:
            logging.getLogger().removeHandler(handler)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    message: Any


@dataclass
class OtlpHttpReceiver:
    url: str
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def spans(self) -> list[Any]:
        return [
            span
            for r in self.of("/v1/traces")
            for rs in r.message.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]

    def log_records(self) -> list[Any]:
        return [
            rec
            for r in self.of("/v1/logs")
            for rl in r.message.resource_logs
            for sl in rl.scope_logs
            for rec in sl.log_records
        ]


_MESSAGES = {
    "/v1/traces": ExportTraceServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
    "/v1/logs": ExportLogsServiceRequest,
}


@pytest.fixture
def otlp_http_receiver() -> Iterator[OtlpHttpReceiver]:
    """An OTLP/HTTP (protobuf) receiver on 127.0.0.1 that answers 200 and keeps what it decoded."""
    receiver: OtlpHttpReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            message_cls = _MESSAGES.get(self.path)
            if message_cls is None:
                self.send_response(404)
                self.end_headers()
                return
            message = message_cls()
            message.ParseFromString(body)
            with receiver.lock:
                receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, message))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = OtlpHttpReceiver(url=f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
