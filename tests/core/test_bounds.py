"""Every value infertel exports is bounded: captured content, names, and hostile exceptions.

- ``content_max_length`` bounds the whole ``gen_ai.*.messages`` attribute whatever the message
  shape (long histories, parts, tool-call arguments, inline images, bytes, deep nesting).
- Model, operation, provider, span and response names are cut to ``MAX_NAME_LENGTH`` with a
  marker and one warning, in span names, span attributes and metric attributes alike.
- An exception whose ``__str__`` and ``__repr__`` raise ends its span normally (status ERROR),
  propagates unchanged, and leaves nothing in flight: decorator, async, streams, context manager.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from core_helpers import collect
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import infertel
from infertel import semconv
from infertel._internal.instrument.content import serialize
from infertel._internal.limits import MARKER, MAX_NAME_LENGTH, MAX_TEXT_LENGTH
from infertel._internal.processors import install

# --- content ---------------------------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": [value]}
    return value


_PNG = "data:image/png;base64," + "iVBORw0KGgo" * 50_000
_SHAPES: dict[str, Any] = {
    "history of 2,000 messages": [
        {"role": "user" if i % 2 else "assistant", "content": f"message {i} " + "x" * 500} for i in range(2000)
    ],
    "parts with tool-call arguments": [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "calling"},
                {"type": "tool_call", "id": "call_1", "name": "search", "arguments": {"q": "y" * 1_000_000}},
            ],
        }
    ],
    "OpenAI content parts": [
        {"role": "user", "content": [{"type": "text", "text": "z" * 300_000}, {"type": "text", "text": "again"}]}
    ],
    "inline image and bytes": [
        {"role": "user", "parts": [{"type": "image", "content": _PNG}, {"type": "blob", "content": b"\x00" * 10**6}]}
    ],
    "deep nesting": [{"role": "tool", "parts": [{"type": "tool_call_response", "response": _nested(200)}]}],
    "one huge string": "w" * 2_000_000,
}


@pytest.mark.parametrize("max_length", [4096, 300])
@pytest.mark.parametrize("shape", list(_SHAPES))
def test_content_attribute_is_bounded_whatever_the_shape(
    install_runtime: Any,
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
    shape: str,
    max_length: int,
) -> None:
    install_runtime(tracer_provider=tracer_provider, capture_content=True, content_max_length=max_length)
    with infertel.inference(model="m") as inv:
        inv.set_input_messages(_SHAPES[shape])
        inv.set_output_messages(_SHAPES[shape])
    (span,) = span_exporter.get_finished_spans()
    for attribute in (semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES):
        value = span.attributes[attribute]
        assert len(value) <= max_length, (attribute, len(value))
        messages = json.loads(value)  # still valid JSON
        assert isinstance(messages, list) and messages, value
        assert all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)


def test_inline_data_is_captured_as_a_reference(
    install_runtime: Any, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    install_runtime(tracer_provider=tracer_provider, capture_content=True, content_max_length=4096)
    with infertel.inference(model="m") as inv:
        inv.set_input_messages(_SHAPES["inline image and bytes"])
    (span,) = span_exporter.get_finished_spans()
    assert json.loads(span.attributes[semconv.GEN_AI_INPUT_MESSAGES]) == [
        {
            "role": "user",
            "parts": [
                {"type": "image", "content": f"data:image/png;base64,[{len(_PNG) - 22} characters not captured]"},
                {"type": "blob", "content": "[1000000 bytes not captured]"},
            ],
        }
    ]


def test_a_history_keeps_its_leading_messages_and_cuts_text_to_fit(
    install_runtime: Any, tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter
) -> None:
    install_runtime(tracer_provider=tracer_provider, capture_content=True, content_max_length=200)
    with infertel.inference(model="m") as inv:
        inv.set_input_messages([{"role": "system", "content": "be brief"}, {"role": "user", "content": "q" * 10_000}])
    (span,) = span_exporter.get_finished_spans()
    value = span.attributes[semconv.GEN_AI_INPUT_MESSAGES]
    assert len(value) == 200
    kept = 200 - len(
        json.dumps(
            [
                {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
                {"role": "user", "parts": [{"type": "text", "content": ""}]},
            ],
            ensure_ascii=False,
        )
    )
    assert json.loads(value) == [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "q" * kept}]},
    ]


# --- names -----------------------------------------------------------------------------------


def _cut(value: str) -> str:
    return value[: MAX_NAME_LENGTH - len(MARKER)] + MARKER


def test_long_names_are_cut_with_a_marker_in_spans_and_metrics(
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
    meter_provider: MeterProvider,
    metric_reader: InMemoryMetricReader,
    caplog: pytest.LogCaptureFixture,
) -> None:
    model, operation, provider = "m" * 100_000, "o" * 100_000, "p" * 100_000
    response_model, response_id = "r" * 100_000, "i" * 100_000

    @infertel.observe(
        model=model,
        operation=operation,
        provider=provider,
        server_address="s" * 100_000,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    def generate() -> dict[str, Any]:
        usage = {"prompt_tokens": 3, "completion_tokens": 5}
        return {"model": response_model, "id": response_id, "usage": usage}

    with caplog.at_level(logging.WARNING, logger="infertel"):
        for _ in range(50):
            generate()
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 50
    span = spans[0]
    assert span.name == f"{_cut(operation)} {_cut(model)}"
    attributes = dict(span.attributes)
    assert attributes[semconv.GEN_AI_REQUEST_MODEL] == _cut(model)
    assert attributes[semconv.GEN_AI_OPERATION_NAME] == _cut(operation)
    assert attributes[semconv.GEN_AI_PROVIDER_NAME] == _cut(provider)
    assert attributes[semconv.SERVER_ADDRESS] == _cut("s" * 100_000)
    assert attributes[semconv.GEN_AI_RESPONSE_MODEL] == _cut(response_model)
    assert attributes[semconv.GEN_AI_RESPONSE_ID] == _cut(response_id)
    assert all(len(v) <= MAX_NAME_LENGTH for v in attributes.values() if isinstance(v, str))
    # Every metric point's attributes are bounded too.
    metrics = collect(metric_reader)
    assert metrics
    for metric in metrics.values():
        for point in metric.data.data_points:
            assert all(len(v) <= MAX_NAME_LENGTH for v in point.attributes.values() if isinstance(v, str))
            assert point.attributes.get(semconv.GEN_AI_REQUEST_MODEL) == _cut(model)
    # One warning per kind of name, not one per call.
    cut = [r.getMessage() for r in caplog.records if "was cut" in r.getMessage()]
    assert len(cut) == len(set(cut)) == 6, cut


def test_record_metrics_bounds_its_names(meter_provider: MeterProvider, metric_reader: InMemoryMetricReader) -> None:
    infertel.record_metrics(
        model="m" * 50_000, operation="chat", duration_s=0.5, error_type="E" * 50_000, meter_provider=meter_provider
    )
    (metric,) = [m for m in collect(metric_reader).values() if m.data.data_points]
    (point,) = metric.data.data_points
    assert point.attributes[semconv.GEN_AI_REQUEST_MODEL] == _cut("m" * 50_000)
    assert point.attributes[semconv.ERROR_TYPE] == _cut("E" * 50_000)


def test_set_attribute_bounds_strings_and_lists(tracer_provider: TracerProvider, span_exporter) -> None:
    with infertel.inference(model="m", tracer_provider=tracer_provider) as inv:
        inv.set_attribute("app.note", "n" * 100_000)
        inv.set_attribute("app.tags", ["t"] * 1000)
        inv.set_finish_reasons(["stop"] * 1000)
    (span,) = span_exporter.get_finished_spans()
    assert span.attributes["app.note"] == "n" * (MAX_TEXT_LENGTH - len(MARKER)) + MARKER
    assert span.attributes["app.tags"] == ("t",) * 128
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",) * 128


# --- hostile exceptions ----------------------------------------------------------------------


class Hostile(Exception):
    """An exception that cannot be turned into text."""

    def __str__(self) -> str:
        raise RuntimeError("no __str__")

    def __repr__(self) -> str:
        raise RuntimeError("no __repr__")


def _run(coroutine: Any) -> Any:
    # Not asyncio.run(): on 3.11 it formats the failed task with repr(), which this exception refuses.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def _assert_ended_with_error(span_exporter: InMemorySpanExporter, handle: Any, n: int) -> None:
    spans = span_exporter.get_finished_spans()
    assert len(spans) == n
    for span in spans:
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "<Hostile: str() failed>"
        assert span.attributes[semconv.ERROR_TYPE] == f"{__name__}.Hostile"
    snapshot = handle.snapshot(60)
    assert sum(s.in_flight for s in snapshot.values()) == 0
    assert sum(s.errors for s in snapshot.values()) == n


@pytest.fixture
def stats_handle(tracer_provider: TracerProvider) -> Iterator[Any]:
    handle = install(tracer_provider, windows_s=(60,))
    yield handle
    handle.uninstall()


@pytest.mark.parametrize("production", [False, True], ids=["internal-errors-raise", "production"])
def test_hostile_exception_ends_the_span_everywhere(
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
    stats_handle: Any,
    production: bool,
    request: pytest.FixtureRequest,
) -> None:
    if production:
        request.getfixturevalue("production_errors")  # internal errors logged and dropped, as in an app
    raised: list[BaseException] = []
    observe = infertel.observe(model="m", tracer_provider=tracer_provider)

    @observe
    def call() -> None:
        raise Hostile

    @observe
    async def call_async() -> None:
        raise Hostile

    @observe
    def stream() -> Iterator[str]:
        yield "a"
        raise Hostile

    @observe
    async def stream_async() -> AsyncIterator[str]:
        yield "a"
        raise Hostile

    async def consume() -> None:
        async for _ in stream_async():
            pass

    def block() -> None:
        with infertel.inference(model="m", tracer_provider=tracer_provider):
            raise Hostile

    async def block_async() -> None:
        async with infertel.inference(model="m", tracer_provider=tracer_provider):
            raise Hostile

    for run in (
        call,
        lambda: _run(call_async()),
        lambda: list(stream()),
        lambda: _run(consume()),
        block,
        lambda: _run(block_async()),
    ):
        with pytest.raises(Hostile) as caught:
            run()
        raised.append(caught.value)
    assert all(type(exc) is Hostile for exc in raised)
    _assert_ended_with_error(span_exporter, stats_handle, 6)


def test_statistics_gauges_bound_names_from_other_instrumentations(
    tracer_provider: TracerProvider, meter_provider: MeterProvider, metric_reader: InMemoryMetricReader
) -> None:
    handle = install(tracer_provider, meter_provider, windows_s=(60,))
    try:
        # A span of another instrumentation, with an unbounded model name.
        attributes = {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "m" * 100_000}
        tracer_provider.get_tracer("other").start_span("chat", attributes=attributes).end()
        gauges = {name: m for name, m in collect(metric_reader).items() if name.startswith("infertel.gen_ai.")}
    finally:
        handle.uninstall()
    latency = gauges[semconv.INFERTEL_GEN_AI_LATENCY].data.data_points
    assert len(latency) == 5  # one per quantile
    for metric in gauges.values():
        for point in metric.data.data_points:
            assert point.attributes[semconv.GEN_AI_REQUEST_MODEL] == _cut("m" * 100_000)


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=300) | st.binary(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=15,
)
_MESSAGES = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "tool"]), "parts": st.lists(_JSONISH, max_size=4)}
    ),
    max_size=20,
)


@settings(max_examples=150, deadline=None, database=None)
@given(_MESSAGES, st.integers(min_value=0, max_value=3000))
def test_serialize_is_bounded_valid_and_keeps_the_leading_messages(messages: list[Any], max_length: int) -> None:
    value = serialize(messages, max_length)
    assert len(value) <= max_length
    if max_length < 2:
        assert value == ""
        return
    decoded = json.loads(value)
    assert [m["role"] for m in decoded] == [m["role"] for m in messages[: len(decoded)]]
    whole = serialize(messages, 10**9)
    if len(whole) <= max_length:  # everything fits: nothing is cut
        assert value == whole
    else:
        assert len(decoded) <= len(messages)
