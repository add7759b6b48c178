"""Property: the fast span encoder's bytes are the upstream OTLP encoder's bytes, for any span.

Random spans (hypothesis) carry every attribute shape OTLP has: -0.0 next to 0.0 under the same
key (the encoder caches encodings by value, and ``0.0 == -0.0``), NaN, infinities, non-ASCII and
empty strings, bytes, arrays, nested key/value lists, events and links. The upstream encoder
(``opentelemetry-exporter-otlp-proto-common``) is the reference; the comparison is on the
serialized bytes, so a wrong sign or payload of a double is a failure.

The fast encoder encodes ``None`` inside arrays and key/value lists as the newest upstream does
(an empty value). Upstream releases before that (1.37 among them) log an error and drop such an
attribute instead; on those, the random values hold no ``None`` (:data:`UPSTREAM_ENCODES_NULL`).
"""

from __future__ import annotations

import logging
import math
import struct
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from infertel_exporters.durable._encoder import encode_spans_fast
from infertel_exporters.durable._transport import encode_span_batch

_KEYS = st.sampled_from(["gen_ai.request.model", "x", "temperature", "ż", ""]) | st.text(max_size=12)
_FLOATS = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, -math.nan]) | st.floats()
_SCALARS = (
    st.text(max_size=20)
    | st.sampled_from(["", "żółw 🐢", "模型", "\x00"])
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
    | _FLOATS
    | st.binary(max_size=8)
)


def _upstream_encodes_null() -> bool:
    """Whether the installed upstream encoder keeps ``None`` inside arrays and key/value lists."""
    span = ReadableSpan(
        name="probe",
        context=SpanContext(1, 2, is_remote=False, trace_flags=TraceFlags(1)),
        attributes={"array": ["a", None], "map": {"k": None}},
    )
    upstream_logger = logging.getLogger("opentelemetry.exporter.otlp.proto.common._internal")
    level, upstream_logger.level = upstream_logger.level, logging.CRITICAL  # its "Failed to encode" error
    try:
        request = encode_spans([span])
    finally:
        upstream_logger.level = level
    return len(request.resource_spans[0].scope_spans[0].spans[0].attributes) == 2


UPSTREAM_ENCODES_NULL = _upstream_encodes_null()
if UPSTREAM_ENCODES_NULL:
    _SCALARS = _SCALARS | st.none()

_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=10,
)
_ATTRIBUTES = st.dictionaries(_KEYS, _VALUES, max_size=6)
_IDS64 = st.integers(min_value=1, max_value=(1 << 64) - 1)
_TIMES = st.integers(min_value=0, max_value=(1 << 64) - 1)

# Resources and scopes are shared objects, as in a real process (grouping is by identity in ours,
# by equality upstream: distinct objects here have distinct contents).
_RESOURCES = [
    Resource({"service.name": "a", "f": -0.0, "n": math.nan}),
    Resource({"service.name": "b", "list": [1, 2]}, schema_url="https://opentelemetry.io/schemas/1.21.0"),
]
_SCOPES = [
    None,
    InstrumentationScope("infertel", "1.0"),
    InstrumentationScope("other", None, "https://example.com/s", {"scope.attr": 0.0}),
]


def _context(trace_id: int, span_id: int, remote: bool, state: list[tuple[str, str]]) -> SpanContext:
    return SpanContext(trace_id, span_id, is_remote=remote, trace_flags=TraceFlags(1), trace_state=TraceState(state))


_CONTEXTS = st.builds(
    _context,
    st.integers(min_value=1, max_value=(1 << 128) - 1),
    _IDS64,
    st.booleans(),
    st.sampled_from([[], [("vendor", "v1"), ("x", "y")]]),
)


@st.composite
def _spans(draw: Any) -> ReadableSpan:
    code = draw(st.sampled_from(list(StatusCode)))
    description = draw(st.sampled_from([None, "", "it broke", "żółw"])) if code is StatusCode.ERROR else None
    return ReadableSpan(
        name=draw(st.text(max_size=16) | st.sampled_from(["chat llama", "", "ż"])),
        context=draw(_CONTEXTS),
        parent=draw(st.none() | _CONTEXTS),
        resource=draw(st.sampled_from(_RESOURCES)),
        attributes=draw(_ATTRIBUTES),
        events=draw(st.lists(st.builds(Event, st.text(max_size=8), st.none() | _ATTRIBUTES, _TIMES), max_size=3)),
        links=draw(st.lists(st.builds(Link, _CONTEXTS, st.none() | _ATTRIBUTES), max_size=3)),
        kind=draw(st.sampled_from(list(SpanKind))),
        status=Status(code, description),
        start_time=draw(_TIMES),
        end_time=draw(_TIMES),
        instrumentation_scope=draw(st.sampled_from(_SCOPES)),
    )


def _span(attributes: dict[str, Any]) -> ReadableSpan:
    return ReadableSpan(
        name="s",
        context=_context(1, 2, False, []),
        resource=_RESOURCES[0],
        attributes=attributes,
        start_time=1,
        end_time=2,
    )


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_spans(), min_size=1, max_size=6))
@example([_span({"temperature": 0.0}), _span({"temperature": -0.0})])
@example([_span({"temperature": -0.0}), _span({"temperature": 0.0, "n": math.nan, "i": -math.inf})])
def test_fast_encoder_bytes_equal_upstream(spans: list[ReadableSpan]) -> None:
    assert encode_spans_fast(spans) == encode_spans(spans).SerializeToString()


def test_the_sign_of_zero_survives_repeated_keys() -> None:
    spans = [_span({"temperature": 0.0}), _span({"temperature": -0.0}), _span({"temperature": 0.0})]
    decoded = ExportTraceServiceRequest.FromString(encode_spans_fast(spans))
    values = [span.attributes[0].value.double_value for span in decoded.resource_spans[0].scope_spans[0].spans]
    assert [struct.pack("<d", v) for v in values] == [struct.pack("<d", v) for v in (0.0, -0.0, 0.0)]


@settings(max_examples=100, deadline=None, database=None)
@given(st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3))
def test_strings_that_are_not_utf8_fall_back_to_upstream(text: str) -> None:
    spans = [_span({"k": text})]
    assert encode_span_batch(spans) == encode_spans(spans).SerializeToString()
