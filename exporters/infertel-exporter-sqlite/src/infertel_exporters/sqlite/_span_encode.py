"""Spans -> rows of the compact ``spans`` table (schema version 2) and their rollup contributions.

Ids are BLOBs (16 / 8 bytes), the span kind a small integer, times ``start_ns`` + ``duration_ns``,
and attributes "shape-encoded": the JSON array of the values, the keys (with the instrumentation
scope) stored once per distinct key list in ``span_shapes``; a span's row carries its shape id.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from infertel_exporters.sqlite import _span_rollups as sr
from infertel_exporters.sqlite._buckets import TPOT_BOUNDS, TTFT_BOUNDS
from infertel_exporters.sqlite._compat import span_collections
from infertel_exporters.sqlite._encode import ResourceCache, encode_json, plain, resource_rows
from infertel_exporters.sqlite._names import (
    ERROR_TYPE,
    ERROR_TYPE_OTHER,
    GEN_AI_OPERATION_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    INFERTEL_TIME_PER_OUTPUT_TOKEN,
)
from infertel_exporters.sqlite._span_rollups import N_STORED, SpanRollups

SPAN_INSERT = (
    "INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, root, name, kind, start_ns, duration_ns,"
    " status_code, status_message, model, operation, shape_id, attributes, events, links)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
SHAPE_INSERT = (
    "INSERT OR IGNORE INTO span_shapes (id, resource_id, scope_name, scope_version, keys, implied) VALUES (?,?,?,?,?,?)"
)
KINDS = ("INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
"""Stored kind number -> name (``SpanKind`` values)."""
_STATUS = {StatusCode.UNSET: None, StatusCode.OK: "OK", StatusCode.ERROR: "ERROR"}
_KIND = {kind: kind.value for kind in SpanKind}
_INF = math.inf
TTFT_KEY, TPOT_KEY = GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, INFERTEL_TIME_PER_OUTPUT_TOKEN
_IMPLIED_BY = ((GEN_AI_REQUEST_MODEL, "model"), (GEN_AI_RESPONSE_MODEL, "model"), (GEN_AI_OPERATION_NAME, "operation"))


def shape_id(resource_id: int, scope_name: str | None, scope_version: str | None, keys_json: str,
             implied_json: str) -> int:  # fmt: skip
    """A 47-bit id of (resource, scope, attribute keys, implied keys): the same in every process, 6 bytes on disk.

    Example:
        >>> shape_id(1, "infertel", "0.1.0", '["a"]', "{}") == shape_id(1, "infertel", "0.1.0", '["a"]', "{}")
        True
    """
    text = f"{resource_id}\0{scope_name}\0{scope_version}\0{keys_json}\0{implied_json}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=6).digest(), "big") >> 1


def compact(attributes: dict[str, Any], name: str, model: str | None,
            operation: str | None) -> tuple[tuple[str, ...], tuple[str, ...], str, str | None]:  # fmt: skip
    """``(keys, implied keys, values JSON, stored name)`` of a span.

    An attribute whose value is the ``model`` / ``operation`` column (the GenAI model and operation
    names) is implied: not repeated in the values; a name equal to ``"<operation> <model>"`` (the
    GenAI convention) is stored as NULL.

    Example:
        >>> compact({"gen_ai.operation.name": "chat", "n": 1}, "chat m", "m", "chat")
        (('gen_ai.operation.name', 'n'), ('gen_ai.operation.name',), '[1]', None)
    """
    implied: tuple[str, ...] = ()
    for key, column in _IMPLIED_BY:
        value = attributes.get(key)
        if value is not None and value.__class__ is str and value == (model if column == "model" else operation):
            implied += (key,)
    if implied:
        values = encode_json([v for k, v in attributes.items() if k not in implied])
    else:
        values = encode_json(list(attributes.values())) if attributes else "[]"
    stored_name = None if (model is not None and operation is not None and name == f"{operation} {model}") else name
    return tuple(attributes), implied, values, stored_name


class _Shapes:
    """(resource, scope, keys, implied) -> (id, row, which rollup attributes the keys hold), bounded."""

    def __init__(self) -> None:
        self._ids: dict[tuple[Any, ...], tuple[int, tuple[Any, ...], tuple[bool, bool, bool]]] = {}

    def get(self, rid: int, scope_name: str | None, scope_version: str | None, keys: tuple[str, ...],
            implied: tuple[str, ...]) -> tuple[int, tuple[Any, ...], tuple[bool, bool, bool]]:  # fmt: skip
        key = (rid, scope_name, scope_version, keys, implied)
        entry = self._ids.get(key)
        if entry is None:
            keys_json = encode_json(list(keys))
            implied_json = encode_json({k: c for k, c in _IMPLIED_BY if k in implied})
            sid = shape_id(rid, scope_name, scope_version, keys_json, implied_json)
            if len(self._ids) >= 4096:
                self._ids.clear()
            holds = (ERROR_TYPE in keys, TTFT_KEY in keys, TPOT_KEY in keys)
            entry = self._ids[key] = (sid, (sid, rid, scope_name, scope_version, keys_json, implied_json), holds)
        return entry


def shapes_of(cache: ResourceCache) -> _Shapes:
    """The shape cache kept beside a writer's resource cache."""
    shapes = getattr(cache, "shapes", None)
    if shapes is None:
        shapes = cache.shapes = _Shapes()  # type: ignore[attr-defined]
    return shapes


def span_rows(
    spans: Sequence[ReadableSpan], cache: ResourceCache, rollups: SpanRollups | None = None
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows for ``SPAN_INSERT``, ``RESOURCE_UPSERT`` and ``SHAPE_INSERT``; GenAI spans counted into ``rollups``."""
    rows: list[tuple[Any, ...]] = []
    used: dict[int, tuple[str, str]] = {}
    shape_rows: dict[int, tuple[Any, ...]] = {}
    shapes = shapes_of(cache)
    last_resource: Resource | None = None
    rid = 0
    service = ""
    groups = rollups.groups if rollups is not None else None
    find = groups.get if groups is not None else None
    dget = dict.get  # (``plain`` gives a dict: no bound method made per span)
    (count_column, count_one), (errors_column, errors_one) = sr.COUNT_SLOT, sr.ERRORS_SLOT
    ttft_count_one, tpot_count_one = sr.TTFT_COUNT_SLOT[1], sr.TPOT_COUNT_SLOT[1]  # in the count / errors columns
    count_and_ttft = count_one + ttft_count_one
    (duration_columns, duration_ones), (ttft_columns, ttft_ones) = sr.DURATION_SLOTS, sr.TTFT_SLOTS
    tpot_columns, tpot_ones = sr.TPOT_SLOTS
    bucket_start = bucket_end = 0
    duration_bounds, ttft_bounds, tpot_bounds, inf, n_stored = (
        sr.DURATION_NS_BOUNDS,
        TTFT_BOUNDS,
        TPOT_BOUNDS,
        _INF,
        N_STORED,
    )
    left, right, other_error, error_key = bisect_left, bisect_right, ERROR_TYPE_OTHER, ERROR_TYPE
    error_status = _STATUS[StatusCode.ERROR]
    input_key, output_key, ttft_key, tpot_key = (
        GEN_AI_USAGE_INPUT_TOKENS,
        GEN_AI_USAGE_OUTPUT_TOKENS,
        TTFT_KEY,
        TPOT_KEY,
    )
    for span in spans:
        resource = span.resource
        if resource is not last_resource:
            rid, resource_json, schema_url = cache.get(resource)
            used[rid] = (resource_json, schema_url)
            service = cache.service(resource)
            last_resource = resource
        context = span.context
        if context is None:
            continue
        parent = span.parent
        raw, events, links = span_collections(span)
        attributes = plain(raw)
        model = attributes.get(GEN_AI_REQUEST_MODEL) or attributes.get(GEN_AI_RESPONSE_MODEL)
        operation = attributes.get(GEN_AI_OPERATION_NAME)
        status = span.status
        status_code = _STATUS[status.status_code]
        scope = span.instrumentation_scope
        start = span.start_time or 0
        duration = max(0, (span.end_time or start) - start)
        if model is not None:
            model = str(model)
        if operation is not None:
            operation = str(operation)
        keys, implied, values, stored_name = compact(attributes, span.name, model, operation)
        sid, shape_row, (has_error_type, has_ttft, has_tpot) = shapes.get(
            rid, scope.name if scope is not None else None, scope.version if scope is not None else None, keys, implied
        )
        shape_rows[sid] = shape_row
        rows.append(
            (
                context.trace_id.to_bytes(16, "big"),
                context.span_id.to_bytes(8, "big"),
                parent.span_id.to_bytes(8, "big") if parent is not None else None,
                1 if parent is None or parent.is_remote else 0,
                stored_name,
                _KIND[span.kind],
                start,
                duration,
                status_code,
                status.description,
                model,
                operation,
                sid,
                values,
                encode_json(
                    [{"name": e.name, "time_ns": e.timestamp, "attributes": plain(e.attributes or {})} for e in events]
                )
                if events
                else None,
                encode_json(
                    [
                        {
                            "trace_id": f"{link.context.trace_id:032x}",
                            "span_id": f"{link.context.span_id:016x}",
                            "attributes": plain(link.attributes or {}),
                        }
                        for link in links
                    ]
                )
                if links
                else None,
            )
        )
        if find is not None and (model is not None or operation is not None):
            # SpanRollups.count inlined (see there); attributes the span's shape lacks are not looked up. Floats
            # are compared with floats and the status by identity (``_STATUS`` holds one "ERROR"): the mixed
            # and the None == str comparisons cost 0.1 us a span.
            error_type = dget(attributes, error_key) if has_error_type else None
            if error_type is None:
                error_type = other_error if status_code is error_status else ""
            elif error_type.__class__ is not str:
                error_type = str(error_type)
            if not bucket_start <= start < bucket_end:
                bucket_start = start - start % 10_000_000_000
                bucket_end = bucket_start + 10_000_000_000
            key = (bucket_start, service, model, operation, error_type)  # None model / operation: "" in rows()
            acc = find(key)
            if acc is None:
                acc = groups[key] = [0] * n_stored  # type: ignore[index]
            tokens = dget(attributes, input_key)
            if tokens.__class__ is int:
                acc[0] += tokens
            tokens = dget(attributes, output_key)
            if tokens.__class__ is int:
                acc[1] += tokens
            k = right(duration_bounds, duration)
            acc[duration_columns[k]] += duration_ones[k]
            count = count_one
            if has_ttft:
                value = dget(attributes, ttft_key)
                if (value.__class__ is float or value.__class__ is int) and 0.0 <= value < inf:
                    k = left(ttft_bounds, value)
                    acc[ttft_columns[k]] += ttft_ones[k]
                    count = count_and_ttft  # the TTFT count shares the span count's column
            acc[count_column] += count
            count = errors_one if error_type else 0
            if has_tpot:
                value = dget(attributes, tpot_key)
                if (value.__class__ is float or value.__class__ is int) and 0.0 <= value < inf:
                    k = left(tpot_bounds, value)
                    acc[tpot_columns[k]] += tpot_ones[k]
                    count += tpot_count_one  # the TPOT count shares the errors' column
            if count:
                acc[errors_column] += count
    return rows, resource_rows(used), list(shape_rows.values())
