"""Parity with the OpenTelemetry contrib ``opentelemetry-instrumentation-openai-v2`` on the same calls.

Both instrumentations, one after the other (instrumented, called, uninstrumented), drive the same
real openai client against the same OpenAI-compatible server on 127.0.0.1: a plain chat call with
every request parameter upstream records, a streamed one, a failing one and an embeddings call,
with content capture on. Every span attribute and metric data point the upstream instrumentation
records must be on ours with the same meaning; the deliberate differences are the tables below
(``RENAMED``, ``_same_meaning``, ``OURS_ONLY``, ``NOT_ON_METRICS``, ``UPSTREAM_ONLY_EVENTS``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

openai = pytest.importorskip("openai")
openai_v2 = pytest.importorskip("opentelemetry.instrumentation.openai_v2")

from log_helpers import memory_logs, records  # noqa: E402
from openai_peer import FakeOpenAIServer  # noqa: E402
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from infertel import semconv  # noqa: E402
from infertel_instrumentation.openai import OpenAIInstrumentor  # noqa: E402

MODEL = "gpt-test"
MESSAGES = [{"role": "user", "content": "Say hello to the tests"}]

RENAMED = {
    "gen_ai.system": semconv.GEN_AI_PROVIDER_NAME,
    "gen_ai.openai.request.response_format": semconv.GEN_AI_OUTPUT_TYPE,
    "gen_ai.openai.request.service_tier": semconv.OPENAI_REQUEST_SERVICE_TIER,
}
"""Upstream's default mode still writes these deprecated names (semantic conventions 1.37 renamed them)."""

OURS_ONLY = {
    semconv.SERVER_ADDRESS,  # recommended; upstream leaves it off for a base URL on 127.0.0.1
    semconv.SERVER_PORT,
    semconv.GEN_AI_REQUEST_STREAM,  # conditionally required on streamed requests
    semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,  # recommended on streamed requests
    semconv.GEN_AI_RESPONSE_FINISH_REASONS,  # upstream records none for a stream
    semconv.GEN_AI_OUTPUT_MESSAGES,  # likewise, content of a stream
    semconv.GEN_AI_INPUT_MESSAGES,  # upstream's default mode records content as events (UPSTREAM_ONLY_EVENTS)
    semconv.GEN_AI_PROVIDER_NAME,  # see RENAMED
    semconv.INFERTEL_OUTPUT_TOKENS_PER_SECOND,
    semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN,
    semconv.INFERTEL_STREAM_CHUNKS,
    semconv.INFERTEL_STREAM_END_REASON,
}
"""Span attributes only ours records (all either recommended by the conventions or under ``infertel.*``)."""

UPSTREAM_ONLY_EVENTS = {"gen_ai.user.message", "gen_ai.choice"}
"""Upstream's default mode records content as these deprecated events; ours as span attributes."""

OLD_TO_NEW = {
    semconv.GEN_AI_CLIENT_OPERATION_DURATION: semconv.GEN_AI_CLIENT_INFERENCE_DURATION,
    semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK: semconv.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
    semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK: semconv.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
}
"""Under ``gen_ai_latest_experimental`` ours records the newer names; upstream (2.4b0) keeps the older."""


Point = tuple[str, str, dict[str, Any], "int | None", float]
"""(metric name, unit, attributes, count (None for a counter), sum or value)."""


@dataclass
class Run:
    spans: tuple[ReadableSpan, ...]
    points: list[list[Point]]
    """The data points of each call (a delta reader, collected after each)."""
    events: list[Any]
    error: BaseException


def _collect(reader: InMemoryMetricReader) -> list[Point]:
    points: list[Point] = []
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data is not None else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for p in metric.data.data_points:
                    total = p.sum if hasattr(p, "sum") else p.value  # a histogram's sum, a counter's value
                    points.append((metric.name, metric.unit, dict(p.attributes), getattr(p, "count", None), total))
    return points


def _run(instrumentor: Any, server: FakeOpenAIServer) -> Run:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    delta = {kind: AggregationTemporality.DELTA for kind in (Counter, Histogram)}
    reader = InMemoryMetricReader(preferred_temporality=delta)
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    logger_provider, log_exporter = memory_logs()
    instrumentor.instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, logger_provider=logger_provider
    )
    points = []
    try:
        with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
            client.chat.completions.create(
                model=MODEL,
                messages=MESSAGES,
                temperature=0.5,
                top_p=0.9,
                max_tokens=20,
                seed=3,
                n=2,
                stop=["\n\n", "END"],
                frequency_penalty=0.25,
                presence_penalty=0.5,
                response_format={"type": "json_object"},
                service_tier="default",
            )
            points.append(_collect(reader))
            stream = client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
            assert len(list(stream)) == 8
            points.append(_collect(reader))
            with pytest.raises(openai.InternalServerError) as caught:
                client.chat.completions.create(model="broken", messages=MESSAGES)
            points.append(_collect(reader))
            client.embeddings.create(model="embed-test", input=["a b c", "d e"], encoding_format="float", dimensions=4)
            points.append(_collect(reader))
    finally:
        instrumentor.uninstrument()
        meter_provider.shutdown()
    return Run(exporter.get_finished_spans(), points, records(log_exporter), caught.value)


def _same_meaning(key: str, upstream: Any, ours: Any) -> bool:
    if key == semconv.ERROR_TYPE:  # ours is the fully qualified class name, as exception.type is
        return ours == f"openai.{upstream}"
    if key == semconv.GEN_AI_OUTPUT_TYPE and upstream == "json_object":  # the deprecated attribute held the
        return ours == "json"  # response_format type; gen_ai.output.type is the modality
    if key in (semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES):  # same JSON, spacing apart
        return json.loads(ours) == json.loads(upstream)
    if isinstance(upstream, (list, tuple)):
        return list(ours) == list(upstream)
    return bool(ours == upstream)


NOT_ON_METRICS = {semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT}
"""Upstream puts these on its metric points; the conventions list them for spans only (ours: spans only)."""


def _mapped_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    mapped = {RENAMED.get(k, k): v for k, v in attributes.items() if k not in NOT_ON_METRICS}
    if semconv.ERROR_TYPE in mapped:
        mapped[semconv.ERROR_TYPE] = f"openai.{mapped[semconv.ERROR_TYPE]}"
    return mapped


def _our_metric(name: str, attributes: dict[str, Any], latest: bool) -> tuple[str, dict[str, Any]]:
    """The name and attributes under which ours records what upstream records as ``name``/``attributes``."""
    attributes = _mapped_attributes(attributes)
    if not latest:
        return name, attributes
    if attributes[semconv.GEN_AI_OPERATION_NAME] == semconv.GEN_AI_OPERATION_EMBEDDINGS:  # client-embeddings names
        if name == semconv.GEN_AI_CLIENT_TOKEN_USAGE:
            attributes.pop(semconv.GEN_AI_TOKEN_TYPE)
            return semconv.GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS, attributes
        return semconv.GEN_AI_CLIENT_EMBEDDINGS_DURATION, attributes
    if name == semconv.GEN_AI_CLIENT_TOKEN_USAGE:
        token_type = attributes.pop(semconv.GEN_AI_TOKEN_TYPE)
        if token_type == semconv.GEN_AI_TOKEN_TYPE_INPUT:
            return semconv.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS, attributes
        return semconv.GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS, attributes
    return OLD_TO_NEW.get(name, name), attributes


def _without_server(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if k not in (semconv.SERVER_ADDRESS, semconv.SERVER_PORT)}


# openai-v2 2.3b0 (the release for the oldest supported SDK) builds its event records with trace_id/span_id.
@pytest.mark.filterwarnings("ignore:LogRecord init with `trace_id`:Warning")
@pytest.mark.parametrize("opt_in", ["", "gen_ai_latest_experimental"])
def test_ours_records_everything_upstream_does(
    opt_in: str, openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    latest = bool(opt_in)
    monkeypatch.setenv(semconv.OTEL_SEMCONV_STABILITY_OPT_IN, opt_in)
    # Upstream's default mode reads "true", its newer mode "span_only"; ours takes either.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only" if latest else "true")
    upstream = _run(openai_v2.OpenAIInstrumentor(), openai_server)
    ours = _run(OpenAIInstrumentor(), openai_server)

    # Spans: same name, kind and status (description: the exception's message), attributes a superset.
    assert len(upstream.spans) == len(ours.spans) == 4
    for u, o in zip(upstream.spans, ours.spans, strict=True):
        assert (o.name, o.kind, o.status.status_code) == (u.name, u.kind, u.status.status_code)
        assert o.status.description == u.status.description
        u_attributes = {RENAMED.get(k, k): v for k, v in u.attributes.items()}
        missing = set(u_attributes) - set(o.attributes)
        assert not missing, (u.name, missing)
        for key, value in u_attributes.items():
            assert _same_meaning(key, value, o.attributes[key]), (key, value, o.attributes[key])
        assert set(o.attributes) - set(u_attributes) <= OURS_ONLY, set(o.attributes) - set(u_attributes)
        assert o.instrumentation_scope.schema_url == semconv.SCHEMA_URL
        assert o.events == ()  # the exception is an event record, not a span event
    assert ours.error.args == upstream.error.args  # the same failure, re-raised unchanged by both
    assert ours.spans[2].status.description == str(ours.error)

    # Metrics, call by call: every upstream data point has ours under the same (or, opted in, the
    # newer) name, attributes (ours may add gen_ai.response.model where upstream leaves it off a
    # stream, and server.*), unit, count and token sum.
    assert any(upstream.points)
    for call, (u_points, o_points) in enumerate(zip(upstream.points, ours.points, strict=True)):
        for name, unit, attributes, count, total in u_points:
            our_name, our_attributes = _our_metric(name, attributes, latest)
            found = [
                p
                for p in o_points
                if p[0] == our_name
                and {k: v for k, v in _without_server(p[2]).items() if k in our_attributes} == our_attributes
                and set(_without_server(p[2])) - set(our_attributes) <= {semconv.GEN_AI_RESPONSE_MODEL}
            ]
            assert len(found) == 1, (call, name, attributes, [p[:3] for p in o_points])
            _, our_unit, _, our_count, our_total = found[0]
            assert (our_unit, our_count) == (unit, count), (call, name)
            if unit == semconv.UNIT_TOKENS:
                assert our_total == total, (call, name)
    if latest:  # the token counters by modality come only with the newer names
        for call, output_tokens in ((0, 5 * 2), (1, 5)):  # two choices in the plain call, one streamed
            counters = {p[0]: p[4] for p in ours.points[call] if semconv.GEN_AI_TOKEN_MODALITY in p[2]}
            assert counters == {
                semconv.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS: 5,  # words in MESSAGES, as the server counts
                semconv.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS: output_tokens,
            }
        # Embeddings: the client-embeddings names only (no inference counters).
        assert {p[0] for p in ours.points[3]} == {
            semconv.GEN_AI_CLIENT_EMBEDDINGS_DURATION,
            semconv.GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS,
        }

    # Events: ours records the failure as gen_ai.client.operation.exception; upstream has no exception event.
    assert {r.event_name for r in upstream.events} <= UPSTREAM_ONLY_EVENTS
    (exception,) = ours.events
    assert exception.event_name == semconv.GEN_AI_CLIENT_OPERATION_EXCEPTION
    assert exception.attributes[semconv.EXCEPTION_TYPE] == "openai.InternalServerError"
    assert exception.attributes[semconv.EXCEPTION_MESSAGE] == str(ours.error)
    assert exception.span_id == ours.spans[2].context.span_id
