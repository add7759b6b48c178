"""End to end: configure() -> @infertel.observe -> upstream OTLP exporter -> Arize Phoenix -> its REST API.

Phoenix stores spans with their attributes and parent links; it drops resource attributes and
span kind, so those are asserted by the unit tests instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry import trace
from peers.phoenix import PhoenixServer

import infertel
from infertel import semconv
from infertel._internal import state

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fresh_otel")]

MODEL = "llama-3-8b"
TOKENS = ["Hello", ",", " world", "!"]


@infertel.observe(model=MODEL, operation="chat", provider="vllm", request={"temperature": 0.2, "max_tokens": 64})
def generate(prompt: str) -> dict[str, Any]:
    return {"model": MODEL, "choices": [{"text": "Hi!"}], "usage": {"prompt_tokens": 12, "completion_tokens": 5}}


@infertel.observe(model=MODEL, operation="chat", provider="vllm")
async def stream(prompt: str) -> AsyncIterator[str]:
    for token in TOKENS:
        await asyncio.sleep(0.005)
        yield token


async def consume(prompt: str) -> list[str]:
    return [token async for token in stream(prompt)]


@pytest.mark.parametrize(
    "protocol",
    ["grpc", "http/protobuf"],
)
def test_streamed_and_non_streamed_calls_arrive_in_phoenix(phoenix: PhoenixServer, protocol: str) -> None:
    endpoint = phoenix.otlp_grpc_endpoint if protocol == "grpc" else phoenix.otlp_http_traces_endpoint
    # Phoenix receives traces only: metrics and logs go to the embedded store (in tmp, see fresh_otel).
    infertel.configure(service_name=f"phoenix-e2e-{protocol}", traces_endpoint=endpoint, protocol=protocol)
    exporter = state.current().extras["exporters"]["traces"]
    assert type(exporter).__module__.startswith(
        "opentelemetry.exporter.otlp.proto.grpc" if protocol == "grpc" else "opentelemetry.exporter.otlp.proto.http"
    )

    tracer = trace.get_tracer("phoenix-e2e")
    with tracer.start_as_current_span("handle-request") as parent:
        result = generate("Say hi")
        streamed = asyncio.run(consume("Say hello"))
    assert result["usage"]["completion_tokens"] == 5
    assert streamed == TOKENS
    assert infertel.shutdown(timeout_millis=15_000) is True

    trace_id = format(parent.get_span_context().trace_id, "032x")
    parent_id = format(parent.get_span_context().span_id, "016x")
    spans = phoenix.wait_for_spans(3, trace_id=trace_id)
    assert sorted(s["name"] for s in spans) == [f"chat {MODEL}", f"chat {MODEL}", "handle-request"]
    by_role: dict[str, dict[str, Any]] = {}
    for span in spans:
        attributes = span["attributes"]
        if span["name"] == "handle-request":
            by_role["parent"] = span
        elif attributes.get(semconv.GEN_AI_REQUEST_STREAM):
            by_role["stream"] = span
        else:
            by_role["call"] = span
    assert set(by_role) == {"parent", "stream", "call"}
    assert by_role["parent"]["context"]["span_id"] == parent_id
    assert not by_role["parent"].get("parent_id")
    for child in ("call", "stream"):
        assert by_role[child]["context"]["trace_id"] == trace_id
        assert by_role[child]["parent_id"] == parent_id
        assert by_role[child]["status_code"] in ("OK", "UNSET")

    call = by_role["call"]["attributes"]
    assert {k: call.get(k) for k in (
        semconv.GEN_AI_OPERATION_NAME, semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_PROVIDER_NAME,
        semconv.GEN_AI_REQUEST_TEMPERATURE, semconv.GEN_AI_REQUEST_MAX_TOKENS,
        semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    )} == {
        semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: MODEL,
        semconv.GEN_AI_PROVIDER_NAME: "vllm", semconv.GEN_AI_REQUEST_TEMPERATURE: 0.2,
        semconv.GEN_AI_REQUEST_MAX_TOKENS: 64, semconv.GEN_AI_USAGE_INPUT_TOKENS: 12,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
    }  # fmt: skip
    assert semconv.GEN_AI_REQUEST_STREAM not in call

    streamed_span = by_role["stream"]["attributes"]
    assert streamed_span[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert streamed_span[semconv.GEN_AI_REQUEST_MODEL] == MODEL
    assert streamed_span[semconv.GEN_AI_PROVIDER_NAME] == "vllm"
    assert streamed_span[semconv.GEN_AI_REQUEST_STREAM] is True
    assert streamed_span[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_EXHAUSTED
    assert streamed_span[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == len(TOKENS)
    assert 0 < streamed_span[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < 5
    assert streamed_span[semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN] > 0
