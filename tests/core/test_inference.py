"""infertel.inference(...) context manager, current_inference, and failure isolation."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from core_helpers import collect
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import infertel
from infertel import semconv


def test_inference_block_with_chunks(tracer_provider, span_exporter, meter_provider, metric_reader) -> None:
    with infertel.inference(
        model="llama-3-8b",
        operation="chat",
        provider="vllm",
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    ) as inv:
        assert infertel.current_inference() is inv
        assert inv.span.is_recording()
        inv.set_input_tokens(12)
        for token in ["Hel", "lo", " wor", "ld"]:
            inv.record_chunk(token)
        inv.set_response_id("r-1")
        inv.set_finish_reasons(["stop"])
    assert infertel.current_inference() is None
    (span,) = span_exporter.get_finished_spans()
    assert span.name == "chat llama-3-8b"
    assert span.kind is SpanKind.INTERNAL
    attributes = dict(span.attributes)
    ttft = attributes.pop(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    tpot = attributes.pop(semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN)
    tps = attributes.pop(semconv.INFERTEL_OUTPUT_TOKENS_PER_SECOND)
    assert 0 <= ttft and 0 <= tpot and tps > 0
    assert attributes == {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: "llama-3-8b",
        semconv.GEN_AI_PROVIDER_NAME: "vllm",
        semconv.GEN_AI_RESPONSE_MODEL: "llama-3-8b",
        semconv.GEN_AI_RESPONSE_ID: "r-1",
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 12,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 4,
        semconv.GEN_AI_REQUEST_STREAM: True,
        semconv.INFERTEL_STREAM_CHUNKS: 4,
        semconv.INFERTEL_STREAM_END_REASON: semconv.STREAM_END_EXHAUSTED,
    }
    metrics = collect(metric_reader)
    (ttft_point,) = metrics[semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN].data.data_points
    assert ttft_point.sum == pytest.approx(ttft)
    (tpot_point,) = metrics[semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN].data.data_points
    assert tpot_point.sum == pytest.approx(tpot)


def test_record_chunk_with_explicit_tokens_and_add_output(tracer_provider, span_exporter) -> None:
    with infertel.inference(model="m", tracer_provider=tracer_provider) as inv:
        inv.record_chunk(tokens=5)
        inv.record_chunk("x", tokens=3)
    with infertel.inference(model="m", tracer_provider=tracer_provider) as inv:
        inv.add_output_tokens(2)
        inv.add_output_tokens(3)
        inv.set_response_model("m-2024")
    first, second = span_exporter.get_finished_spans()
    assert first.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    assert first.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 2
    assert second.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert second.attributes[semconv.GEN_AI_RESPONSE_MODEL] == "m-2024"
    assert semconv.GEN_AI_REQUEST_STREAM not in second.attributes


def test_async_with_and_error(tracer_provider, span_exporter) -> None:
    error = RuntimeError("oom")

    async def main() -> None:
        async with infertel.inference(model="m", kind="client", tracer_provider=tracer_provider) as inv:
            inv.record_chunk("a")
            raise error

    with pytest.raises(RuntimeError) as caught:
        asyncio.run(main())
    assert caught.value is error
    (span,) = span_exporter.get_finished_spans()
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "RuntimeError"
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_ERROR


class _BrokenExporter(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        raise ConnectionError("collector down")

    def shutdown(self) -> None:
        pass


class _FaultyProcessor(SpanProcessor):
    """A processor whose on_end raises: the SDK does not guard processors."""

    def on_end(self, span: ReadableSpan) -> None:
        raise ValueError("processor bug")


def test_broken_exporter_never_reaches_caller(production_errors, meter_provider) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_BrokenExporter()))

    @infertel.observe(model="m", tracer_provider=provider, meter_provider=meter_provider)
    def generate() -> str:
        return "ok"

    assert generate() == "ok"
    with infertel.inference(model="m", tracer_provider=provider) as inv:
        inv.record_chunk("a")
    provider.shutdown()


def test_faulty_processor_never_reaches_caller(production_errors, meter_provider, metric_reader, caplog) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(_FaultyProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    @infertel.observe(model="m", tracer_provider=provider, meter_provider=meter_provider)
    def generate() -> str:
        return "ok"

    @infertel.observe(model="m", tracer_provider=provider, meter_provider=meter_provider)
    def stream():
        yield "a"

    with caplog.at_level(logging.WARNING, logger="infertel"):
        assert generate() == "ok"
        assert list(stream()) == ["a"]
        with infertel.inference(model="m", tracer_provider=provider):
            pass
    # Raw OTel code would have seen the ValueError from span.end(); infertel's guard logged it once per site.
    assert any("infertel internal error" in r.getMessage() for r in caplog.records)
    provider.shutdown()


def test_faulty_processor_surfaces_in_tests_by_default(meter_provider) -> None:
    provider = TracerProvider()
    provider.add_span_processor(_FaultyProcessor())

    @infertel.observe(model="m", tracer_provider=provider, meter_provider=meter_provider)
    def generate() -> str:
        return "ok"

    # Under INFERTEL_RAISE_INTERNAL_ERRORS (set by the suite) internal failures re-raise.
    with pytest.raises(ValueError, match="processor bug"):
        generate()
    provider.shutdown()


def test_user_exception_wins_even_when_infertel_fails(production_errors, meter_provider) -> None:
    provider = TracerProvider()
    provider.add_span_processor(_FaultyProcessor())
    error = KeyError("user")

    @infertel.observe(model="m", tracer_provider=provider, meter_provider=meter_provider)
    def generate() -> str:
        raise error

    with pytest.raises(KeyError) as caught:
        generate()
    assert caught.value is error
    provider.shutdown()


def test_inference_block_validation() -> None:
    with pytest.raises(ValueError, match="^kind: 'remote' is not one of 'internal', 'client'$"):
        infertel.inference(model="m", kind="remote")
    with pytest.raises(ValueError, match="^model: "):
        infertel.inference(model="")
