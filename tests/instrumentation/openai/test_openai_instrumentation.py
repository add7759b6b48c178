"""OpenAIInstrumentor against the real openai client and a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")

import wrapt  # noqa: E402
from log_helpers import assert_exception_event, memory_logs, records  # noqa: E402
from openai_peer import CACHED_MODEL, REPLY_WORDS, RESPONSE_MODEL_SUFFIX, FakeOpenAIServer  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402
from span_helpers import TIMING_KEYS, metric_points, only_span, split_timings  # noqa: E402

from infertel import semconv  # noqa: E402
from infertel._internal.instrument import reaper  # noqa: E402
from infertel_instrumentation.openai import OpenAIInstrumentor  # noqa: E402

PROXY_TYPES = (wrapt.ObjectProxy, getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy), wrapt.FunctionWrapper)
MODEL = "gpt-test"
MESSAGES = [
    {"role": "system", "content": "You are terse"},
    {"role": "user", "content": "Say hello to the tests"},
]
PROMPT_TOKENS = 8  # words in MESSAGES, as the test server counts them


@pytest.fixture
def logs() -> tuple[Any, Any]:
    """An in-memory LoggerProvider and its exporter (the GenAI exception events)."""
    return memory_logs()


@pytest.fixture
def instrumented(tracer_provider: TracerProvider, meter_provider: MeterProvider, logs: Any) -> Iterator[None]:
    logger_provider = logs[0]
    OpenAIInstrumentor().instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, logger_provider=logger_provider
    )
    try:
        yield
    finally:
        OpenAIInstrumentor().uninstrument()


@pytest.fixture
def client(openai_server: FakeOpenAIServer, instrumented: None) -> Iterator[Any]:
    with openai.OpenAI(base_url=openai_server.base_url, api_key="sk-test", max_retries=0) as c:
        yield c


@pytest.fixture
def async_client(openai_server: FakeOpenAIServer, instrumented: None) -> Any:
    return openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="sk-test", max_retries=0)


def base_attributes(server: FakeOpenAIServer, operation: str = "chat", model: str = MODEL) -> dict[str, Any]:
    return {
        semconv.GEN_AI_OPERATION_NAME: operation,
        semconv.GEN_AI_REQUEST_MODEL: model,
        semconv.GEN_AI_PROVIDER_NAME: "openai",
        semconv.SERVER_ADDRESS: server.host,
        semconv.SERVER_PORT: server.port,
    }


def metric_attributes(server: FakeOpenAIServer, operation: str = "chat", model: str = MODEL) -> dict[str, Any]:
    return {**base_attributes(server, operation, model), semconv.GEN_AI_RESPONSE_MODEL: model + RESPONSE_MODEL_SUFFIX}


def test_chat_completion_span_and_metrics(
    client: Any, openai_server: FakeOpenAIServer, span_exporter: InMemorySpanExporter, metric_reader: Any
) -> None:
    response = client.chat.completions.create(
        model=MODEL, messages=MESSAGES, temperature=0.5, top_p=0.9, max_tokens=32, seed=7, stop="END"
    )

    assert response.choices[0].message.content == "".join(REPLY_WORDS)
    span = only_span(span_exporter)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attributes, timings = split_timings(span)
    assert attributes == {
        **base_attributes(openai_server),
        semconv.GEN_AI_REQUEST_TEMPERATURE: 0.5,
        semconv.GEN_AI_REQUEST_TOP_P: 0.9,
        semconv.GEN_AI_REQUEST_MAX_TOKENS: 32,
        semconv.GEN_AI_REQUEST_SEED: 7,
        semconv.GEN_AI_REQUEST_STOP_SEQUENCES: ("END",),
        semconv.GEN_AI_RESPONSE_MODEL: MODEL + RESPONSE_MODEL_SUFFIX,
        semconv.GEN_AI_RESPONSE_ID: "chatcmpl-test",
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        semconv.GEN_AI_USAGE_INPUT_TOKENS: PROMPT_TOKENS,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: len(REPLY_WORDS),
    }
    assert set(timings) == {semconv.INFERTEL_OUTPUT_TOKENS_PER_SECOND}

    points = metric_points(metric_reader)
    assert set(points) == {semconv.GEN_AI_CLIENT_OPERATION_DURATION, semconv.GEN_AI_CLIENT_TOKEN_USAGE}
    unit, durations = points[semconv.GEN_AI_CLIENT_OPERATION_DURATION]
    assert unit == "s"
    assert [(dict(p.attributes), p.count) for p in durations] == [(metric_attributes(openai_server), 1)]
    assert list(durations[0].explicit_bounds) == list(semconv.DURATION_BUCKETS)
    duration_s = (span.end_time - span.start_time) / 1e9
    assert 0 < durations[0].sum <= duration_s + 1e-3
    unit, usage = points[semconv.GEN_AI_CLIENT_TOKEN_USAGE]
    assert unit == "{token}"
    by_type = {p.attributes[semconv.GEN_AI_TOKEN_TYPE]: (p.count, p.sum, dict(p.attributes)) for p in usage}
    assert by_type == {
        "input": (1, PROMPT_TOKENS, {**metric_attributes(openai_server), semconv.GEN_AI_TOKEN_TYPE: "input"}),
        "output": (1, len(REPLY_WORDS), {**metric_attributes(openai_server), semconv.GEN_AI_TOKEN_TYPE: "output"}),
    }


def test_trace_context_is_sent_with_the_request(
    openai_server: FakeOpenAIServer, instrumented: None, span_exporter: InMemorySpanExporter
) -> None:
    seen: list[Any] = []
    with openai.OpenAI(base_url=openai_server.base_url, api_key="sk-test", max_retries=0) as c:
        raw = c.chat.completions.with_raw_response.create(
            model=MODEL, messages=MESSAGES, extra_headers={"x-user": "kept"}
        )
        seen.append(raw.http_response.request.headers)
        completion = raw.parse()
    assert completion.id == "chatcmpl-test"
    span = only_span(span_exporter)
    context = span.get_span_context()
    headers = seen[0]
    assert headers["traceparent"] == f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    assert headers["x-user"] == "kept"
    # The raw response was parsed for the span: same usage as a plain call.
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == len(REPLY_WORDS)


def test_streaming_response_wrapper_still_works(client: Any, span_exporter: InMemorySpanExporter) -> None:
    with client.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES) as response:
        completion = response.parse()
    assert completion.choices[0].message.content == "".join(REPLY_WORDS)
    span = only_span(span_exporter)  # the body is the user's to read: no response attributes, one span
    assert span.name == f"chat {MODEL}"
    assert span.status.status_code is StatusCode.UNSET


def test_choice_count_and_finish_reasons(
    client: Any, openai_server: FakeOpenAIServer, span_exporter: InMemorySpanExporter
) -> None:
    client.chat.completions.create(model=MODEL, messages=MESSAGES, n=2, max_completion_tokens=9)
    attributes = only_span(span_exporter).attributes
    assert attributes[semconv.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert attributes[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 9
    assert attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop", "length")
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2 * len(REPLY_WORDS)


def _consume(stream: Any) -> list[Any]:
    return [chunk for chunk in stream]


@pytest.mark.parametrize("include_usage", [True, False])
def test_chat_stream(
    include_usage: bool,
    client: Any,
    openai_server: FakeOpenAIServer,
    span_exporter: InMemorySpanExporter,
    metric_reader: Any,
) -> None:
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, **options)

    assert isinstance(stream, openai.Stream)
    assert stream.response.status_code == 200
    assert span_exporter.get_finished_spans() == ()
    chunks = _consume(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(REPLY_WORDS)

    span = only_span(span_exporter)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    attributes, timings = split_timings(span)
    expected = {
        **base_attributes(openai_server),
        semconv.GEN_AI_RESPONSE_MODEL: MODEL + RESPONSE_MODEL_SUFFIX,
        semconv.GEN_AI_RESPONSE_ID: "chatcmpl-stream",
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: len(REPLY_WORDS),
        semconv.GEN_AI_REQUEST_STREAM: True,
        semconv.INFERTEL_STREAM_CHUNKS: len(chunks),
        semconv.INFERTEL_STREAM_END_REASON: "exhausted",
    }
    if include_usage:
        # Input tokens only exist when the server sends usage; without it output tokens are counted per chunk.
        expected[semconv.GEN_AI_USAGE_INPUT_TOKENS] = PROMPT_TOKENS
    assert attributes == expected
    assert len(chunks) == (len(REPLY_WORDS) + 3 if include_usage else len(REPLY_WORDS) + 2)
    duration_s = (span.end_time - span.start_time) / 1e9
    assert 0 < timings[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] <= duration_s
    assert set(timings) == set(TIMING_KEYS)

    points = metric_points(metric_reader)
    assert set(points) == {
        semconv.GEN_AI_CLIENT_OPERATION_DURATION,
        semconv.GEN_AI_CLIENT_TOKEN_USAGE,
        semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK,
        semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK,
    }
    unit, first = points[semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK]
    assert unit == "s"
    assert [(dict(p.attributes), p.count) for p in first] == [(metric_attributes(openai_server), 1)]
    assert first[0].sum == pytest.approx(timings[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK])
    unit, per_chunk = points[semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK]
    assert unit == "s"
    assert [(dict(p.attributes), p.count) for p in per_chunk] == [(metric_attributes(openai_server), len(chunks) - 1)]
    _, usage = points[semconv.GEN_AI_CLIENT_TOKEN_USAGE]
    sums = {p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p.sum for p in usage}
    assert sums == ({"input": PROMPT_TOKENS, "output": len(REPLY_WORDS)} if include_usage else {"output": 5})


def test_stream_as_context_manager_closed_early_ends_span_once(
    client: Any, span_exporter: InMemorySpanExporter, metric_reader: Any
) -> None:
    with client.chat.completions.create(model="endless", messages=MESSAGES, stream=True) as stream:
        for index, _chunk in enumerate(stream):
            if index == 2:
                break
    stream.close()  # a second close must not end the span again

    span = only_span(span_exporter)
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == "closed"
    assert span.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 3
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2  # the role chunk carries no output
    # The choice's last chunk never came: "error", not an empty string (the semantic conventions' rule).
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    assert span.status.status_code is StatusCode.UNSET
    _, durations = metric_points(metric_reader)[semconv.GEN_AI_CLIENT_OPERATION_DURATION]
    assert [p.count for p in durations] == [1]


def test_abandoned_stream_ends_span(client: Any, span_exporter: InMemorySpanExporter) -> None:
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    next(stream)
    stream.response.close()
    del stream
    gc.collect()
    assert reaper.wait_reaped(time.monotonic() + 10.0)  # ended on infertel's reaper thread, not in the finalizer
    span = only_span(span_exporter)
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == "abandoned"
    assert span.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 1


def test_stream_consumed_in_another_thread(client: Any, span_exporter: InMemorySpanExporter, caplog: Any) -> None:
    import threading

    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    chunks: list[Any] = []
    worker = threading.Thread(target=lambda: chunks.extend(stream))
    worker.start()
    worker.join(timeout=30)
    assert len(chunks) == len(REPLY_WORDS) + 2
    assert only_span(span_exporter).attributes[semconv.INFERTEL_STREAM_END_REASON] == "exhausted"
    assert "Failed to detach context" not in caplog.text


def test_text_completion_and_embeddings(
    client: Any, openai_server: FakeOpenAIServer, span_exporter: InMemorySpanExporter, metric_reader: Any
) -> None:
    client.completions.create(model="instruct", prompt="one two three", max_tokens=5)
    client.embeddings.create(model="embedder", input=["a b", "c d e"], encoding_format="float", dimensions=4)

    completion, embeddings = span_exporter.get_finished_spans()
    assert completion.name == "text_completion instruct"
    assert completion.kind is SpanKind.CLIENT
    attributes, _ = split_timings(completion)
    assert attributes == {
        **base_attributes(openai_server, "text_completion", "instruct"),
        semconv.GEN_AI_REQUEST_MAX_TOKENS: 5,
        semconv.GEN_AI_RESPONSE_MODEL: "instruct" + RESPONSE_MODEL_SUFFIX,
        semconv.GEN_AI_RESPONSE_ID: "cmpl-test",
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("length",),
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 3,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: len(REPLY_WORDS),
    }
    assert embeddings.name == "embeddings embedder"
    assert embeddings.kind is SpanKind.CLIENT
    assert dict(embeddings.attributes) == {
        **base_attributes(openai_server, "embeddings", "embedder"),
        semconv.GEN_AI_REQUEST_ENCODING_FORMATS: ("float",),
        semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: 4,
        semconv.GEN_AI_RESPONSE_MODEL: "embedder" + RESPONSE_MODEL_SUFFIX,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 5,
    }
    _, usage = metric_points(metric_reader)[semconv.GEN_AI_CLIENT_TOKEN_USAGE]
    embedding_points = [p for p in usage if p.attributes[semconv.GEN_AI_OPERATION_NAME] == "embeddings"]
    assert [(p.attributes[semconv.GEN_AI_TOKEN_TYPE], p.sum) for p in embedding_points] == [("input", 5)]


def test_text_completion_stream_counts_chunks(client: Any, span_exporter: InMemorySpanExporter) -> None:
    chunks = list(client.completions.create(model="instruct", prompt="one two", stream=True))
    assert "".join(c.choices[0].text for c in chunks) == "".join(REPLY_WORDS)
    span = only_span(span_exporter)
    assert span.name == "text_completion instruct"
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == len(REPLY_WORDS)
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("length",)
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


@pytest.mark.parametrize(
    ("model", "error", "status"),
    [("rate-limited", "RateLimitError", 429), ("broken", "InternalServerError", 500)],
)
def test_api_error_recorded_and_reraised(
    model: str,
    error: str,
    status: int,
    client: Any,
    openai_server: FakeOpenAIServer,
    span_exporter: InMemorySpanExporter,
    metric_reader: Any,
    logs: Any,
) -> None:
    with pytest.raises(getattr(openai, error)) as caught:
        client.chat.completions.create(model=model, messages=MESSAGES)

    exc = caught.value
    assert type(exc) is getattr(openai, error)
    assert exc.status_code == status
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == str(exc)  # the exception's message only
    error_type = f"openai.{error}"
    assert dict(span.attributes) == {**base_attributes(openai_server, model=model), semconv.ERROR_TYPE: error_type}
    assert span.events == ()  # no span event: a gen_ai.client.operation.exception event record
    (record,) = records(logs[1])
    assert_exception_event(record, span, exc, error_type)
    _, durations = metric_points(metric_reader)[semconv.GEN_AI_CLIENT_OPERATION_DURATION]
    assert [(dict(p.attributes), p.count) for p in durations] == [
        ({**base_attributes(openai_server, model=model), semconv.ERROR_TYPE: error_type}, 1)
    ]


def test_async_chat_and_stream(
    async_client: Any, openai_server: FakeOpenAIServer, span_exporter: InMemorySpanExporter
) -> None:
    async def run() -> tuple[Any, list[Any]]:
        async with async_client:
            response = await async_client.chat.completions.create(model=MODEL, messages=MESSAGES)
            stream = await async_client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
            assert isinstance(stream, openai.AsyncStream)
            async with stream:
                chunks = [chunk async for chunk in stream]
            embedding = await async_client.embeddings.create(model="embedder", input="x y")
            assert embedding.data[0].embedding == [0.1, 0.2, 0.3, 0.0]
            return response, chunks

    response, chunks = asyncio.run(run())
    assert response.usage.completion_tokens == len(REPLY_WORDS)
    plain, streamed, embedding = span_exporter.get_finished_spans()
    assert (plain.name, plain.kind) == (f"chat {MODEL}", SpanKind.CLIENT)
    assert plain.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == PROMPT_TOKENS
    assert plain.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == len(REPLY_WORDS)
    assert streamed.attributes[semconv.INFERTEL_STREAM_CHUNKS] == len(chunks)
    assert streamed.attributes[semconv.INFERTEL_STREAM_END_REASON] == "exhausted"
    assert streamed.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == PROMPT_TOKENS
    assert streamed.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == len(REPLY_WORDS)
    assert 0 < streamed.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert embedding.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 2


def test_async_stream_closed_early_and_error(async_client: Any, span_exporter: InMemorySpanExporter) -> None:
    async def run() -> None:
        async with async_client:
            stream = await async_client.chat.completions.create(model="endless", messages=MESSAGES, stream=True)
            async for chunk in stream:
                assert chunk.choices
                break
            await stream.close()
            await stream.aclose()
            with pytest.raises(openai.RateLimitError):
                await async_client.chat.completions.create(model="rate-limited", messages=MESSAGES, stream=True)

    asyncio.run(run())
    closed, failed = span_exporter.get_finished_spans()
    assert closed.attributes[semconv.INFERTEL_STREAM_END_REASON] == "closed"
    assert closed.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 1
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes[semconv.ERROR_TYPE] == "openai.RateLimitError"


def test_content_captured_only_when_opted_in(
    client: Any, span_exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    for span in span_exporter.get_finished_spans():
        assert semconv.GEN_AI_INPUT_MESSAGES not in span.attributes
        assert semconv.GEN_AI_OUTPUT_MESSAGES not in span.attributes
    span_exporter.clear()

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    expected_input = [
        {"role": "system", "parts": [{"type": "text", "content": "You are terse"}]},
        {"role": "user", "parts": [{"type": "text", "content": "Say hello to the tests"}]},
    ]
    expected_output = [
        {"role": "assistant", "parts": [{"type": "text", "content": "".join(REPLY_WORDS)}], "finish_reason": "stop"}
    ]
    for span in span_exporter.get_finished_spans():
        assert json.loads(span.attributes[semconv.GEN_AI_INPUT_MESSAGES]) == expected_input
        assert json.loads(span.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]) == expected_output


def test_uninstrument_restores_originals(
    tracer_provider: TracerProvider,
    meter_provider: MeterProvider,
    openai_server: FakeOpenAIServer,
    span_exporter: InMemorySpanExporter,
) -> None:
    from openai.resources import completions, embeddings
    from openai.resources.chat import completions as chat

    classes = (
        chat.Completions,
        chat.AsyncCompletions,
        completions.Completions,
        completions.AsyncCompletions,
        embeddings.Embeddings,
        embeddings.AsyncEmbeddings,
    )
    originals = {cls: cls.__dict__["create"] for cls in classes}
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        for cls in classes:
            assert isinstance(cls.__dict__["create"], wrapt.FunctionWrapper)
    finally:
        OpenAIInstrumentor().uninstrument()
    for cls in classes:
        assert cls.__dict__["create"] is originals[cls]
        assert not isinstance(cls.__dict__["create"], PROXY_TYPES)
    with openai.OpenAI(base_url=openai_server.base_url, api_key="sk-test", max_retries=0) as c:
        stream = c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        assert type(stream) is openai.Stream
        list(stream)
    assert span_exporter.get_finished_spans() == ()


def test_internal_failure_never_breaks_the_call(
    client: Any, span_exporter: InMemorySpanExporter, production_errors: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infertel_instrumentation.openai import _call

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug in infertel")

    monkeypatch.setattr(_call._Call, "record_response", broken)
    monkeypatch.setattr(_call._Call, "record_chunk", broken)
    response = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert response.choices[0].message.content == "".join(REPLY_WORDS)
    chunks = list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert len(chunks) == len(REPLY_WORDS) + 2
    assert json.dumps([c.model_dump() for c in chunks])
    # The spans still end (with what could be recorded) and nothing leaks into the caller's context.
    assert [s.name for s in span_exporter.get_finished_spans()] == [f"chat {MODEL}", f"chat {MODEL}"]
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_explicit_instrument_without_openai_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # what `import openai` sees when it is not installed
    with pytest.raises(ImportError, match=r"pip install 'infertel-instrumentation-openai\[instruments\]'"):
        OpenAIInstrumentor().instrument()
    assert not OpenAIInstrumentor().is_instrumented_by_opentelemetry


def test_disabled_sdk_calls_straight_through(
    client: Any, span_exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    assert "traceparent" not in raw.http_response.request.headers
    assert raw.parse().usage.completion_tokens == len(REPLY_WORDS)
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert len(list(stream)) == len(REPLY_WORDS) + 2
    assert span_exporter.get_finished_spans() == ()
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_async_stream_cancelled_mid_way(async_client: Any, span_exporter: InMemorySpanExporter) -> None:
    async def run() -> None:
        async with async_client:
            stream = await async_client.chat.completions.create(model="endless", messages=MESSAGES, stream=True)
            started = asyncio.Event()

            async def consume() -> None:
                async for _chunk in stream:
                    started.set()

            task = asyncio.create_task(consume())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await stream.close()

    asyncio.run(run())
    span = only_span(span_exporter)
    assert span.attributes[semconv.INFERTEL_STREAM_END_REASON] == "cancelled"
    assert span.attributes[semconv.ERROR_TYPE] == "asyncio.exceptions.CancelledError"
    assert span.attributes[semconv.INFERTEL_STREAM_CHUNKS] >= 1


def test_captured_history_is_bounded_as_a_whole(
    client: Any, span_exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long conversation (about 1 MB of JSON) and content-part lists: the attribute stays within
    # content_max_length (4,096 by default), as valid JSON that starts with the first messages.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    history = [
        {"role": "user" if i % 2 else "assistant", "content": [{"type": "text", "text": f"turn {i} " + "w " * 250}]}
        for i in range(2000)
    ]
    client.chat.completions.create(model=MODEL, messages=history)
    span = only_span(span_exporter)
    value = span.attributes[semconv.GEN_AI_INPUT_MESSAGES]
    assert len(value) <= 4096
    messages = json.loads(value)
    assert messages[0] == {"role": "assistant", "parts": [{"type": "text", "content": "turn 0 " + "w " * 250}]}
    assert 1 < len(messages) < 2000


def test_usage_details_cached_and_reasoning_tokens(client: Any, span_exporter: InMemorySpanExporter) -> None:
    client.chat.completions.create(model=CACHED_MODEL, messages=MESSAGES)
    stream = client.chat.completions.create(
        model=CACHED_MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert len(list(stream)) == len(REPLY_WORDS) + 3  # role chunk, words, finish chunk, usage chunk
    plain, streamed = span_exporter.get_finished_spans()
    for span in (plain, streamed):
        # Subsets of gen_ai.usage.input_tokens / output_tokens, as the provider reported them.
        assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == PROMPT_TOKENS
        assert span.attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == PROMPT_TOKENS // 2
        assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == len(REPLY_WORDS)
        assert span.attributes[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 2
