"""One trace across processes: openai client -> HTTP -> FastAPI server -> in-process model call.

The example server (examples/serve.py) runs under uvicorn in a subprocess started with
``opentelemetry-instrument`` (infertel's distro and configurator, contrib's FastAPI
instrumentation, infertel's FastAPI instrumentation), exporting OTLP/HTTP to a real Arize
Phoenix. The test process drives it with the real ``openai`` client instrumented by
``OpenAIInstrumentor``, exporting to the same Phoenix. Phoenix's API must then return one trace
per call holding the CLIENT span, the SERVER span and the INTERNAL inference span, in that
parent/child order, with their ``gen_ai.*`` attributes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from peers.phoenix import PhoenixServer

from infertel import semconv

pytestmark = [pytest.mark.integration, pytest.mark.slow]

openai = pytest.importorskip("openai")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("infertel_instrumentation.fastapi")
openai_instrumentation = pytest.importorskip("infertel_instrumentation.openai")

REPO = Path(__file__).resolve().parents[2]
SERVE = REPO / "examples" / "serve.py"
OPENTELEMETRY_INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")
MODEL = "synthetic-llm"
MAX_TOKENS = 6


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """examples/serve.py under ``opentelemetry-instrument``, stopped by PID."""

    def __init__(self, phoenix: PhoenixServer, tmp_path: Path) -> None:
        self.port = _free_port()
        self.log_path = tmp_path / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHONPATH"))}
        env.update(
            OTEL_PYTHON_DISTRO="infertel",  # opentelemetry-distro may be installed beside infertel
            OTEL_SERVICE_NAME="infertel-e2e-server",
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=phoenix.otlp_http_traces_endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_BSP_SCHEDULE_DELAY="200",
            OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="infertel_transformers",  # keeps startup short
            INFERTEL_STORE_PATH=str(tmp_path / "server.db"),
        )
        command = [str(OPENTELEMETRY_INSTRUMENT), sys.executable, str(SERVE), "--port", str(self.port)]
        command += ["--ttft-ms", "5", "--token-ms", "1"]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"server not ready in {timeout_s} s: {self.log()}")

    def stop(self) -> None:
        """SIGINT: uvicorn shuts down cleanly, then the interpreter exits and the SDK flushes at exit.

        Not SIGTERM: uvicorn re-raises the signal it caught after its shutdown, and the default
        SIGTERM disposition kills the process before ``atexit`` handlers (the span flush) run.
        """
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture
def server(phoenix: PhoenixServer, tmp_path: Path) -> Iterator[ServerProcess]:
    if not OPENTELEMETRY_INSTRUMENT.exists():
        pytest.skip("opentelemetry-instrument is not installed next to this interpreter")
    process = ServerProcess(phoenix, tmp_path)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _trace(phoenix: PhoenixServer, client_span: ReadableSpan, count: int) -> dict[str, dict[str, Any]]:
    trace_id = _hex(client_span.context.trace_id, 32)
    spans = phoenix.wait_for_spans(count, trace_id=trace_id, timeout_s=60)
    return {span["context"]["span_id"]: span for span in spans}


def _child(spans: dict[str, dict[str, Any]], parent_id: str, name_prefix: str) -> dict[str, Any]:
    children = [s for s in spans.values() if s.get("parent_id") == parent_id and s["name"].startswith(name_prefix)]
    assert len(children) == 1, (name_prefix, [(s["name"], s.get("parent_id")) for s in spans.values()])
    return children[0]


def test_client_server_and_inference_spans_share_one_trace(server: ServerProcess, phoenix: PhoenixServer) -> None:
    in_memory = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "infertel-e2e-client"}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(in_memory))
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=phoenix.otlp_http_traces_endpoint))
    )
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    instrumentor = openai_instrumentation.OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="dummy", max_retries=0, timeout=30)
        messages = [{"role": "user", "content": "one trace please"}]
        reply = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=MAX_TOKENS)
        assert reply.usage is not None and reply.usage.completion_tokens == MAX_TOKENS
        stream = client.chat.completions.create(
            model=MODEL,
            messages=messages,
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert len(text.split()) == MAX_TOKENS
    finally:
        instrumentor.uninstrument()
    server.stop()  # flushes the server's spans
    tracer_provider.shutdown()
    meter_provider.shutdown()

    client_spans = [s for s in in_memory.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert len(client_spans) == 2, [s.name for s in in_memory.get_finished_spans()]
    assert len({s.context.trace_id for s in client_spans}) == 2
    for client_span, streamed in zip(client_spans, (False, True), strict=True):
        spans = _trace(phoenix, client_span, 3)
        client = spans[_hex(client_span.context.span_id, 16)]
        assert client["name"] == client_span.name
        assert client.get("parent_id") is None
        assert client["attributes"][semconv.GEN_AI_OPERATION_NAME] == "chat"
        assert client["attributes"][semconv.GEN_AI_REQUEST_MODEL] == MODEL
        assert client["attributes"][semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == MAX_TOKENS

        http_server = _child(spans, client["context"]["span_id"], "POST /v1/chat/completions")
        server_attributes = http_server["attributes"]
        assert server_attributes[semconv.GEN_AI_OPERATION_NAME] == "chat"
        assert server_attributes[semconv.GEN_AI_REQUEST_MODEL] == MODEL
        assert server_attributes[semconv.GEN_AI_RESPONSE_MODEL] == MODEL
        assert server_attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == MAX_TOKENS
        assert server_attributes.get(semconv.GEN_AI_REQUEST_STREAM, False) is streamed
        if streamed:
            assert server_attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_EXHAUSTED
            assert server_attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0

        inference = _child(spans, http_server["context"]["span_id"], f"chat {MODEL}")
        inference_attributes = inference["attributes"]
        assert inference_attributes[semconv.GEN_AI_OPERATION_NAME] == "chat"
        assert inference_attributes[semconv.GEN_AI_REQUEST_MODEL] == MODEL
        assert inference_attributes[semconv.GEN_AI_PROVIDER_NAME] == "infertel-example"
        assert inference_attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == MAX_TOKENS
        assert client["start_time"] <= http_server["start_time"] <= inference["start_time"]
