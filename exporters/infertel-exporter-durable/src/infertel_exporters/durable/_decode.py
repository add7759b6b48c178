"""Decode a spooled ``ExportTraceServiceRequest`` back into SDK ``ReadableSpan`` objects.

Used only when the inner exporter is not an upstream OTLP one (those get the bytes as they are).
Spans round-trip with their ids, parent, name, kind, times, status, attributes, events, links,
resource and instrumentation scope; dropped-attribute counts are not restored.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

_KINDS = {
    1: SpanKind.INTERNAL,
    2: SpanKind.SERVER,
    3: SpanKind.CLIENT,
    4: SpanKind.PRODUCER,
    5: SpanKind.CONSUMER,
}
_STATUS = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}


def _value(any_value: Any) -> Any:
    field = any_value.WhichOneof("value")
    if field is None:
        return None
    if field == "array_value":
        return tuple(_value(v) for v in any_value.array_value.values)
    if field == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    return getattr(any_value, field)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


def _context(trace_id: bytes, span_id: bytes, flags: int, state: str, *, remote: bool = False) -> SpanContext:
    return SpanContext(
        int.from_bytes(trace_id, "big"),
        int.from_bytes(span_id, "big"),
        is_remote=remote,
        trace_flags=TraceFlags(flags & 0xFF or TraceFlags.SAMPLED),
        trace_state=TraceState.from_header([state]) if state else None,
    )


def _link(link: Any) -> Link:
    context = _context(link.trace_id, link.span_id, link.flags, link.trace_state, remote=bool(link.flags & 0x200))
    return Link(context, _attributes(link.attributes))


def decode_spans(payload: bytes) -> list[ReadableSpan]:
    """The spans of a serialized ``ExportTraceServiceRequest``."""
    request = ExportTraceServiceRequest.FromString(payload)
    spans: list[ReadableSpan] = []
    for resource_spans in request.resource_spans:
        resource = Resource(_attributes(resource_spans.resource.attributes), resource_spans.schema_url)
        for scope_spans in resource_spans.scope_spans:
            scope = InstrumentationScope(
                scope_spans.scope.name,
                scope_spans.scope.version or None,
                scope_spans.schema_url or None,
                _attributes(scope_spans.scope.attributes) or None,
            )
            for span in scope_spans.spans:
                context = _context(span.trace_id, span.span_id, span.flags, span.trace_state)
                parent = (
                    # OTLP flag bit 0x200: the parent is remote.
                    _context(span.trace_id, span.parent_span_id, span.flags, "", remote=bool(span.flags & 0x200))
                    if span.parent_span_id
                    else None
                )
                spans.append(
                    ReadableSpan(
                        name=span.name,
                        context=context,
                        parent=parent,
                        resource=resource,
                        attributes=_attributes(span.attributes),
                        events=[
                            Event(event.name, _attributes(event.attributes), event.time_unix_nano)
                            for event in span.events
                        ],
                        links=[_link(link) for link in span.links],
                        kind=_KINDS.get(span.kind, SpanKind.INTERNAL),
                        status=Status(_STATUS.get(span.status.code, StatusCode.UNSET), span.status.message or None),
                        start_time=span.start_time_unix_nano,
                        end_time=span.end_time_unix_nano,
                        instrumentation_scope=scope,
                    )
                )
    return spans
