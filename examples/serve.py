"""An OpenAI-compatible inference server (FastAPI) to try infertel's zero-code setup.

Routes: ``POST /v1/chat/completions`` (streamed SSE or not, ``stream_options.include_usage``),
``POST /v1/completions``, ``POST /v1/embeddings``. The model is a synthetic engine
(deterministic fake tokens, configurable latency) or, with ``--model tiny-gpt2``, a tiny
randomly initialised GPT-2 built from a config (no download; needs ``torch`` and
``transformers``). Each model call runs in ``infertel.inference(...)``: an INTERNAL span under
the server span.

Run it under ``opentelemetry-instrument`` (traces and metrics, no code change)::

    OTEL_SERVICE_NAME=example-server OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 \
        opentelemetry-instrument python examples/serve.py --port 8000

or with ``--configure`` (``infertel.configure()`` plus the FastAPI instrumentation in code).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

import infertel

_VOCABULARY = (
    "the model answers with plausible words drawn from a small fixed vocabulary so that every "
    "run is deterministic and needs no download yet still streams tokens like a real engine"
).split()


class SyntheticEngine:
    """Deterministic fake tokens: the same prompt always yields the same words.

    Args:
        time_to_first_token_s: Delay before the first token.
        time_per_token_s: Delay between tokens.
    """

    name = "synthetic-llm"

    def __init__(self, *, time_to_first_token_s: float = 0.0, time_per_token_s: float = 0.0) -> None:
        self.time_to_first_token_s = time_to_first_token_s
        self.time_per_token_s = time_per_token_s

    def count_tokens(self, text: str) -> int:
        return max(len(text.split()), 1)

    async def stream(self, prompt: str, max_tokens: int) -> AsyncIterator[str]:
        seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big")
        for i in range(max_tokens):
            delay = self.time_to_first_token_s if i == 0 else self.time_per_token_s
            if delay:
                await asyncio.sleep(delay)
            yield _VOCABULARY[(seed + i * 7) % len(_VOCABULARY)] + " "

    def embed(self, text: str, dimensions: int = 8) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [round(b / 255.0, 6) for b in digest[:dimensions]]


class TinyGPT2Engine(SyntheticEngine):
    """A randomly initialised 2-layer GPT-2 (from a config, no download) on the CPU."""

    name = "tiny-gpt2"

    def __init__(self) -> None:
        super().__init__()
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        torch.manual_seed(0)
        config = GPT2Config(
            vocab_size=256, n_positions=128, n_embd=32, n_layer=2, n_head=2, bos_token_id=None, eos_token_id=None
        )
        self.model = GPT2LMHeadModel(config).eval()
        self.torch = torch

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def _encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8")[-64:]) or [0]  # byte-level "tokenizer": ids 0..255

    def _generate(self, prompt: str, max_tokens: int) -> list[int]:
        ids = self.torch.tensor([self._encode(prompt)])
        with self.torch.no_grad():
            out = self.model.generate(ids, max_new_tokens=max_tokens, do_sample=False, pad_token_id=0)
        return [int(t) for t in out[0, ids.shape[1] :]]

    async def stream(self, prompt: str, max_tokens: int) -> AsyncIterator[str]:
        for token in await asyncio.to_thread(self._generate, prompt, max_tokens):
            yield chr(32 + token % 95)


def _prompt(body: dict[str, Any]) -> str:
    if "messages" in body:
        return "\n".join(str(m.get("content", "")) for m in body["messages"] if isinstance(m, dict))
    prompt = body.get("prompt", "")
    return prompt if isinstance(prompt, str) else " ".join(map(str, prompt))


def create_app(engine: SyntheticEngine) -> FastAPI:
    """The FastAPI application serving ``engine`` behind OpenAI-compatible routes."""
    app = FastAPI(title="infertel example server")

    async def complete(body: dict[str, Any], chat: bool) -> Any:
        model = str(body.get("model") or engine.name)
        prompt = _prompt(body)
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        operation = "chat" if chat else "text_completion"
        input_tokens = engine.count_tokens(prompt)
        created, rid = int(time.time()), f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:12]}"
        kind = "chat.completion" if chat else "text_completion"

        def choice(text: str | None, finish: str | None, role: bool = False) -> dict[str, Any]:
            if not chat:
                return {"index": 0, "text": text or "", "finish_reason": finish}
            delta: dict[str, Any] = {"role": "assistant"} if role else {}
            if text is not None:
                delta["content"] = text
            return {"index": 0, "delta": delta, "finish_reason": finish}

        def usage(output_tokens: int) -> dict[str, int]:
            return {
                "prompt_tokens": input_tokens,
                "completion_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            }

        if not body.get("stream"):
            with infertel.inference(model=model, operation=operation, provider="infertel-example") as inv:
                inv.set_input_tokens(input_tokens)
                tokens = [token async for token in engine.stream(prompt, max_tokens)]
                inv.set_output_tokens(len(tokens))
                inv.set_response_model(model)
                inv.set_response_id(rid)
                inv.set_finish_reasons(["length"])
            text = "".join(tokens)
            message = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}
            first = message if chat else {"index": 0, "text": text, "finish_reason": "length"}
            return {
                "id": rid,
                "object": kind,
                "created": created,
                "model": model,
                "choices": [first],
                "usage": usage(len(tokens)),
            }

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def events() -> AsyncIterator[str]:
            def event(payload: dict[str, Any]) -> str:
                base = {"id": rid, "object": f"{kind}.chunk" if chat else kind, "created": created, "model": model}
                return f"data: {json.dumps(base | payload)}\n\n"

            async with infertel.inference(model=model, operation=operation, provider="infertel-example") as inv:
                inv.set_input_tokens(input_tokens)
                inv.set_response_model(model)
                inv.set_response_id(rid)
                if chat:
                    yield event({"choices": [choice(None, None, role=True)]})
                count = 0
                async for token in engine.stream(prompt, max_tokens):
                    count += 1
                    inv.record_chunk(token)
                    yield event({"choices": [choice(token, None)]})
                inv.set_output_tokens(count)
                inv.set_finish_reasons(["length"])
            yield event({"choices": [choice(None if chat else "", "length")]})
            if include_usage:
                yield event({"choices": [], "usage": usage(count)})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        return await complete(await request.json(), chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        return await complete(await request.json(), chat=False)

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Any:
        body = await request.json()
        model = str(body.get("model") or engine.name)
        inputs = body.get("input", "")
        inputs = [inputs] if isinstance(inputs, str) else [str(i) for i in inputs]
        tokens = sum(engine.count_tokens(text) for text in inputs)
        with infertel.inference(model=model, operation="embeddings", provider="infertel-example") as inv:
            inv.set_input_tokens(tokens)
            data = [{"object": "embedding", "index": i, "embedding": engine.embed(t)} for i, t in enumerate(inputs)]
        return {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", choices=["synthetic", "tiny-gpt2"], default="synthetic")
    parser.add_argument("--ttft-ms", type=float, default=20.0, help="synthetic engine: delay before the first token")
    parser.add_argument("--token-ms", type=float, default=5.0, help="synthetic engine: delay between tokens")
    parser.add_argument("--configure", action="store_true", help="infertel.configure() + FastAPI instrumentation")
    args = parser.parse_args(argv)

    import uvicorn

    engine = (
        TinyGPT2Engine()
        if args.model == "tiny-gpt2"
        else SyntheticEngine(time_to_first_token_s=args.ttft_ms / 1000, time_per_token_s=args.token_ms / 1000)
    )
    app = create_app(engine)
    if args.configure:
        from infertel_instrumentation.fastapi import InfertelFastAPIInstrumentor

        infertel.configure(service_name="infertel-example-server")
        InfertelFastAPIInstrumentor.instrument_app(app, exclude_spans=["send", "receive"])  # no span per chunk
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
