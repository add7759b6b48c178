"""A fast OTLP span encoder: protobuf wire format written directly, repeated attributes cached.

It produces the same ``ExportTraceServiceRequest`` as the upstream
``opentelemetry.exporter.otlp.proto.common.trace_encoder.encode_spans`` (the test suite decodes
both and compares them), about four to six times faster, because inference spans repeat the same
attribute key/value pairs (model, operation, provider, server) and span names, whose encodings
are cached in a bounded table. Anything it does not handle exactly as upstream does (an
unsupported attribute type, an int outside int64, a string that is not valid UTF-8) raises, and
the caller falls back to the upstream encoder for that batch.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from infertel_exporters.durable._compat import plain_attributes, span_attributes

_SMALL = [bytes([i]) for i in range(128)]
_DOUBLE = struct.Struct("<d").pack
_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_CACHE_MAX = 8192
_attr_cache: dict[tuple[bytes, str, type, Any], bytes] = {}
"""Encoded ``KeyValue`` fields of str, int and bool attributes, keyed by (tag, key, type, value)."""
_name_cache: dict[str, bytes] = {}


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _ld(tag: bytes, data: bytes) -> bytes:
    return tag + _varint(len(data)) + data


def _any_value(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _ld(b"\x0a", value.encode("utf-8"))
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise OverflowError("int attribute outside int64")
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _ld(b"\x3a", value)
    if isinstance(value, Sequence):
        return _ld(b"\x2a", b"".join(_ld(b"\x0a", _any_value(v)) for v in value))
    if isinstance(value, Mapping):
        return _ld(b"\x32", b"".join(_ld(b"\x0a", _key_value(str(k), v)) for k, v in value.items()))
    raise TypeError(f"unsupported attribute type {type(value).__name__}")


def _key_value(key: str, value: Any) -> bytes:
    # proto3 leaves an empty string field out, as upstream's serializer does for key "".
    encoded_key = _ld(b"\x0a", key.encode("utf-8")) if key else b""
    return encoded_key + _ld(b"\x12", _any_value(value))


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Each attribute as a length-delimited ``KeyValue`` field ``tag``; scalar pairs come from the cache."""
    if not attributes:
        return b""
    # BoundedAttributes keeps a plain dict: iterating it directly skips a lock and two Python-level
    # mapping layers per attribute.
    plain = plain_attributes(attributes)  # see _compat
    parts = []
    for key, value in plain.items():
        kind = type(value)
        # Floats are not cached: 0.0 == -0.0 (one cache entry would give both the first one's sign)
        # and NaN != NaN (an entry per NaN object, never hit).
        if kind is str or kind is int or kind is bool:
            cache_key = (tag, key, kind, value)
            encoded = _attr_cache.get(cache_key)
            if encoded is None:
                encoded = _ld(tag, _key_value(key, value))
                if len(_attr_cache) >= _CACHE_MAX:
                    _attr_cache.clear()
                _attr_cache[cache_key] = encoded
            parts.append(encoded)
        else:
            parts.append(_ld(tag, _key_value(key, value)))
    return b"".join(parts)


def _flags(parent: Any) -> bytes:
    # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK, plus IS_REMOTE when the parent is remote.
    return _FIXED32(0x300 if parent is not None and parent.is_remote else 0x100)


def _span(span: Any) -> bytes:
    context = span.get_span_context()
    parts = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),
    ]
    state = context.trace_state
    if state:
        parts.append(_ld(b"\x1a", ",".join(f"{k}={v}" for k, v in state.items()).encode("utf-8")))
    parent = span.parent
    if parent:
        parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
    name = span.name
    if name:
        encoded = _name_cache.get(name)
        if encoded is None:
            encoded = _ld(b"\x2a", name.encode("utf-8"))
            if len(_name_cache) >= _CACHE_MAX:
                _name_cache.clear()
            _name_cache[name] = encoded
        parts.append(encoded)
    parts.append(b"\x30" + _SMALL[span.kind.value + 1])
    if span.start_time:
        parts.append(b"\x39" + _FIXED64(span.start_time))
    if span.end_time:
        parts.append(b"\x41" + _FIXED64(span.end_time))
    parts.append(_attributes(b"\x4a", span_attributes(span)))
    if span.dropped_attributes:
        parts.append(b"\x50" + _varint(span.dropped_attributes))
    for event in span.events:
        body = b"\x09" + _FIXED64(event.timestamp) if event.timestamp else b""
        if event.name:
            body += _ld(b"\x12", event.name.encode("utf-8"))
        body += _attributes(b"\x1a", event.attributes)
        if event.dropped_attributes:
            body += b"\x20" + _varint(event.dropped_attributes)
        parts.append(_ld(b"\x5a", body))
    if span.dropped_events:
        parts.append(b"\x60" + _varint(span.dropped_events))
    for link in span.links:
        body = (
            b"\x0a\x10"
            + link.context.trace_id.to_bytes(16, "big")
            + b"\x12\x08"
            + link.context.span_id.to_bytes(8, "big")
        )
        body += _attributes(b"\x22", link.attributes)
        if link.dropped_attributes:
            body += b"\x28" + _varint(link.dropped_attributes)
        body += b"\x35" + _flags(link.context)
        parts.append(_ld(b"\x6a", body))
    if span.dropped_links:
        parts.append(b"\x70" + _varint(span.dropped_links))
    status = span.status
    if status is not None:
        body = _ld(b"\x12", status.description.encode("utf-8")) if status.description else b""
        if status.status_code.value:
            body += b"\x18" + _SMALL[status.status_code.value]
        parts.append(_ld(b"\x7a", body))
    parts.append(b"\x85\x01" + _flags(parent))
    return b"".join(parts)


def _scope(scope: Any) -> bytes:
    if scope is None:
        return b""
    body = _ld(b"\x0a", scope.name.encode("utf-8")) if scope.name else b""
    if scope.version:
        body += _ld(b"\x12", scope.version.encode("utf-8"))
    return body + _attributes(b"\x1a", scope.attributes)


def encode_spans_fast(spans: Sequence[Any]) -> bytes:
    """Serialized ``ExportTraceServiceRequest`` of ``spans``, equal to the upstream encoder's.

    Raises:
        Exception: On anything the upstream encoder would treat differently; fall back to it.
    """
    # Grouped by identity: Resource.__hash__ serialises the resource to JSON on every call. Equal
    # resources held in distinct objects (rare) become separate ResourceSpans, which OTLP allows.
    grouped: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    for span in spans:
        resource = span.resource
        entry = grouped.get(id(resource))
        if entry is None:
            entry = grouped[id(resource)] = (resource, {})
        scope = span.instrumentation_scope or None
        by_scope = entry[1].get(id(scope))
        if by_scope is None:
            by_scope = entry[1][id(scope)] = (scope, [])
        by_scope[1].append(_ld(b"\x12", _span(span)))
    out = []
    for resource, scopes in grouped.values():
        body = _ld(b"\x0a", _attributes(b"\x0a", resource.attributes))
        for scope, encoded in scopes.values():
            scope_spans = _ld(b"\x0a", _scope(scope)) + b"".join(encoded)
            if scope is not None and scope.schema_url:
                scope_spans += _ld(b"\x1a", scope.schema_url.encode("utf-8"))
            body += _ld(b"\x12", scope_spans)
        if resource.schema_url:
            body += _ld(b"\x1a", resource.schema_url.encode("utf-8"))
        out.append(_ld(b"\x0a", body))
    return b"".join(out)
