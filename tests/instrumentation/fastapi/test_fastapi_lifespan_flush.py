"""The FastAPI instrumentation flushes infertel at the ASGI lifespan shutdown (a real uvicorn server).

Under gunicorn's ``UvicornWorker`` the lifespan shutdown is the last Python code a worker runs
before its re-raised SIGTERM ends it by the default action (tests/integration/test_prefork.py
checks that end to end); here the server runs in a thread and the test reads the store right
after the server stopped, before ``infertel.shutdown()``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from genai_server_app import COMPLETION_TOKENS, PROMPT_TOKENS, _free_port, build_app, uvicorn

import infertel
from infertel import semconv
from infertel_exporters.sqlite import SQLiteStore
from infertel_instrumentation.fastapi import InfertelFastAPIInstrumentor

httpx = pytest.importorskip("httpx")


def _serve(app: Any) -> tuple[Any, threading.Thread, str]:
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-lifespan", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def _stored(store: Path) -> tuple[list[Any], list[Any]]:
    with SQLiteStore(store) as reader:
        spans = reader.spans(0, 2**63 - 1)
        points = reader.metric_series(semconv.GEN_AI_SERVER_REQUEST_DURATION)
    return spans, points


@pytest.mark.parametrize("instrumented", [True, False])
def test_lifespan_shutdown_exports_what_the_server_recorded(fresh_otel: Path, instrumented: bool) -> None:
    # A 60 s push interval and a 30 s span batch delay: nothing leaves before a flush.
    infertel.configure(store_path=str(fresh_otel), resource_metrics=False, metric_export_interval_millis=60_000)
    app = build_app()
    if instrumented:
        InfertelFastAPIInstrumentor.instrument_app(app)

    @infertel.observe(model="engine", operation="chat", kind="internal")
    def engine() -> str:
        return "a b c"

    @app.get("/engine")
    def run_engine() -> dict[str, str]:
        return {"text": engine()}

    try:
        server, thread, base = _serve(app)
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        answer = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=10).json()
        assert answer["usage"]["completion_tokens"] == COMPLETION_TOKENS
        assert httpx.get(f"{base}/engine", timeout=10).json() == {"text": "a b c"}
        assert _stored(fresh_otel)[1] == []  # no metric push yet
        server.should_exit = True
        thread.join(30)
        assert not thread.is_alive()
        spans, points = _stored(fresh_otel)  # before infertel.shutdown(): only the lifespan flush can have run
        if not instrumented:
            # Without the instrumentation, no flush at the lifespan shutdown: the metrics are still in memory.
            assert points == []
            return
        counts = sorted((p.attributes[semconv.GEN_AI_REQUEST_MODEL], p.histogram["count"]) for p in points)
        assert counts == [("engine", 1), ("m", 1)]
        # The ASGI instrumentation's internal send/receive spans vary with its version: left out.
        assert sorted(s.name for s in spans if " http " not in s.name) == [
            "GET /engine",
            "POST /v1/chat/completions",
            "chat engine",
        ]
        (served,) = [s for s in spans if s.name == "POST /v1/chat/completions"]
        assert {k: v for k, v in served.attributes.items() if k.startswith("gen_ai.")} == {
            semconv.GEN_AI_OPERATION_NAME: "chat",
            semconv.GEN_AI_REQUEST_MODEL: "m",
            semconv.GEN_AI_RESPONSE_MODEL: "m-served",
            semconv.GEN_AI_RESPONSE_ID: "resp-1",
            semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
            semconv.GEN_AI_USAGE_INPUT_TOKENS: PROMPT_TOKENS,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: COMPLETION_TOKENS,
        }
    finally:
        if instrumented:
            InfertelFastAPIInstrumentor.uninstrument_app(app)
        assert infertel.shutdown(timeout_millis=10_000) is True
