"""A real OpenAI-compatible server (FastAPI under uvicorn on 127.0.0.1) for the openai client tests.

Its answers are deterministic so tests can assert exact token counts:

* ``/v1/chat/completions``: the reply is ``REPLY_WORDS`` (one word per stream chunk);
  ``prompt_tokens`` is the number of whitespace-separated words in all messages;
  ``completion_tokens`` is ``len(REPLY_WORDS)`` per choice. Streams honour
  ``stream_options.include_usage``. Model ``"rate-limited"`` answers 429 and ``"broken"`` 500;
  model ``"endless"`` streams ``ENDLESS_CHUNKS`` chunks slowly (for early-close tests); model
  ``CACHED_MODEL`` adds usage details (cached prompt tokens, reasoning tokens).
* ``/v1/completions``: the same for a ``prompt`` string.
* ``/v1/embeddings``: one 4-dimensional vector per input; ``prompt_tokens`` counts words.

Every response model is the request model suffixed with ``RESPONSE_MODEL_SUFFIX``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

try:
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse
except ImportError:  # the fixture skips the tests that need the server
    uvicorn = None

REPLY_WORDS = ("Hello", " from", " the", " test", " server")
RESPONSE_MODEL_SUFFIX = "-2026-01-01"
ENDLESS_CHUNKS = 200


def _words(text: str) -> int:
    return len(text.split())


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += _words(content)
        elif isinstance(content, list):
            total += sum(_words(part.get("text", "")) for part in content if isinstance(part, dict))
    return total


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind, "code": kind}})


def _model_error(model: str) -> JSONResponse | None:
    if model == "rate-limited":
        return _error(429, "rate_limit_exceeded", "Rate limit reached for requests")
    if model == "broken":
        return _error(500, "server_error", "The server had an error")
    return None


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


CACHED_MODEL = "cached"
"""Chat model whose usage carries details: half the prompt (rounded down) cached, 2 reasoning tokens."""


def _usage(prompt: int, completion: int, details: bool = False) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if details:
        usage["prompt_tokens_details"] = {"cached_tokens": prompt // 2}
        usage["completion_tokens_details"] = {"reasoning_tokens": 2}
    return usage


def _build_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        model = body["model"]
        error = _model_error(model)
        if error is not None:
            return error
        n = int(body.get("n") or 1)
        prompt = _prompt_tokens(body.get("messages", []))
        response_model = model + RESPONSE_MODEL_SUFFIX
        created = int(time.time())
        if not body.get("stream"):
            choices = [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": "".join(REPLY_WORDS)},
                    "finish_reason": "stop" if i == 0 else "length",
                    "logprobs": None,
                }
                for i in range(n)
            ]
            return {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": created,
                "model": response_model,
                "choices": choices,
                "usage": _usage(prompt, len(REPLY_WORDS) * n, model == CACHED_MODEL),
            }
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        endless = model == "endless"

        async def events() -> AsyncIterator[str]:
            def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> str:
                payload: dict[str, Any] = {
                    "id": "chatcmpl-stream",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": response_model,
                    "choices": choices,
                }
                if include_usage:
                    payload["usage"] = usage
                return _sse(payload)

            for i in range(n):
                yield chunk([{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
            words = [f" w{k}" for k in range(ENDLESS_CHUNKS)] if endless else list(REPLY_WORDS)
            for word in words:
                for i in range(n):
                    yield chunk([{"index": i, "delta": {"content": word}, "finish_reason": None}])
                if endless:
                    await asyncio.sleep(0.01)
            for i in range(n):
                yield chunk([{"index": i, "delta": {}, "finish_reason": "stop"}])
            if include_usage:
                yield chunk([], _usage(prompt, len(words) * n, model == CACHED_MODEL))
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        body = await request.json()
        model = body["model"]
        error = _model_error(model)
        if error is not None:
            return error
        prompt = _words(body.get("prompt") or "")
        response_model = model + RESPONSE_MODEL_SUFFIX
        created = int(time.time())
        if not body.get("stream"):
            return {
                "id": "cmpl-test",
                "object": "text_completion",
                "created": created,
                "model": response_model,
                "choices": [{"index": 0, "text": "".join(REPLY_WORDS), "finish_reason": "length", "logprobs": None}],
                "usage": _usage(prompt, len(REPLY_WORDS)),
            }
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def events() -> AsyncIterator[str]:
            base = {"id": "cmpl-stream", "object": "text_completion", "created": created, "model": response_model}
            for k, word in enumerate(REPLY_WORDS):
                last = k == len(REPLY_WORDS) - 1
                choice = {"index": 0, "text": word, "finish_reason": "length" if last else None, "logprobs": None}
                yield _sse({**base, "choices": [choice]})
            if include_usage:
                yield _sse({**base, "choices": [], "usage": _usage(prompt, len(REPLY_WORDS))})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Any:
        body = await request.json()
        model = body["model"]
        error = _model_error(model)
        if error is not None:
            return error
        inputs = body["input"]
        if isinstance(inputs, str):
            inputs = [inputs]
        prompt = sum(_words(text) for text in inputs)
        return {
            "object": "list",
            "model": model + RESPONSE_MODEL_SUFFIX,
            "data": [
                {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3, float(i)]} for i in range(len(inputs))
            ],
            "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
        }

    return app


class FakeOpenAIServer:
    """The server, on a free 127.0.0.1 port; ``stop()`` ends it (the thread is joined)."""

    def __init__(self) -> None:
        if uvicorn is None:
            raise RuntimeError("fastapi and uvicorn are needed for the OpenAI-compatible test server")
        self.host = "127.0.0.1"
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.host, 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(_build_app(), log_level="warning", lifespan="off", ws="none", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="fake-openai", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout_s: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()
