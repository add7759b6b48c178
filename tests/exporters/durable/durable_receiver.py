"""A minimal, real OTLP receiver (HTTP/protobuf and gRPC) run in its own process on 127.0.0.1.

It decodes every request with opentelemetry-proto, counts spans (remembering their ids, so
duplicates are visible), metric data points and log records, and can be told to answer errors or
hang, for fault tests. Used by tests/exporters/durable and benchmarks/export.py.

    python durable_receiver.py    # prints {"http_port": ..., "grpc_port": ...} on its first line
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_state: dict[str, Any] = {
    "mode": "ok",
    "spans": 0,
    "duplicates": 0,
    "points": 0,
    "logs": 0,
    "requests": 0,
    "errors_answered": 0,
}
_ids: set[bytes] = set()
_hang = threading.Event()
# RECEIVER_IDS_PATH: every received span's trace id + span id (hex) appended there, one per line,
# so counts survive a restart of the receiver (benchmarks/soak.py stops it every minute).
_ids_file = open(os.environ["RECEIVER_IDS_PATH"], "a", buffering=1) if os.environ.get("RECEIVER_IDS_PATH") else None
# RECEIVER_DUMP_DIR: every accepted OTLP/HTTP request body also written there as <signal>-<n>.pb,
# for tests that decode whole requests (resources, attributes) rather than counts.
_dump_dir = Path(os.environ["RECEIVER_DUMP_DIR"]) if os.environ.get("RECEIVER_DUMP_DIR") else None


def _count_traces(body: bytes) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(body)
    with _lock:
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    key = span.trace_id + span.span_id
                    if _ids_file is not None:
                        _ids_file.write(key.hex() + "\n")
                    if key in _ids:
                        _state["duplicates"] += 1
                    else:
                        _ids.add(key)
                    _state["spans"] += 1
        _state["requests"] += 1


def _count_metrics(body: bytes) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    request = ExportMetricsServiceRequest.FromString(body)
    points = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                points += len(getattr(metric, kind).data_points) if kind else 0
    with _lock:
        _state["points"] += points
        _state["requests"] += 1


def _count_logs(body: bytes) -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    request = ExportLogsServiceRequest.FromString(body)
    with _lock:
        _state["logs"] += sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
        _state["requests"] += 1


_COUNTERS = {"/v1/traces": _count_traces, "/v1/metrics": _count_metrics, "/v1/logs": _count_logs}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _reply(self, status: int, body: bytes = b"", content_type: str = "application/x-protobuf") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/stats":
            with _lock:
                body = json.dumps({**_state, "unique": len(_ids)}).encode()
            self._reply(200, body, "application/json")
        elif self.path.startswith("/mode/"):
            mode = self.path[len("/mode/") :]
            with _lock:
                _state["mode"] = mode
            if mode == "hang":
                _hang.clear()
            else:
                _hang.set()
            self._reply(200, b"ok", "text/plain")
        else:
            self._reply(404)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        mode = _state["mode"]
        if mode == "hang":
            _hang.wait(3600)  # released by a mode change; the client gave up long ago: do not count
            self._reply(503)
            return
        if mode.isdigit():
            with _lock:
                _state["errors_answered"] += 1
            self._reply(int(mode))
            return
        counter = _COUNTERS.get(self.path)
        if counter is None:
            self._reply(404)
            return
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        counter(body)
        if _dump_dir is not None:
            with _lock:
                _state["dumped"] = n = _state.get("dumped", 0) + 1
            (_dump_dir / f"{self.path.rsplit('/', 1)[-1]}-{n:06d}.pb").write_bytes(body)
        self._reply(200)


def _grpc_server(port: int) -> Any:
    import grpc
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    def gate(context: Any) -> bool:
        mode = _state["mode"]
        if mode == "hang":
            _hang.wait(3600)
            context.abort(grpc.StatusCode.UNAVAILABLE, "was hanging")
            return False
        if mode.isdigit():
            with _lock:
                _state["errors_answered"] += 1
            code = grpc.StatusCode.INVALID_ARGUMENT if mode.startswith("4") else grpc.StatusCode.UNAVAILABLE
            context.abort(code, f"receiver in mode {mode}")
            return False
        return True

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
            if gate(context):
                _count_traces(request.SerializeToString())
            return trace_service_pb2.ExportTraceServiceResponse()

    class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
            if gate(context):
                _count_metrics(request.SerializeToString())
            return metrics_service_pb2.ExportMetricsServiceResponse()

    class Logs(logs_service_pb2_grpc.LogsServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
            if gate(context):
                _count_logs(request.SerializeToString())
            return logs_service_pb2.ExportLogsServiceResponse()

    options = [("grpc.max_receive_message_length", 64 << 20)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, bound


def main() -> None:
    http = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("RECEIVER_HTTP_PORT", "0"))), _Handler)
    http.daemon_threads = True
    grpc_server, grpc_port = _grpc_server(int(os.environ.get("RECEIVER_GRPC_PORT", "0")))
    _hang.set()
    sys.stdout.write(json.dumps({"http_port": http.server_address[1], "grpc_port": grpc_port}) + "\n")
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=http.shutdown).start())
    http.serve_forever()
    grpc_server.stop(0)


class Receiver:
    """Handle on a receiver process: endpoints, stats, mode switch; ``stop()`` ends it by PID."""

    def __init__(
        self, http_port: int = 0, grpc_port: int = 0, ids_path: str | None = None, dump_dir: str | None = None
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
        env.update(RECEIVER_HTTP_PORT=str(http_port), RECEIVER_GRPC_PORT=str(grpc_port))
        if ids_path is not None:
            env["RECEIVER_IDS_PATH"] = ids_path
        if dump_dir is not None:
            env["RECEIVER_DUMP_DIR"] = dump_dir
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())], env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        assert self.proc.stdout is not None
        ports = json.loads(self.proc.stdout.readline())
        self.http_port: int = ports["http_port"]
        self.grpc_port: int = ports["grpc_port"]

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.http_base + path, timeout=10) as response:
            return bytes(response.read())

    def stats(self) -> dict[str, Any]:
        return dict(json.loads(self._get("/stats")))

    def set_mode(self, mode: str) -> None:
        """``ok``, ``hang`` or an HTTP status such as ``503`` (gRPC: UNAVAILABLE / INVALID_ARGUMENT for 4xx)."""
        self._get(f"/mode/{mode}")

    def wait_for(self, key: str, count: int, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        stats = self.stats()
        while stats[key] < count and time.monotonic() < deadline:
            time.sleep(0.05)
            stats = self.stats()
        return stats

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


if __name__ == "__main__":
    main()
