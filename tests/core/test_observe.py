"""@infertel.observe on functions, coroutines, methods: span structure, tokens, errors, signature."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

import pytest
from log_helpers import assert_exception_event, memory_logs, records
from openai.types.chat import ChatCompletion
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import infertel
from infertel import semconv


def _only_span(span_exporter: Any) -> ReadableSpan:
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 1, spans
    return spans[0]


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    attributes = dict(span.attributes or {})
    tps = attributes.pop(semconv.INFERTEL_OUTPUT_TOKENS_PER_SECOND, None)
    if semconv.GEN_AI_USAGE_OUTPUT_TOKENS in attributes:
        assert isinstance(tps, float) and tps > 0
    else:
        assert tps is None
    return attributes


def test_sync_function_span_structure(tracer_provider, span_exporter, meter_provider) -> None:
    @infertel.observe(
        model="llama-3-8b",
        operation="chat",
        provider="vllm",
        request={"temperature": 0.2, "max_tokens": 64, "stop_sequences": ("\n",)},
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    def generate(prompt: str) -> dict[str, Any]:
        return {
            "id": "resp-1",
            "model": "llama-3-8b-instruct",
            "choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7},
        }

    result = generate("hello")
    assert result["usage"]["completion_tokens"] == 7

    span = _only_span(span_exporter)
    assert span.name == "chat llama-3-8b"
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET
    assert _attributes(span) == {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: "llama-3-8b",
        semconv.GEN_AI_PROVIDER_NAME: "vllm",
        semconv.GEN_AI_REQUEST_TEMPERATURE: 0.2,
        semconv.GEN_AI_REQUEST_MAX_TOKENS: 64,
        semconv.GEN_AI_REQUEST_STOP_SEQUENCES: ("\n",),
        semconv.GEN_AI_RESPONSE_MODEL: "llama-3-8b-instruct",
        semconv.GEN_AI_RESPONSE_ID: "resp-1",
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 12,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 7,
    }
    assert span.events == ()


def test_client_kind_and_server_attributes(tracer_provider, span_exporter, meter_provider) -> None:
    @infertel.observe(
        model="gpt-4o",
        provider="openai",
        kind="client",
        server_address="api.example.com",
        server_port=443,
        name="my call",
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    def call() -> str:
        return "text"

    assert call() == "text"
    span = _only_span(span_exporter)
    assert span.name == "my call"
    assert span.kind is SpanKind.CLIENT
    assert _attributes(span) == {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: "gpt-4o",
        semconv.GEN_AI_PROVIDER_NAME: "openai",
        semconv.SERVER_ADDRESS: "api.example.com",
        semconv.SERVER_PORT: 443,
        semconv.GEN_AI_RESPONSE_MODEL: "gpt-4o",
    }


def test_async_function(tracer_provider, span_exporter, meter_provider) -> None:
    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider)
    async def agenerate(prompt: str, *, n: int = 1) -> list[int]:
        await asyncio.sleep(0)
        assert infertel.current_inference() is not None
        return [101, 102, 103]

    assert inspect.iscoroutinefunction(agenerate)
    assert asyncio.run(agenerate("x", n=2)) == [101, 102, 103]
    span = _only_span(span_exporter)
    assert _attributes(span) == {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: "m",
        semconv.GEN_AI_RESPONSE_MODEL: "m",
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 3,  # a sequence of token ids
    }


def test_openai_response_object(tracer_provider, span_exporter, meter_provider) -> None:
    completion = ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "hello"}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
        }
    )

    @infertel.observe(model="gpt-4o", kind="client", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def call() -> ChatCompletion:
        return completion

    assert call() is completion
    attributes = _attributes(_only_span(span_exporter))
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 5
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    assert attributes[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024-08-06"
    assert attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-1"
    assert attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("length",)


def test_token_priority_explicit_over_extractor_over_builtin(tracer_provider, span_exporter, meter_provider) -> None:
    response = {"usage": {"input_tokens": 1, "output_tokens": 2}}

    @infertel.observe(
        model="m",
        usage=lambda r: {"input_tokens": 10, "output_tokens": 20},
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    def extractor_wins() -> dict[str, Any]:
        return response

    @infertel.observe(
        model="m",
        usage=lambda r: {"input_tokens": 10, "output_tokens": 20},
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    def explicit_wins() -> dict[str, Any]:
        inv = infertel.current_inference()
        assert inv is not None
        inv.set_output_tokens(300)
        return response

    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def builtin() -> dict[str, Any]:
        return response

    extractor_wins()
    explicit_wins()
    builtin()
    got = [
        (s.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS], s.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS])
        for s in span_exporter.get_finished_spans()
    ]
    assert got == [(10, 20), (10, 300), (1, 2)]


def test_exception_propagates_same_object_and_is_recorded(tracer_provider, span_exporter, meter_provider) -> None:
    class ModelOverloaded(RuntimeError):
        pass

    error = ModelOverloaded("queue full")
    logger_provider, log_exporter = memory_logs()

    @infertel.observe(
        model="m", tracer_provider=tracer_provider, meter_provider=meter_provider, logger_provider=logger_provider
    )
    def fail() -> None:
        raise error

    with pytest.raises(ModelOverloaded) as caught:
        fail()
    assert caught.value is error
    # The traceback still points into the user's function.
    assert caught.traceback[-1].name == "fail"

    span = _only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "queue full"  # the exception's message only
    expected_type = f"{__name__}.test_exception_propagates_same_object_and_is_recorded.<locals>.ModelOverloaded"
    assert _attributes(span) == {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: "m",
        semconv.ERROR_TYPE: expected_type,
    }
    # No span event (no deprecated exception.escaped): the exception is a gen_ai.client.operation.exception event.
    assert span.events == ()
    (record,) = records(log_exporter)
    assert_exception_event(record, span, error, expected_type)


def test_builtin_exception_type_and_async_error(tracer_provider, span_exporter, meter_provider) -> None:
    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider)
    async def fail() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        asyncio.run(fail())
    assert _only_span(span_exporter).attributes[semconv.ERROR_TYPE] == "ValueError"


class Engine:
    def __init__(self) -> None:
        self.calls = 0

    @infertel.observe(model="method-model")
    def generate(self, prompt: str, temperature: float = 0.5) -> str:
        self.calls += 1
        return prompt.upper()

    @infertel.observe(model="static-model")
    @staticmethod
    def tokenize(text: str) -> list[int]:
        return [1, 2, 3, 4]

    @staticmethod
    @infertel.observe(model="static-model-2")
    def tokenize2(text: str) -> list[int]:
        return [5, 6]

    @infertel.observe(model="class-model")
    @classmethod
    def build(cls, name: str) -> str:
        return f"{cls.__name__}:{name}"


def test_methods_staticmethods_classmethods(tracer_provider, span_exporter, install_runtime) -> None:
    install_runtime(tracer_provider=tracer_provider)
    engine = Engine()
    assert engine.generate("hi") == "HI"
    assert engine.calls == 1
    assert Engine.tokenize("x") == [1, 2, 3, 4]
    assert engine.tokenize2("x") == [5, 6]
    assert Engine.build("n") == "Engine:n"
    spans = span_exporter.get_finished_spans()
    assert [(s.name, s.attributes.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)) for s in spans] == [
        ("chat method-model", None),
        ("chat static-model", 4),
        ("chat static-model-2", 2),
        ("chat class-model", None),
    ]


def test_signature_and_metadata_preserved() -> None:
    def generate(prompt: str, *, temperature: float = 0.2, **extra: Any) -> str:
        """Generate text."""
        return prompt

    decorated = infertel.observe(model="m")(generate)
    assert inspect.signature(decorated) == inspect.signature(generate)
    assert decorated.__name__ == "generate"
    assert decorated.__doc__ == "Generate text."
    assert decorated.__wrapped__ is generate  # type: ignore[attr-defined]
    assert inspect.signature(Engine.generate) == inspect.signature(Engine.generate.__wrapped__)  # type: ignore[attr-defined]


def test_bare_decorator_uses_function_name(tracer_provider, span_exporter, install_runtime) -> None:
    install_runtime(tracer_provider=tracer_provider)

    @infertel.observe
    def summarize(text: str) -> str:
        return text[:3]

    assert summarize("abcdef") == "abc"
    span = _only_span(span_exporter)
    assert span.name == "chat summarize"
    assert span.attributes[semconv.GEN_AI_REQUEST_MODEL] == "summarize"


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"kind": "server"}, "kind"),
        ({"kind": "CLIENT"}, "kind"),
        ({"request": {"temp": 1.0}}, "request"),
        ({"request": {"temperature": object()}}, "request"),
        ({"request": [("temperature", 1.0)]}, "request"),
        ({"server_port": "443"}, "server_port"),
        ({"operation": ""}, "operation"),
        ({"usage": "not callable"}, "usage"),
        ({"provider": 3}, "provider"),
    ],
)
def test_invalid_options_fail_at_decoration(options: dict[str, Any], setting: str) -> None:
    with pytest.raises(ValueError, match=f"^{setting}: ") as caught:
        infertel.observe(model="m", **options)
    if setting == "kind":
        assert "'internal', 'client'" in str(caught.value)
    if setting != "usage":  # inference() has no usage= extractor
        with pytest.raises(ValueError, match=f"^{setting}: "):
            infertel.inference(model="m", **options)


def test_failing_usage_extractor_never_reaches_caller(tracer_provider, span_exporter, meter_provider, caplog) -> None:
    def broken(result: Any) -> Any:
        raise KeyError("usage")

    @infertel.observe(model="m", usage=broken, tracer_provider=tracer_provider, meter_provider=meter_provider)
    def generate() -> dict[str, Any]:
        return {"usage": {"prompt_tokens": 4, "completion_tokens": 6}}

    with caplog.at_level(logging.WARNING, logger="infertel"):
        assert generate() == {"usage": {"prompt_tokens": 4, "completion_tokens": 6}}
        generate()
    warnings = [r for r in caplog.records if "usage= extractor raised" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 2
    # The built-in extraction still fills in what the extractor could not.
    assert spans[0].attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 4
    assert spans[0].status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("bad", [-1, float("nan"), "12", 1.5, True, None])
def test_invalid_token_counts_dropped_with_warning(tracer_provider, span_exporter, meter_provider, caplog, bad) -> None:
    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def generate() -> str:
        inv = infertel.current_inference()
        assert inv is not None
        inv.set_input_tokens(bad)
        inv.set_output_tokens(5)
        return "ok"

    with caplog.at_level(logging.WARNING, logger="infertel"):
        assert generate() == "ok"
    attributes = _only_span(span_exporter).attributes
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in attributes
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert any("invalid input token count" in r.getMessage() for r in caplog.records)


def test_current_inference_outside_is_none_and_nested_spans_parent(tracer_provider, span_exporter) -> None:
    assert infertel.current_inference() is None
    tracer = tracer_provider.get_tracer("test")

    @infertel.observe(model="m", tracer_provider=tracer_provider)
    def generate() -> str:
        with tracer.start_as_current_span("child"):
            inv = infertel.current_inference()
            assert inv is not None
            inv.set_attribute("custom", 1)
        return "ok"

    with tracer.start_as_current_span("parent"):
        generate()
    child, inference_span, parent = span_exporter.get_finished_spans()
    assert child.parent.span_id == inference_span.context.span_id
    assert inference_span.parent.span_id == parent.context.span_id
    assert inference_span.attributes["custom"] == 1
    assert infertel.current_inference() is None


def test_disabled_by_env_calls_straight_through(monkeypatch, tracer_provider, span_exporter, meter_provider) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")

    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def generate(x: int) -> int:
        assert infertel.current_inference() is None
        return x + 1

    @infertel.observe(model="m", tracer_provider=tracer_provider)
    def stream():
        yield 1

    assert generate(1) == 2
    assert inspect.isgenerator(stream())
    assert span_exporter.get_finished_spans() == ()


def test_disabled_by_runtime(install_runtime, tracer_provider, span_exporter) -> None:
    install_runtime(disabled=True, tracer_provider=tracer_provider)

    @infertel.observe(model="m")
    def generate() -> str:
        return "x"

    assert generate() == "x"
    with infertel.inference(model="m") as inv:
        inv.set_input_tokens(3)
        inv.record_chunk("a")
    assert span_exporter.get_finished_spans() == ()


def test_runtime_installed_after_decoration_is_used(install_runtime, tracer_provider, span_exporter) -> None:
    @infertel.observe(model="late")
    def generate() -> str:
        return "x"

    install_runtime(tracer_provider=tracer_provider)
    generate()
    assert _only_span(span_exporter).name == "chat late"


def test_metrics_of_many_calls_are_all_collected(tracer_provider, meter_provider, metric_reader) -> None:
    from core_helpers import collect

    from infertel._internal.metrics.aggregate import FOLD_AT

    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def generate(n: int) -> dict[str, Any]:
        return {"usage": {"prompt_tokens": n, "completion_tokens": 2 * n}}

    calls = 2 * FOLD_AT + 7  # aggregated twice on this thread, the rest when the reader collects
    for n in range(calls):
        generate(n)

    def by_token_type() -> dict[str, tuple[int, float]]:
        points = collect(metric_reader)[semconv.GEN_AI_CLIENT_TOKEN_USAGE].data.data_points
        return {p.attributes[semconv.GEN_AI_TOKEN_TYPE]: (p.count, p.sum) for p in points}

    total = sum(range(calls))
    assert by_token_type() == {"input": (calls, total), "output": (calls, 2 * total)}
    (duration,) = collect(metric_reader)[semconv.GEN_AI_SERVER_REQUEST_DURATION].data.data_points
    assert duration.count == calls
    generate(1)  # one more, below the threshold: it reaches the next collection
    assert by_token_type() == {"input": (calls + 1, total + 1), "output": (calls + 1, 2 * total + 2)}


def test_metrics_recorded_from_many_threads_are_all_collected(tracer_provider, meter_provider, metric_reader) -> None:
    import threading

    from core_helpers import collect

    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def generate() -> dict[str, Any]:
        return {"usage": {"prompt_tokens": 1, "completion_tokens": 3}}

    def work() -> None:
        for _ in range(500):
            generate()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(20):  # collections racing the recording threads
        collect(metric_reader)
    for thread in threads:
        thread.join()
    points = collect(metric_reader)[semconv.GEN_AI_CLIENT_TOKEN_USAGE].data.data_points
    assert {p.attributes[semconv.GEN_AI_TOKEN_TYPE]: (p.count, p.sum) for p in points} == {
        "input": (2000, 2000),
        "output": (2000, 6000),
    }
