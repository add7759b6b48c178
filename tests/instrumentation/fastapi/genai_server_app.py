"""A deterministic OpenAI-compatible FastAPI app and a real uvicorn server for it on 127.0.0.1.

Imported by the tests of this folder (module name unique in the suite).

The app's answers are fixed so tests can assert exact token counts:

* ``/v1/chat/completions``: non-stream replies carry ``usage`` (``PROMPT_TOKENS``,
  ``COMPLETION_TOKENS``); streams send a role chunk, ``body["chunks"]`` content chunks (default
  ``STREAM_CHUNKS``) ``body["delay"]`` seconds apart (the first after ``body["ttft"]``), a finish
  chunk, the usage chunk when ``stream_options.include_usage`` (``completion_tokens`` =
  ``body["usage_tokens"]`` if given, else the chunk count) and ``[DONE]``. Model ``"broken"``
  raises ``RuntimeError`` (a 500).
* ``/v1/completions``: the same, legacy ``text`` choices.
* ``/v1/embeddings``: ``usage.prompt_tokens`` = number of inputs x 2.
* ``/health``: not an instrumented route.

Every response model is the request model suffixed with ``RESPONSE_SUFFIX``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

fastapi = pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
pytest.importorskip("infertel_instrumentation.fastapi")

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import StreamingResponse  # noqa: E402

PROMPT_TOKENS = 7
COMPLETION_TOKENS = 3
STREAM_CHUNKS = 5
RESPONSE_SUFFIX = "-served"


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def build_app() -> FastAPI:
    app = FastAPI()

    async def answer(body: dict[str, Any], chat: bool) -> Any:
        model = body["model"]
        if model == "broken":
            raise RuntimeError("the engine failed")
        response_model = model + RESPONSE_SUFFIX
        if not body.get("stream"):
            choice: dict[str, Any] = (
                {"index": 0, "message": {"role": "assistant", "content": "a b c"}, "finish_reason": "stop"}
                if chat
                else {"index": 0, "text": "a b c", "finish_reason": "stop"}
            )
            usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS, "total_tokens": 10}
            return {"id": "resp-1", "model": response_model, "choices": [choice], "usage": usage}
        chunks = int(body.get("chunks", STREAM_CHUNKS))
        delay = float(body.get("delay", 0.0))
        ttft = float(body.get("ttft", 0.0))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(text: str | None, finish: str | None = None, role: bool = False) -> str:
            if chat:
                delta: dict[str, Any] = {"role": "assistant"} if role else {}
                if text is not None:
                    delta["content"] = text
                choice = {"index": 0, "delta": delta, "finish_reason": finish}
            else:
                choice = {"index": 0, "text": text or "", "finish_reason": finish}
            return _sse({"id": "resp-2", "model": response_model, "choices": [choice]})

        async def events() -> AsyncIterator[str]:
            if chat:
                yield chunk(None, role=True)
            for i in range(chunks):
                await asyncio.sleep(ttft if i == 0 else delay)
                yield chunk(f"t{i} ")
            yield chunk(None if chat else "", finish="stop")
            if include_usage:
                completion = int(body.get("usage_tokens", chunks))
                usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": completion, "total_tokens": 0}
                yield _sse({"id": "resp-2", "model": response_model, "choices": [], "usage": usage})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        return await answer(await request.json(), chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        return await answer(await request.json(), chat=False)

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Any:
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        tokens = 2 * len(inputs)
        data = [{"object": "embedding", "index": i, "embedding": [0.0, 1.0]} for i in range(len(inputs))]
        return {"object": "list", "model": body["model"], "data": data, "usage": {"prompt_tokens": tokens}}

    @app.post("/generate")
    async def generate(request: Request) -> Any:
        return await answer(await request.json(), chat=True)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UvicornThread:
    """A real uvicorn server for ``app`` in a background thread, on a free 127.0.0.1 port."""

    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", ws="none")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def wait_for(predicate: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    """Poll ``predicate`` until it returns something truthy (server-side spans end asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)
