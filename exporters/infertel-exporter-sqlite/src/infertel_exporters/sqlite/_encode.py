"""Turn SDK spans, metric points and log records into rows of the store's tables.

Pure Python on the exporter's thread, written for speed: one pre-built C JSON encoder, plain
tuples for ``executemany``, resource JSON computed once per resource object.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import (
    ExponentialHistogram,
    Gauge,
    Histogram,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.resources import Resource

from infertel_exporters.sqlite._compat import log_record_resource, plain_attributes
from infertel_exporters.sqlite._names import SERVICE_NAME


def _default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, list, set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    return str(value)


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False, default=_default)
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
if _c_make_encoder is not None:
    # JSONEncoder.encode builds a C encoder on every call; build it once (same output).
    _c_encode = _c_make_encoder(None, _default, json.encoder.encode_basestring, None, ":", ",", False, False, True)

    def encode_json(value: Any) -> str:
        """``value -> compact JSON text`` (tuples become arrays, unknown types ``str()``)."""
        if isinstance(value, str):
            return _encoder.encode(value)
        return "".join(_c_encode(value, 0))
else:  # pragma: no cover - interpreters without the C accelerator

    def encode_json(value: Any) -> str:
        """``value -> compact JSON text`` (tuples become arrays, unknown types ``str()``)."""
        return _encoder.encode(value)


METRIC_INSERT = (
    "INSERT INTO metric_points (name, unit, kind, temporality, monotonic, start_ns, time_ns, attributes,"
    " value, histogram, scope_name, resource_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
LOG_INSERT = (
    "INSERT INTO logs (time_ns, observed_ns, severity_number, severity_text, body, attributes, event_name,"
    " trace_id, span_id, trace_flags, scope_name, resource_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
RESOURCE_UPSERT = (
    "INSERT INTO resources (id, attributes, schema_url, last_seen_ns) VALUES (?,?,?,?)"
    " ON CONFLICT (id) DO UPDATE SET last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)"
)


def plain(attributes: Any) -> Any:
    """A JSON-encodable dict for an attributes mapping, without copying when possible."""
    inner = plain_attributes(attributes)  # BoundedAttributes keeps a plain dict (see _compat)
    if inner is not None:
        return inner
    if isinstance(attributes, dict):
        return attributes
    return dict(attributes)


def _mapping_json(attributes: Any) -> str:
    return encode_json(plain(attributes)) if attributes else "{}"


class ResourceCache:
    """``Resource -> (id, attributes JSON, schema_url)``, computed once per resource object.

    The id is a 63-bit hash of the resource's content, so every process writing one file
    agrees on it without a read. Bounded: cleared past 64 distinct objects.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Resource, int, str, str]] = {}
        self._json: dict[int, tuple[Any, str]] = {}
        self._services: dict[int, tuple[Resource, str]] = {}

    def service(self, resource: Resource) -> str:
        """The resource's ``service.name`` (``""`` when it has none)."""
        entry = self._services.get(id(resource))
        if entry is not None and entry[0] is resource:
            return entry[1]
        name = resource.attributes.get(SERVICE_NAME)
        text = "" if name is None else str(name)
        if len(self._services) >= 64:
            self._services.clear()
        self._services[id(resource)] = (resource, text)
        return text

    def service_by_id(self, rid: int) -> str:
        """``service.name`` of a resource this cache has seen, by id."""
        for resource, entry_id, _attributes, _schema in self._entries.values():
            if entry_id == rid:
                return self.service(resource)
        return ""

    def stable_json(self, value: Any) -> str:
        """JSON of an object the SDK reuses unchanged across collections, encoded once per object.

        The SDK hands out the same attributes dict (and bucket bounds) for a metric series at
        every collection and never mutates it; the entry holds the object, so its id is not reused.
        Bounded: cleared past 4096 objects.
        """
        entry = self._json.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
        text = encode_json(plain(value)) if isinstance(value, Mapping) else encode_json(value)
        if len(self._json) >= 4096:
            self._json.clear()
        self._json[id(value)] = (value, text)
        return text

    def get(self, resource: Resource) -> tuple[int, str, str]:
        """The resource's ``(id, attributes JSON, schema_url)``."""
        entry = self._entries.get(id(resource))
        if entry is not None and entry[0] is resource:
            return entry[1], entry[2], entry[3]
        attributes = encode_json(dict(sorted(resource.attributes.items())))
        schema_url = resource.schema_url or ""
        digest = hashlib.blake2b(f"{attributes}\0{schema_url}".encode(), digest_size=8).digest()
        rid = int.from_bytes(digest, "big", signed=True)
        if len(self._entries) >= 64:
            self._entries.clear()
        self._entries[id(resource)] = (resource, rid, attributes, schema_url)
        return rid, attributes, schema_url


def _num(value: float) -> str:
    """JSON of a number (``NaN`` / ``Infinity`` as Python's json module writes them)."""
    if value.__class__ is int:
        return str(value)
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def resource_rows(used: dict[int, tuple[str, str]]) -> list[tuple[int, str, str, int]]:
    now = time.time_ns()
    return [(rid, attributes, schema_url, now) for rid, (attributes, schema_url) in used.items()]


def metric_rows(
    data: MetricsData, cache: ResourceCache, histograms: dict[int, Any] | None = None
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows for ``METRIC_INSERT`` and ``RESOURCE_UPSERT``; one row per data point.

    ``histograms`` (optional) receives row index -> (bounds JSON, counts, sum, count) of the
    explicit-bucket histogram rows, for the rollups.
    """
    rows: list[tuple[Any, ...]] = []
    used: dict[int, tuple[str, str]] = {}
    append = rows.append
    stable = cache.stable_json
    for resource_metrics in data.resource_metrics:
        rid, resource_json, schema_url = cache.get(resource_metrics.resource)
        used[rid] = (resource_json, schema_url)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope.name if scope_metrics.scope is not None else None
            for metric in scope_metrics.metrics:
                name = metric.name
                unit = metric.unit or None
                values = metric.data
                if isinstance(values, (Sum, Gauge)):
                    if isinstance(values, Sum):
                        kind = "sum"
                        temporality: str | None = values.aggregation_temporality.name.lower()
                        monotonic: int | None = int(values.is_monotonic)
                    else:
                        kind, temporality, monotonic = "gauge", None, None
                    for point in values.data_points:
                        append(
                            (
                                name, unit, kind, temporality, monotonic, point.start_time_unix_nano,
                                point.time_unix_nano, stable(point.attributes) if point.attributes else "{}",
                                point.value, None, scope, rid,
                            )
                        )  # fmt: skip
                elif isinstance(values, Histogram):
                    temporality = values.aggregation_temporality.name.lower()
                    for hpoint in values.data_points:
                        # Assembled by hand: the bounds are the same object at every collection.
                        bounds_json = stable(hpoint.explicit_bounds)
                        if histograms is not None:
                            histograms[len(rows)] = (bounds_json, hpoint.bucket_counts, hpoint.sum, hpoint.count)
                        histogram = (
                            f'{{"bounds":{bounds_json},"counts":{encode_json(hpoint.bucket_counts)},'
                            f'"sum":{_num(hpoint.sum)},"count":{hpoint.count},"min":{_num(hpoint.min)},'
                            f'"max":{_num(hpoint.max)}}}'
                        )
                        append(
                            (
                                name, unit, "histogram", temporality, None, hpoint.start_time_unix_nano,
                                hpoint.time_unix_nano, stable(hpoint.attributes) if hpoint.attributes else "{}",
                                None, histogram, scope, rid,
                            )
                        )  # fmt: skip
                elif isinstance(values, ExponentialHistogram):
                    temporality = values.aggregation_temporality.name.lower()
                    for epoint in values.data_points:
                        histogram = encode_json(
                            {
                                "scale": epoint.scale,
                                "zero_count": epoint.zero_count,
                                "positive": {
                                    "offset": epoint.positive.offset,
                                    "counts": list(epoint.positive.bucket_counts),
                                },
                                "negative": {
                                    "offset": epoint.negative.offset,
                                    "counts": list(epoint.negative.bucket_counts),
                                },
                                "sum": epoint.sum,
                                "count": epoint.count,
                                "min": epoint.min,
                                "max": epoint.max,
                            }
                        )
                        append(
                            (
                                name, unit, "exponential_histogram", temporality, None, epoint.start_time_unix_nano,
                                epoint.time_unix_nano, _mapping_json(epoint.attributes), None, histogram, scope, rid,
                            )
                        )  # fmt: skip
    return rows, resource_rows(used)


def log_rows(records: Sequence[Any], cache: ResourceCache) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows for ``LOG_INSERT`` and ``RESOURCE_UPSERT`` from SDK ``ReadableLogRecord`` objects."""
    rows: list[tuple[Any, ...]] = []
    used: dict[int, tuple[str, str]] = {}
    for record in records:
        rid, resource_json, schema_url = cache.get(log_record_resource(record))
        used[rid] = (resource_json, schema_url)
        log = record.log_record
        scope = record.instrumentation_scope
        severity = log.severity_number
        observed = log.observed_timestamp
        rows.append(
            (
                log.timestamp or observed or time.time_ns(),
                observed,
                severity.value if severity is not None else None,
                log.severity_text,
                None if log.body is None else encode_json(log.body),
                _mapping_json(log.attributes),
                log.event_name or None,
                log.trace_id.to_bytes(16, "big") if log.trace_id else None,
                log.span_id.to_bytes(8, "big") if log.span_id else None,
                int(log.trace_flags) if log.trace_flags is not None else None,
                scope.name if scope is not None else None,
                rid,
            )
        )
    return rows, resource_rows(used)
