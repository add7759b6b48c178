"""The synthetic inference engine behind ``infertel demo``: no model download, realistic timings.

Every model has log-normal time-to-first-token, tokens-per-second and output-length profiles;
every call goes through the public API (``@infertel.observe`` on coroutines, async generators,
functions and generators, and ``async with infertel.inference(...)``), and a few percent fail the
way real serving stacks do (a provider's rate limit before any token, a timeout mid-stream).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import infertel
from infertel import semconv


class RateLimitError(Exception):
    """The synthetic provider refused the call (HTTP 429), like ``openai.RateLimitError``."""


@dataclass(frozen=True)
class ModelProfile:
    """How one synthetic model behaves (medians and log-normal sigmas)."""

    name: str
    provider: str
    kind: str  # "internal" (in-process model) or "client" (remote API)
    ttft_median_s: float
    ttft_sigma: float
    tokens_per_s_median: float
    tokens_per_s_sigma: float
    output_tokens_median: float
    output_tokens_sigma: float
    input_tokens_median: float
    error_weight: float = 1.0
    server_address: str | None = None
    server_port: int | None = None


MODELS: tuple[ModelProfile, ...] = (
    ModelProfile("llama-3-8b-instruct", "vllm", "internal", 0.030, 0.45, 190.0, 0.20, 44, 0.55, 180),
    ModelProfile("mistral-7b-instruct", "vllm", "internal", 0.045, 0.50, 150.0, 0.25, 36, 0.60, 220),
    ModelProfile("qwen2-72b-instruct", "tgi", "internal", 0.110, 0.55, 70.0, 0.20, 22, 0.50, 300, error_weight=1.5),
    ModelProfile(
        "gpt-4o-mini",
        "openai",
        "client",
        0.220,
        0.40,
        120.0,
        0.30,
        30,
        0.50,
        150,
        error_weight=2.0,
        server_address="api.openai.com",
        server_port=443,
    ),  # fmt: skip
)
"""The models of the demo, from a small fast local one to a remote API."""

STYLES: tuple[str, ...] = ("async", "async_stream", "sync", "sync_stream", "context_manager")
"""How a call is made: ``@observe`` on a coroutine / async generator / function / generator, or
``async with infertel.inference(...)`` around a hand-driven stream."""

ERROR_RATE_LIMIT = "rate_limit"
ERROR_TIMEOUT = "timeout"


@dataclass(frozen=True)
class Plan:
    """One request, decided up front from the seed so a run is reproducible."""

    index: int
    model: ModelProfile
    style: str
    input_tokens: int
    output_tokens: int
    ttft_s: float
    tokens_per_s: float
    error: str | None
    error_at_token: int

    @property
    def stream(self) -> bool:
        """Whether the call streams its tokens."""
        return self.style in ("async_stream", "sync_stream", "context_manager")


@dataclass(frozen=True)
class Outcome:
    """What the demo itself measured for one request (used when telemetry leaves over OTLP)."""

    model: str
    style: str
    error_type: str | None
    latency_s: float
    ttft_s: float | None
    output_tokens: int


def make_plans(requests: int, *, seed: int, error_rate: float) -> list[Plan]:
    """``requests`` plans drawn from ``seed``: models round-robin-ish, styles and timings at random.

    Example:
        >>> [p.model.name for p in make_plans(2, seed=1, error_rate=0.0)]  # doctest: +SKIP
        ['mistral-7b-instruct', 'llama-3-8b-instruct']
    """
    rng = random.Random(seed)
    plans = []
    for index in range(requests):
        model = rng.choice(MODELS)
        style = STYLES[rng.randrange(len(STYLES))]
        output = max(
            1, min(512, round(rng.lognormvariate(math.log(model.output_tokens_median), model.output_tokens_sigma)))
        )  # noqa: E501
        error = None
        if rng.random() < min(1.0, error_rate * model.error_weight):
            error = ERROR_RATE_LIMIT if rng.random() < 0.4 else ERROR_TIMEOUT
        plans.append(
            Plan(
                index=index,
                model=model,
                style=style,
                input_tokens=max(1, round(rng.lognormvariate(math.log(model.input_tokens_median), 0.6))),
                output_tokens=output,
                ttft_s=rng.lognormvariate(math.log(model.ttft_median_s), model.ttft_sigma),
                tokens_per_s=rng.lognormvariate(math.log(model.tokens_per_s_median), model.tokens_per_s_sigma),
                error=error,
                error_at_token=rng.randrange(output),
            )
        )
    return plans


def _token(plan: Plan, i: int) -> str:
    return ("lorem", " ipsum", " dolor", " sit", " amet", ",", " consectetur", " adipiscing")[(plan.index + i) % 8]


def _response(plan: Plan) -> dict[str, Any]:
    """An OpenAI-style completion: infertel reads the usage and response fields from it."""
    return {
        "id": f"cmpl-demo-{plan.index}",
        "model": plan.model.name,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "..."}}],
        "usage": {"prompt_tokens": plan.input_tokens, "completion_tokens": plan.output_tokens},
    }


def _failure(plan: Plan) -> Exception:
    if plan.error == ERROR_RATE_LIMIT:
        return RateLimitError(f"{plan.model.provider}: rate limit reached for {plan.model.name}, retry after 1s")
    return TimeoutError(f"{plan.model.name} did not finish within the deadline")


def _annotate(plan: Plan) -> None:
    inv = infertel.current_inference()
    if inv is not None:
        inv.set_attribute(semconv.INFERTEL_DEMO_CALL_STYLE, plan.style)
        inv.set_input_tokens(plan.input_tokens)


def _schedule(plan: Plan) -> Iterator[tuple[float, int]]:
    """``(seconds after the call started, token index)`` for each token of a successful stream."""
    for i in range(plan.output_tokens):
        yield plan.ttft_s + i / plan.tokens_per_s, i


async def _sleep_until(t0: float, offset: float) -> None:
    delay = t0 + offset - time.perf_counter()
    if delay > 0.001:  # pace tokens in small batches: one wake-up per millisecond at most
        await asyncio.sleep(delay)


def _block_until(t0: float, offset: float) -> None:
    delay = t0 + offset - time.perf_counter()
    if delay > 0.001:
        time.sleep(delay)


def _error_offset(plan: Plan) -> float:
    if plan.error == ERROR_RATE_LIMIT:
        return min(plan.ttft_s, 0.02)
    return plan.ttft_s + plan.error_at_token / plan.tokens_per_s


class Engine:
    """The demo's models wrapped with ``@infertel.observe`` once each, plus the context-manager path.

    Example:
        >>> engine = Engine()
        >>> outcome = asyncio.run(engine.run(make_plans(1, seed=3, error_rate=0.0)[0]))  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._calls: dict[str, dict[str, Callable[..., Any]]] = {m.name: self._wrap(m) for m in MODELS}

    @staticmethod
    def _wrap(model: ModelProfile) -> dict[str, Callable[..., Any]]:
        observe = infertel.observe(
            model=model.name, operation=semconv.GEN_AI_OPERATION_CHAT, provider=model.provider, kind=model.kind,
            server_address=model.server_address, server_port=model.server_port,
            request={"temperature": 0.7, "max_tokens": 512},
        )  # fmt: skip

        async def complete(plan: Plan) -> dict[str, Any]:
            _annotate(plan)
            t0 = time.perf_counter()
            if plan.error:
                await _sleep_until(t0, _error_offset(plan))
                raise _failure(plan)
            await _sleep_until(t0, plan.ttft_s + plan.output_tokens / plan.tokens_per_s)
            return _response(plan)

        async def stream(plan: Plan) -> AsyncIterator[str]:
            _annotate(plan)
            t0 = time.perf_counter()
            for offset, i in _schedule(plan):
                if plan.error and (plan.error == ERROR_RATE_LIMIT or i == plan.error_at_token):
                    await _sleep_until(t0, _error_offset(plan))
                    raise _failure(plan)
                await _sleep_until(t0, offset)
                yield _token(plan, i)

        def complete_sync(plan: Plan) -> dict[str, Any]:
            _annotate(plan)
            t0 = time.perf_counter()
            if plan.error:
                _block_until(t0, _error_offset(plan))
                raise _failure(plan)
            _block_until(t0, plan.ttft_s + plan.output_tokens / plan.tokens_per_s)
            return _response(plan)

        def stream_sync(plan: Plan) -> Iterator[str]:
            _annotate(plan)
            t0 = time.perf_counter()
            for offset, i in _schedule(plan):
                if plan.error and (plan.error == ERROR_RATE_LIMIT or i == plan.error_at_token):
                    _block_until(t0, _error_offset(plan))
                    raise _failure(plan)
                _block_until(t0, offset)
                yield _token(plan, i)

        return {
            "async": observe(complete),
            "async_stream": observe(stream),
            "sync": observe(complete_sync),
            "sync_stream": observe(stream_sync),
        }

    async def run(self, plan: Plan) -> Outcome:
        """Make the call ``plan`` describes; returns what the demo measured (never raises ``Exception``)."""
        calls = self._calls[plan.model.name]
        if plan.style in ("sync", "sync_stream"):
            return await asyncio.to_thread(self._run_sync, calls[plan.style], plan)
        t0 = time.perf_counter()
        first: float | None = None
        tokens = 0
        try:
            if plan.style == "async":
                await calls["async"](plan)
                tokens = plan.output_tokens
            elif plan.style == "async_stream":
                async for _token_text in calls["async_stream"](plan):
                    first = first or time.perf_counter()
                    tokens += 1
            else:
                first, tokens = await self._run_context_manager(plan, t0)
        except Exception as exc:
            return Outcome(plan.model.name, plan.style, type(exc).__name__, time.perf_counter() - t0, None, tokens)
        ttft = None if first is None else first - t0
        return Outcome(plan.model.name, plan.style, None, time.perf_counter() - t0, ttft, tokens)

    @staticmethod
    def _run_sync(call: Callable[..., Any], plan: Plan) -> Outcome:
        t0 = time.perf_counter()
        first: float | None = None
        tokens = 0
        try:
            if plan.style == "sync":
                call(plan)
                tokens = plan.output_tokens
            else:
                for _token_text in call(plan):
                    first = first or time.perf_counter()
                    tokens += 1
        except Exception as exc:
            return Outcome(plan.model.name, plan.style, type(exc).__name__, time.perf_counter() - t0, None, tokens)
        ttft = None if first is None else first - t0
        return Outcome(plan.model.name, plan.style, None, time.perf_counter() - t0, ttft, tokens)

    @staticmethod
    async def _run_context_manager(plan: Plan, t0: float) -> tuple[float | None, int]:
        model = plan.model
        first: float | None = None
        tokens = 0
        async with infertel.inference(
            model=model.name, operation=semconv.GEN_AI_OPERATION_CHAT, provider=model.provider, kind=model.kind,
            server_address=model.server_address, server_port=model.server_port,
            request={"temperature": 0.7, "max_tokens": 512},
        ) as inv:  # fmt: skip
            inv.set_attribute(semconv.INFERTEL_DEMO_CALL_STYLE, plan.style)
            inv.set_input_tokens(plan.input_tokens)
            for offset, i in _schedule(plan):
                if plan.error and (plan.error == ERROR_RATE_LIMIT or i == plan.error_at_token):
                    await _sleep_until(t0, _error_offset(plan))
                    raise _failure(plan)
                await _sleep_until(t0, offset)
                inv.record_chunk(_token(plan, i))
                first = first or time.perf_counter()
                tokens += 1
            inv.set_output_tokens(tokens)
            inv.set_response_model(model.name)
            inv.set_finish_reasons(["stop"])
        return first, tokens
