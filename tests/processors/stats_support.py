"""Helpers for the statistics processor tests: an injectable clock and a GenAI span factory."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Tracer

from infertel import semconv


class FakeClock:
    """Monotonic seconds that only move when the test says so."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def end_genai_span(
    tracer: Tracer,
    *,
    model: str = "llama-3-8b",
    operation: str = "chat",
    latency_s: float = 1.0,
    ttft_s: float | None = None,
    tpot_s: float | None = None,
    input_tokens: Any = None,
    output_tokens: Any = None,
    error_type: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Create and end one GenAI span shaped like infertel's inference spans (explicit times)."""
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: operation,
        semconv.GEN_AI_REQUEST_MODEL: model,
    }
    if extra:
        attributes.update(extra)
    start = 1_000_000_000_000
    span = tracer.start_span(f"{operation} {model}", attributes=attributes, start_time=start)
    if input_tokens is not None:
        span.set_attribute(semconv.GEN_AI_USAGE_INPUT_TOKENS, input_tokens)
    if output_tokens is not None:
        span.set_attribute(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, output_tokens)
    if ttft_s is not None:
        span.set_attribute(semconv.GEN_AI_REQUEST_STREAM, True)
        span.set_attribute(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ttft_s)
    if tpot_s is not None:
        span.set_attribute(semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN, tpot_s)
    if error_type is not None:
        span.set_attribute(semconv.ERROR_TYPE, error_type)
    span.end(end_time=start + round(latency_s * 1e9))
