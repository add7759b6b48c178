"""A real Arize Phoenix trace backend on 127.0.0.1 for integration tests.

Phoenix lives in its own virtual environment (``scripts/install-peers.sh`` creates it under
``.cache/phoenix-venv``; ``INFERTEL_TEST_PHOENIX`` overrides the ``phoenix`` executable). One
server is started per test session by the ``phoenix`` fixture and stopped by PID. ``stop()`` and
``start()`` keep the same ports and working directory (a SQLite database), so outage tests can
take the collector away and bring it back with its data.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_EXECUTABLE = REPO_ROOT / ".cache" / "phoenix-venv" / "bin" / "phoenix"


def phoenix_executable() -> Path | None:
    """The ``phoenix`` command, or ``None`` when it is not installed."""
    path = Path(os.environ.get("INFERTEL_TEST_PHOENIX", str(DEFAULT_EXECUTABLE)))
    return path if path.exists() else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PhoenixServer:
    """One ``phoenix serve`` process with fixed ports and a working directory.

    Attributes:
        http_port: Port of the UI, REST API and OTLP/HTTP receiver (``/v1/traces``).
        grpc_port: Port of the OTLP/gRPC receiver.
    """

    def __init__(self, executable: Path, working_dir: Path, *, startup_timeout_s: float = 120.0) -> None:
        self.executable = executable
        self.working_dir = working_dir
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = working_dir / "phoenix.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def otlp_http_traces_endpoint(self) -> str:
        """Full URL for ``OTLPSpanExporter(endpoint=...)`` of the HTTP/protobuf exporter."""
        return f"{self.base_url}/v1/traces"

    @property
    def otlp_grpc_endpoint(self) -> str:
        """``host:port`` URL for the gRPC exporter (insecure)."""
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server and wait until ``/readyz`` answers."""
        if self.running:
            return
        env = dict(os.environ)
        env.update(
            PHOENIX_WORKING_DIR=str(self.working_dir),
            PHOENIX_HOST="127.0.0.1",
            PHOENIX_PORT=str(self.http_port),
            PHOENIX_GRPC_PORT=str(self.grpc_port),
            PHOENIX_TELEMETRY_ENABLED="false",
            DO_NOT_TRACK="1",
        )
        # Our own OTel variables must not leak into Phoenix's process.
        for key in list(env):
            if key.startswith(("OTEL_", "INFERTEL_")):
                del env[key]
        log = self._log_path.open("ab")
        self._proc = subprocess.Popen(
            [str(self.executable), "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"phoenix exited with {self._proc.returncode}: {self.log_tail()}")
            if self._ready():
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"phoenix did not become ready in {self.startup_timeout_s} s: {self.log_tail()}")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the server by PID (SIGTERM, then SIGKILL) and wait for it."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout_s)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        with urllib.request.urlopen(f"{self.base_url}{path}?{query}", timeout=30) as response:
            return json.loads(response.read())

    def spans(
        self, *, trace_id: str | None = None, project: str = "default", limit: int = 1000
    ) -> list[dict[str, Any]]:
        """All spans of ``project`` (optionally of one trace), following pagination.

        Each span is Phoenix's JSON: ``name``, ``context.trace_id``/``span_id`` (hex),
        ``parent_id``, ``attributes`` (flat dict), ``status_code``, ``start_time``, ``end_time``.
        """
        params: dict[str, Any] = {"limit": limit}
        if trace_id is not None:
            params["trace_id"] = trace_id
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page_params = dict(params)
            if cursor:
                page_params["cursor"] = cursor
            try:
                body = self._get(f"/v1/projects/{project}/spans", page_params)
            except urllib.error.HTTPError as exc:
                if exc.code == 404:  # the project does not exist until its first span arrives
                    return out
                raise
            out.extend(body.get("data", []))
            cursor = body.get("next_cursor")
            if not cursor:
                return out

    def wait_for_spans(
        self, count: int, *, trace_id: str | None = None, timeout_s: float = 30.0, project: str = "default"
    ) -> list[dict[str, Any]]:
        """Poll until at least ``count`` spans are readable (or the timeout passes); return them."""
        deadline = time.monotonic() + timeout_s
        spans = self.spans(trace_id=trace_id, project=project)
        while len(spans) < count and time.monotonic() < deadline:
            time.sleep(0.5)
            spans = self.spans(trace_id=trace_id, project=project)
        return spans
