from __future__ import annotations

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

from infertel import semconv

RESOURCE = Resource({"service.name": "retention-test"})
SCOPE = InstrumentationScope("infertel", "0.1.0")


def make_span(i: int, start_ns: int, *, trace_base: int = 1, padding: int = 0) -> ReadableSpan:
    """A finished GenAI span with a unique (trace_base, i) id; ``padding`` adds attribute bytes."""
    context = SpanContext((trace_base << 64) | (i + 1), i + 1, is_remote=False, trace_flags=TraceFlags(1))
    attributes = {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_REQUEST_MODEL: f"model-{i % 3}",
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: i,
    }
    if padding:
        attributes["padding"] = "x" * padding
    return ReadableSpan(
        name=f"chat model-{i % 3}",
        context=context,
        parent=None,
        resource=RESOURCE,
        attributes=attributes,
        kind=SpanKind.INTERNAL,
        start_time=start_ns,
        end_time=start_ns + 1_000_000,
        instrumentation_scope=SCOPE,
    )


@pytest.fixture
def span_factory():
    """``make_span`` as a fixture (test modules do not import conftest)."""
    return make_span
