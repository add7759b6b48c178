"""A Prometheus ``/metrics`` endpoint for every metric of a MeterProvider ``configure()`` builds.

Wires the upstream ``opentelemetry-exporter-prometheus`` reader to ``prometheus_client``'s HTTP server
(a daemon thread). The reader gets its own ``CollectorRegistry``, so the endpoint serves exactly the
OpenTelemetry metrics and never clashes with collectors the application registered on the global one.
OpenTelemetry names become Prometheus names the exporter's way: ``gen_ai.server.request.duration``
(unit ``s``) is scraped as ``gen_ai_server_request_duration_seconds_{bucket,sum,count}``.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any

_logger = logging.getLogger(__name__)


@dataclass
class PrometheusEndpoint:
    """A running ``/metrics`` endpoint.

    Attributes:
        reader: The ``PrometheusMetricReader`` to give the ``MeterProvider`` at construction.
        host: Address the server is bound to.
        port: The bound port (the real one when ``0`` was asked for).
    """

    reader: Any
    host: str
    port: int
    _server: Any
    _thread: threading.Thread

    @property
    def url(self) -> str:
        """The scrape URL, e.g. ``http://127.0.0.1:9464/metrics``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop serving and release the port (the reader is shut down with its MeterProvider)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout_s)


def start_prometheus(host: str, port: int) -> PrometheusEndpoint:
    """Create a ``PrometheusMetricReader`` and serve it on ``http://host:port/metrics``.

    Raises:
        ImportError: ``opentelemetry-exporter-prometheus`` is not installed (``pip install 'infertel[prometheus]'``).
        OSError: The port is taken.

    Example:
        >>> endpoint = start_prometheus("127.0.0.1", 0)
        >>> provider = MeterProvider(metric_readers=[endpoint.reader])  # doctest: +SKIP
        >>> endpoint.stop()
    """
    try:
        from prometheus_client import start_http_server

        from infertel._internal.compat import prometheus_reader

        reader, registry = prometheus_reader()
    except ImportError as exc:
        raise ImportError(
            "configure(prometheus_port=...) needs opentelemetry-exporter-prometheus: pip install 'infertel[prometheus]'"
        ) from exc
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except Exception:
        reader.shutdown()
        raise
    bound_port = int(server.server_port)
    _logger.info("infertel: Prometheus metrics on http://%s:%d/metrics", host, bound_port)
    return PrometheusEndpoint(reader=reader, host=host, port=bound_port, _server=server, _thread=thread)


def check_port_free(host: str, port: int) -> None:
    """Raise ``ValueError`` naming the setting when ``host:port`` cannot be bound (checked before configuring).

    Example:
        >>> check_port_free("127.0.0.1", 0)
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP server will
            probe.bind((host, port))
    except OSError as exc:
        raise ValueError(
            f"prometheus_port / INFERTEL_PROMETHEUS_PORT: cannot serve /metrics on {host}:{port} "
            f"({exc.strerror or exc}); accepted: a free port, or 0 for any free port"
        ) from None
