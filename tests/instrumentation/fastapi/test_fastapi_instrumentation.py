"""infertel-instrumentation-fastapi against a real uvicorn server, driven over HTTP with httpx."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")
pytest.importorskip("infertel_instrumentation.fastapi")

import httpx  # noqa: E402
import wrapt  # noqa: E402
from fastapi.applications import FastAPI  # noqa: E402
from genai_server_app import (  # noqa: E402
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    RESPONSE_SUFFIX,
    STREAM_CHUNKS,
    UvicornThread,
    build_app,
    wait_for,
)
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

from infertel import semconv  # noqa: E402
from infertel.environment_variables import INFERTEL_FASTAPI_ROUTES  # noqa: E402
from infertel_instrumentation.fastapi import GenAIServerMiddleware, InfertelFastAPIInstrumentor  # noqa: E402
from infertel_instrumentation.fastapi._exchange import Exchange  # noqa: E402
from infertel_instrumentation.fastapi._middleware import parse_routes  # noqa: E402

Serve = Callable[[Any], UvicornThread]
# Every wrapt wrapper (FunctionWrapper included) derives from this base in wrapt 2; ObjectProxy in wrapt 1.
WRAPT_PROXY = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)


# --- helpers ----------------------------------------------------------------------------------
def histogram_points(reader: InMemoryMetricReader, name: str) -> list[tuple[Any, HistogramDataPoint]]:
    if name == semconv.GEN_AI_SERVER_REQUEST_DURATION:
        # The request's metrics are recorded once the final body has been handed over, just after the
        # server span ends: wait for them as server_spans waits for the span (the others come with it).
        points: list[tuple[Any, HistogramDataPoint]] = wait_for(lambda: _histogram_points(reader, name))
        return points
    return _histogram_points(reader, name)


def _histogram_points(reader: InMemoryMetricReader, name: str) -> list[tuple[Any, HistogramDataPoint]]:
    data = reader.get_metrics_data()
    out: list[tuple[Any, HistogramDataPoint]] = []
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == name:
                    out.extend((metric, point) for point in metric.data.data_points)
    return out


def gen_ai_metric_names(reader: InMemoryMetricReader) -> set[str]:
    data = reader.get_metrics_data()
    return {
        metric.name
        for resource_metrics in (data.resource_metrics if data else ())
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if metric.name.startswith("gen_ai.") and any(p.count for p in metric.data.data_points)
    }


def server_spans(exporter: InMemorySpanExporter, count: int = 1) -> list[ReadableSpan]:
    def found() -> list[ReadableSpan]:
        spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
        return spans if len(spans) >= count else []

    spans = wait_for(found)
    assert len(spans) == count, [s.name for s in exporter.get_finished_spans()]
    return spans


def gen_ai_attributes(span: ReadableSpan) -> dict[str, Any]:
    keep = ("gen_ai.", "infertel.", "error.type")
    return {k: v for k, v in (span.attributes or {}).items() if k.startswith(keep)}


def metric_attributes(server: UvicornThread, operation: str, model: str, **extra: Any) -> dict[str, Any]:
    return {
        semconv.GEN_AI_OPERATION_NAME: operation,
        semconv.GEN_AI_REQUEST_MODEL: model,
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: server.port,
        **extra,
    }


def sse_lines(response: httpx.Response) -> list[str]:
    return [line for line in response.iter_lines() if line.startswith("data:")]


@pytest.fixture
def instrumented(
    serve: Serve, tracer_provider: TracerProvider, meter_provider: MeterProvider
) -> Iterator[UvicornThread]:
    app = build_app()
    InfertelFastAPIInstrumentor.instrument_app(
        app, tracer_provider=tracer_provider, meter_provider=meter_provider, exclude_spans=["send", "receive"]
    )
    yield serve(app)
    InfertelFastAPIInstrumentor.uninstrument_app(app)


# --- non-streamed --------------------------------------------------------------------------------
def test_non_stream_chat_duration_tokens_and_span_attributes(
    instrumented: UvicornThread, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    body = {"model": "llama", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2, "max_tokens": 8}
    response = httpx.post(f"{instrumented.base_url}/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.json()["usage"]["completion_tokens"] == COMPLETION_TOKENS  # the body is untouched

    (span,) = server_spans(span_exporter)
    assert span.name == "POST /v1/chat/completions"
    assert span.status.status_code is StatusCode.UNSET
    assert gen_ai_attributes(span) == {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: "llama",
        semconv.GEN_AI_REQUEST_TEMPERATURE: 0.2,
        semconv.GEN_AI_REQUEST_MAX_TOKENS: 8,
        semconv.GEN_AI_RESPONSE_MODEL: "llama" + RESPONSE_SUFFIX,
        semconv.GEN_AI_RESPONSE_ID: "resp-1",
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        semconv.GEN_AI_USAGE_INPUT_TOKENS: PROMPT_TOKENS,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: COMPLETION_TOKENS,
    }

    ((metric, point),) = histogram_points(metric_reader, semconv.GEN_AI_SERVER_REQUEST_DURATION)
    assert metric.unit == "s"
    assert dict(point.attributes) == metric_attributes(
        instrumented, "chat", "llama", **{semconv.GEN_AI_RESPONSE_MODEL: "llama" + RESPONSE_SUFFIX}
    )
    assert point.count == 1
    # The duration starts inside the server span and ends when the final body message has been handed
    # over, which is just after the server span ended (it ends inside that send): the two differ by
    # the hand-over, not by the request.
    assert point.sum == pytest.approx((span.end_time - span.start_time) / 1e9, abs=0.02)
    assert tuple(point.explicit_bounds) == semconv.DURATION_BUCKETS
    tokens = {
        p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p.sum
        for _, p in histogram_points(metric_reader, semconv.GEN_AI_CLIENT_TOKEN_USAGE)
    }
    assert tokens == {"input": PROMPT_TOKENS, "output": COMPLETION_TOKENS}
    assert histogram_points(metric_reader, semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN) == []
    assert histogram_points(metric_reader, semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN) == []


def test_embeddings_and_unmeasured_routes(
    instrumented: UvicornThread, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    assert httpx.get(f"{instrumented.base_url}/health").status_code == 200
    response = httpx.post(f"{instrumented.base_url}/v1/embeddings", json={"model": "e5", "input": ["a", "b"]})
    assert response.status_code == 200
    health, embed = sorted(server_spans(span_exporter, 2), key=lambda s: s.name)
    assert health.name == "GET /health"
    assert gen_ai_attributes(health) == {}
    assert gen_ai_attributes(embed) == {
        semconv.GEN_AI_OPERATION_NAME: "embeddings",
        semconv.GEN_AI_REQUEST_MODEL: "e5",
        semconv.GEN_AI_RESPONSE_MODEL: "e5",
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 4,
    }
    ((_, point),) = histogram_points(metric_reader, semconv.GEN_AI_SERVER_REQUEST_DURATION)
    assert dict(point.attributes) == metric_attributes(
        instrumented, "embeddings", "e5", **{semconv.GEN_AI_RESPONSE_MODEL: "e5"}
    )


def test_server_error_is_recorded_and_propagates(
    instrumented: UvicornThread, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    response = httpx.post(f"{instrumented.base_url}/v1/completions", json={"model": "broken", "prompt": "x"})
    assert response.status_code == 500
    (span,) = server_spans(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert gen_ai_attributes(span) == {
        semconv.GEN_AI_OPERATION_NAME: "text_completion",
        semconv.GEN_AI_REQUEST_MODEL: "broken",
        semconv.ERROR_TYPE: "RuntimeError",
    }
    ((_, point),) = histogram_points(metric_reader, semconv.GEN_AI_SERVER_REQUEST_DURATION)
    assert dict(point.attributes) == metric_attributes(
        instrumented, "text_completion", "broken", **{semconv.ERROR_TYPE: "RuntimeError"}
    )


def test_request_without_model_counts_without_the_model_attribute(
    instrumented: UvicornThread, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    response = httpx.post(f"{instrumented.base_url}/v1/embeddings", content=b"not json", timeout=10)
    assert response.status_code == 500  # the app's own json() fails
    (span,) = server_spans(span_exporter)
    assert gen_ai_attributes(span) == {
        semconv.GEN_AI_OPERATION_NAME: "embeddings",
        semconv.ERROR_TYPE: "JSONDecodeError",
    }
    # The failed request is in the error rate: one duration point, no gen_ai.request.model.
    assert gen_ai_metric_names(metric_reader) == {semconv.GEN_AI_SERVER_REQUEST_DURATION}
    ((_, point),) = histogram_points(metric_reader, semconv.GEN_AI_SERVER_REQUEST_DURATION)
    expected = metric_attributes(instrumented, "embeddings", "-", **{semconv.ERROR_TYPE: "JSONDecodeError"})
    del expected[semconv.GEN_AI_REQUEST_MODEL]
    assert (dict(point.attributes), point.count) == (expected, 1)


# --- streamed --------------------------------------------------------------------------------
def test_stream_with_usage_times_first_token_and_tokens_as_they_leave(
    instrumented: UvicornThread, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    body = {
        "model": "llama",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "ttft": 0.2,
        "delay": 0.05,
        "usage_tokens": 9,  # usage says 9 tokens (5 chunks): usage wins
    }
    with httpx.stream("POST", f"{instrumented.base_url}/v1/chat/completions", json=body, timeout=10) as response:
        lines = sse_lines(response)
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[-2][5:])["usage"]["completion_tokens"] == 9

    (span,) = server_spans(span_exporter)
    attributes = gen_ai_attributes(span)
    ttft = attributes.pop(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    tpot = attributes.pop(semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN)
    assert attributes == {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: "llama",
        semconv.GEN_AI_RESPONSE_MODEL: "llama" + RESPONSE_SUFFIX,
        semconv.GEN_AI_RESPONSE_ID: "resp-2",
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        semconv.GEN_AI_USAGE_INPUT_TOKENS: PROMPT_TOKENS,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 9,
        semconv.GEN_AI_REQUEST_STREAM: True,
        semconv.INFERTEL_STREAM_CHUNKS: STREAM_CHUNKS + 3,  # role, 5 tokens, finish, usage
        semconv.INFERTEL_STREAM_END_REASON: semconv.STREAM_END_EXHAUSTED,
    }
    # The app sleeps 0.2 s before the first token, then 4 x 0.05 s: (last - first) / (9 - 1).
    assert 0.2 <= ttft < 2.0
    assert 0.2 / 8 <= tpot < 2.0 / 8

    ((_, duration),) = histogram_points(metric_reader, semconv.GEN_AI_SERVER_REQUEST_DURATION)
    assert duration.sum >= 0.4
    ((metric, first),) = histogram_points(metric_reader, semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN)
    assert (metric.unit, first.count, first.sum) == ("s", 1, pytest.approx(ttft))
    assert tuple(first.explicit_bounds) == semconv.TIME_TO_FIRST_TOKEN_BUCKETS
    assert dict(first.attributes) == metric_attributes(
        instrumented, "chat", "llama", **{semconv.GEN_AI_RESPONSE_MODEL: "llama" + RESPONSE_SUFFIX}
    )
    ((_, per_token),) = histogram_points(metric_reader, semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN)
    assert (per_token.count, per_token.sum) == (1, pytest.approx(tpot))
    assert tuple(per_token.explicit_bounds) == semconv.TIME_PER_OUTPUT_TOKEN_BUCKETS


@pytest.mark.parametrize(
    ("route", "operation"), [("/v1/chat/completions", "chat"), ("/v1/completions", "text_completion")]
)
def test_stream_without_usage_counts_the_chunks(
    instrumented: UvicornThread,
    span_exporter: InMemorySpanExporter,
    metric_reader: InMemoryMetricReader,
    route: str,
    operation: str,
) -> None:
    body = {"model": "small", "prompt": "hi", "messages": [], "stream": True, "chunks": 4}
    with httpx.stream("POST", f"{instrumented.base_url}{route}", json=body, timeout=10) as response:
        assert len(sse_lines(response)) == 4 + 2 + (1 if operation == "chat" else 0)
    (span,) = server_spans(span_exporter)
    attributes = gen_ai_attributes(span)
    assert attributes[semconv.GEN_AI_OPERATION_NAME] == operation
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 4  # role and finish chunks carry no token
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in attributes
    tokens = {
        p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p.sum
        for _, p in histogram_points(metric_reader, semconv.GEN_AI_CLIENT_TOKEN_USAGE)
    }
    assert tokens == {"output": 4}


def test_client_disconnect_mid_stream_ends_the_span_once_marked(
    instrumented: UvicornThread, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    body = {"model": "llama", "messages": [], "stream": True, "chunks": 500, "delay": 0.02}
    with httpx.Client(timeout=10) as client:
        with client.stream("POST", f"{instrumented.base_url}/v1/chat/completions", json=body) as response:
            received = 0
            for line in response.iter_lines():
                received += line.startswith("data:")
                if received == 3:
                    break  # leaving the block closes the connection mid-stream
    (span,) = server_spans(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "client disconnected before the response completed"
    attributes = gen_ai_attributes(span)
    assert attributes[semconv.INFERTEL_STREAM_END_REASON] == semconv.STREAM_END_CLIENT_DISCONNECTED
    assert attributes[semconv.ERROR_TYPE] == semconv.STREAM_END_CLIENT_DISCONNECTED
    assert 2 <= attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] < 500
    ((_, point),) = histogram_points(metric_reader, semconv.GEN_AI_SERVER_REQUEST_DURATION)
    assert point.count == 1
    assert point.attributes[semconv.ERROR_TYPE] == semconv.STREAM_END_CLIENT_DISCONNECTED
    assert histogram_points(metric_reader, semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN) == []
    # Still exactly one server span a moment later: it was ended once.
    time.sleep(0.3)
    assert len([s for s in span_exporter.get_finished_spans() if s.kind is SpanKind.SERVER]) == 1


def test_an_internal_failure_never_reaches_the_application(
    instrumented: UvicornThread,
    span_exporter: InMemorySpanExporter,
    production_errors: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: Exchange, body: bytes, now_ns: int) -> None:
        raise RuntimeError("bug in infertel")

    monkeypatch.setattr(Exchange, "on_response_body", broken)
    body = {"model": "llama", "messages": [], "stream": True, "chunks": 3}
    with httpx.stream("POST", f"{instrumented.base_url}/v1/chat/completions", json=body, timeout=10) as response:
        assert response.status_code == 200
        assert len(sse_lines(response)) == 1 + 3 + 1 + 1
    (span,) = server_spans(span_exporter)
    assert span.status.status_code is StatusCode.UNSET


# --- configuration -------------------------------------------------------------------------------
def test_custom_routes(
    serve: Serve, tracer_provider: TracerProvider, meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    app = build_app()
    InfertelFastAPIInstrumentor.instrument_app(
        app, routes="/generate=text_completion", tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    try:
        server = serve(app)
        httpx.post(f"{server.base_url}/generate", json={"model": "g", "messages": []})
        httpx.post(f"{server.base_url}/v1/chat/completions", json={"model": "c", "messages": []})
        points = wait_for(lambda: histogram_points(metric_reader, semconv.GEN_AI_SERVER_REQUEST_DURATION))
        assert [dict(p.attributes) for _, p in points] == [
            metric_attributes(server, "text_completion", "g", **{semconv.GEN_AI_RESPONSE_MODEL: "g" + RESPONSE_SUFFIX})
        ]
    finally:
        InfertelFastAPIInstrumentor.uninstrument_app(app)


def test_parse_routes() -> None:
    assert parse_routes(None) == {
        "/v1/chat/completions": "chat",
        "/v1/completions": "text_completion",
        "/v1/embeddings": "embeddings",
    }
    assert parse_routes(["/a/chat/completions/", "/b/embeddings"]) == {
        "/a/chat/completions": "chat",
        "/b/embeddings": "embeddings",
    }
    assert parse_routes({"/x": "generate_content"}) == {"/x": "generate_content"}
    with pytest.raises(ValueError, match=f"{INFERTEL_FASTAPI_ROUTES}: 'v1/chat' is not a route path"):
        parse_routes("v1/chat", setting=INFERTEL_FASTAPI_ROUTES)


def test_bad_routes_environment_variable_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INFERTEL_FASTAPI_ROUTES, "generate")
    instrumentor = InfertelFastAPIInstrumentor()
    with pytest.raises(ValueError, match=INFERTEL_FASTAPI_ROUTES):
        instrumentor.instrument(skip_dep_check=True)
    assert not isinstance(FastAPI.__dict__["build_middleware_stack"], WRAPT_PROXY)
    instrumentor.uninstrument()


# --- instrument() / uninstrument() ---------------------------------------------------------------
def _middleware_chain(app: Any) -> list[Any]:
    chain, node = [], app.middleware_stack
    while node is not None and len(chain) < 50:
        chain.append(node)
        node = getattr(node, "app", None)
    return chain


def test_global_instrument_then_uninstrument_leaves_no_wrapper(
    serve: Serve, metric_reader: InMemoryMetricReader, meter_provider: MeterProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = FastAPI.__dict__["build_middleware_stack"]
    monkeypatch.setenv(INFERTEL_FASTAPI_ROUTES, "/generate")
    instrumentor = InfertelFastAPIInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider, skip_dep_check=True)
    try:
        assert isinstance(FastAPI.__dict__["build_middleware_stack"], WRAPT_PROXY)
        app = build_app()
        server = serve(app)
        assert httpx.post(f"{server.base_url}/generate", json={"model": "g", "messages": []}).status_code == 200
        assert any(isinstance(m, GenAIServerMiddleware) for m in _middleware_chain(app))
        ((_, point),) = wait_for(lambda: histogram_points(metric_reader, semconv.GEN_AI_SERVER_REQUEST_DURATION))
        assert dict(point.attributes) == metric_attributes(
            server, "chat", "g", **{semconv.GEN_AI_RESPONSE_MODEL: "g" + RESPONSE_SUFFIX}
        )
    finally:
        instrumentor.uninstrument()

    assert FastAPI.__dict__["build_middleware_stack"] is original
    assert not isinstance(FastAPI.__dict__["build_middleware_stack"], WRAPT_PROXY)
    assert app.middleware_stack is None  # rebuilt on the next request, without us
    assert httpx.post(f"{server.base_url}/generate", json={"model": "g", "messages": []}).status_code == 200
    assert not any(isinstance(m, GenAIServerMiddleware) for m in _middleware_chain(app))
    ((_, point),) = histogram_points(metric_reader, semconv.GEN_AI_SERVER_REQUEST_DURATION)
    assert point.count == 1  # the request after uninstrument() was not measured
    fresh = build_app()
    fresh.middleware_stack = fresh.build_middleware_stack()
    assert not any(isinstance(m, GenAIServerMiddleware) for m in _middleware_chain(fresh))


def test_uninstrument_app_restores_the_application(
    serve: Serve, tracer_provider: TracerProvider, meter_provider: MeterProvider, span_exporter: InMemorySpanExporter
) -> None:
    app = build_app()
    before = dict(app.__dict__)
    InfertelFastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider, meter_provider=meter_provider)
    assert app._is_instrumented_by_opentelemetry
    InfertelFastAPIInstrumentor.uninstrument_app(app)
    assert "build_middleware_stack" not in app.__dict__
    assert set(app.__dict__) - set(before) <= {"_is_instrumented_by_opentelemetry"}
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    server = serve(app)
    assert httpx.post(f"{server.base_url}/v1/embeddings", json={"model": "e", "input": "a"}).status_code == 200
    assert not any(isinstance(m, GenAIServerMiddleware) for m in _middleware_chain(app))
    assert span_exporter.get_finished_spans() == ()


def test_a_model_call_observed_inside_the_handler_is_counted_once(
    serve: Serve,
    tracer_provider: TracerProvider,
    meter_provider: MeterProvider,
    span_exporter: InMemorySpanExporter,
    metric_reader: InMemoryMetricReader,
) -> None:
    import infertel

    @infertel.observe(model="llama", operation="chat", tracer_provider=tracer_provider, meter_provider=meter_provider)
    def engine(prompt: str) -> dict[str, Any]:
        return {"usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS}}

    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat(body: dict[str, Any]) -> dict[str, Any]:  # a sync handler: runs in the thread pool
        usage = engine(body["messages"][0]["content"])["usage"]
        return {"id": "r", "model": body["model"], "choices": [], "usage": usage}

    InfertelFastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider, meter_provider=meter_provider)
    server = serve(app)
    try:
        body = {"model": "llama", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(f"{server.base_url}/v1/chat/completions", json=body).status_code == 200
        server_spans(span_exporter)
        # Both spans exist, the in-process one a child of the server span ...
        inner = wait_for(lambda: [s for s in span_exporter.get_finished_spans() if s.name == "chat llama"])
        assert inner[0].kind is SpanKind.INTERNAL
        # ... but the request is measured once, by the HTTP layer (it carries server.port).
        ((_, point),) = histogram_points(metric_reader, semconv.GEN_AI_SERVER_REQUEST_DURATION)
        assert point.count == 1 and point.attributes[semconv.SERVER_PORT] == server.port
        outside = engine("direct call, no HTTP layer")
        assert outside["usage"]["completion_tokens"] == COMPLETION_TOKENS
        counts = sorted(p.count for _, p in histogram_points(metric_reader, semconv.GEN_AI_SERVER_REQUEST_DURATION))
        assert counts == [1, 1]
    finally:
        InfertelFastAPIInstrumentor.uninstrument_app(app)
