"""Prompt/completion content: off by default, opt-in, truncated, semantic-convention JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import infertel
from infertel import semconv


def _messages(span: Any, attribute: str) -> Any:
    return json.loads(span.attributes[attribute])


def test_content_not_recorded_by_default(monkeypatch, tracer_provider, span_exporter) -> None:
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)

    @infertel.observe(model="m", tracer_provider=tracer_provider)
    def generate(prompt: str) -> str:
        inv = infertel.current_inference()
        assert inv is not None
        inv.set_input_messages([{"role": "user", "content": "secret"}])
        return "secret answer"

    generate("my secret prompt")
    (span,) = span_exporter.get_finished_spans()
    assert semconv.GEN_AI_INPUT_MESSAGES not in span.attributes
    assert semconv.GEN_AI_OUTPUT_MESSAGES not in span.attributes
    assert "secret" not in repr(dict(span.attributes))


def test_content_captured_when_env_asks(monkeypatch, tracer_provider, span_exporter) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")

    @infertel.observe(model="m", tracer_provider=tracer_provider)
    def generate(prompt: str, temperature: float = 0.1) -> dict[str, Any]:
        return {"choices": [{"finish_reason": "length", "message": {"role": "assistant", "content": "Paris"}}]}

    generate("Capital of France?")
    (span,) = span_exporter.get_finished_spans()
    assert _messages(span, semconv.GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "Capital of France?"}]}
    ]
    # The output message carries the finish reason of its choice.
    assert _messages(span, semconv.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Paris"}], "finish_reason": "length"}
    ]
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("length",)


def test_content_captured_by_runtime_and_truncated(install_runtime, tracer_provider, span_exporter) -> None:
    install_runtime(tracer_provider=tracer_provider, capture_content=True, content_max_length=100)

    @infertel.observe(model="m")
    def chat(messages: list[dict[str, str]]) -> Iterator[str]:
        yield from ["abcdef", "ghijkl", "mnop"]

    out = list(chat([{"role": "system", "content": "be brief"}, {"role": "user", "content": "0123456789XYZ"}]))
    assert out == ["abcdef", "ghijkl", "mnop"]
    (span,) = span_exporter.get_finished_spans()
    assert _messages(span, semconv.GEN_AI_INPUT_MESSAGES) == [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
    ]  # 100 characters in all, the whole JSON: not even an empty second message fits
    assert len(span.attributes[semconv.GEN_AI_INPUT_MESSAGES]) <= 100
    assert len(span.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]) == 100
    # A model that reports no finish reason and ended normally: "stop" (the schema requires one).
    assert _messages(span, semconv.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "abcdefgh"}], "finish_reason": "stop"}
    ]


def test_finish_reasons_never_empty_and_every_output_message_has_one(install_runtime, tracer_provider, span_exporter):
    install_runtime(tracer_provider=tracer_provider, capture_content=True)
    with infertel.inference(model="m") as inv:
        # The second choice was cut off before its last chunk: no reason, reported as "error".
        inv.set_finish_reasons(["length", None, ""])
        inv.set_output_messages(["one", {"role": "assistant", "content": "two"}, "three"])
    with pytest.raises(TimeoutError), infertel.inference(model="m") as inv:
        inv.set_output_messages("partial")
        raise TimeoutError("engine timed out")
    first, failed = span_exporter.get_finished_spans()
    assert first.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("length", "error", "error")
    assert _messages(first, semconv.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "one"}], "finish_reason": "length"},
        {"role": "assistant", "parts": [{"type": "text", "content": "two"}], "finish_reason": "error"},
        {"role": "assistant", "parts": [{"type": "text", "content": "three"}], "finish_reason": "error"},
    ]
    assert semconv.GEN_AI_RESPONSE_FINISH_REASONS not in failed.attributes
    assert _messages(failed, semconv.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "partial"}], "finish_reason": "error"}
    ]


def test_extracted_finish_reasons_stay_aligned_with_the_choices(tracer_provider, span_exporter) -> None:
    @infertel.observe(model="m", tracer_provider=tracer_provider)
    def generate() -> dict[str, Any]:
        return {"choices": [{"finish_reason": "stop", "text": "a"}, {"finish_reason": None, "text": "b"}]}

    generate()
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop", "error")


def test_explicit_messages_and_runtime_off_overrides_env(monkeypatch, install_runtime, tracer_provider, span_exporter):
    install_runtime(tracer_provider=tracer_provider, capture_content=True)
    with infertel.inference(model="m") as inv:
        inv.set_input_messages("hi")
        inv.set_output_messages([{"role": "assistant", "content": "hello", "finish_reason": "stop"}])
    (span,) = span_exporter.get_finished_spans()
    assert _messages(span, semconv.GEN_AI_OUTPUT_MESSAGES) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hello"}], "finish_reason": "stop"}
    ]
    assert _messages(span, semconv.GEN_AI_INPUT_MESSAGES) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
    ]
    # configure() decided "off": the environment variable no longer counts.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    install_runtime(tracer_provider=tracer_provider, capture_content=False)
    with infertel.inference(model="m") as inv:
        inv.set_input_messages("private")
    assert semconv.GEN_AI_INPUT_MESSAGES not in span_exporter.get_finished_spans()[-1].attributes


def test_unknown_env_value_keeps_capture_off(monkeypatch, tracer_provider, span_exporter, caplog) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "everything")

    @infertel.observe(model="m", tracer_provider=tracer_provider)
    def generate(prompt: str) -> str:
        return "x"

    generate("private")
    assert semconv.GEN_AI_INPUT_MESSAGES not in span_exporter.get_finished_spans()[0].attributes
    assert any("content capture stays off" in r.getMessage() for r in caplog.records)
