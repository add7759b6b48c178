"""The OpenTelemetry names this distribution resolves across the supported SDK releases (``>=1.37.0,<2``).

(Exporter distributions do not import infertel's private modules: this is the SQLite exporter's own
counterpart of ``infertel._internal.compat``.) ``opentelemetry.sdk._logs`` is the logs SDK's only
home in every supported release; 1.39 renamed ``LogExporter``/``LogExportResult`` to
``LogRecordExporter``/``LogRecordExportResult`` (the old names stay there as deprecated aliases, which
warn) and replaced ``LogData`` by ``ReadableLogRecord``, which carries the resource itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the 1.39+ names
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
else:  # read newest first, so the deprecated 1.37-1.38 names are never touched where the new ones exist
    from opentelemetry.sdk._logs import export as _logs_export

    LogRecordExporter = getattr(_logs_export, "LogRecordExporter", None) or _logs_export.LogExporter
    LogRecordExportResult = getattr(_logs_export, "LogRecordExportResult", None) or _logs_export.LogExportResult

try:  # the key the SDK's own exporters set (and every instrumentation checks); 1.37-1.45
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as SUPPRESS_INSTRUMENTATION_KEY
except ImportError:  # the plain key contrib instrumentations also honour (this distribution does not
    # depend on opentelemetry-instrumentation, whose suppress_instrumentation() sets both)
    SUPPRESS_INSTRUMENTATION_KEY = "suppress_instrumentation"

__all__ = [
    "SUPPRESS_INSTRUMENTATION_KEY",
    "LogRecordExportResult",
    "LogRecordExporter",
    "log_record_resource",
    "plain_attributes",
    "span_collections",
]


def plain_attributes(attributes: Any) -> dict[str, Any] | None:
    """The plain dict inside the SDK's ``BoundedAttributes`` (its ``_dict``, 1.37-1.45), or None.

    Reading it skips the copy and the per-item lock of the public mapping; None (callers copy the
    public mapping) for any other mapping or a release without that member.

    Example:
        >>> from opentelemetry.attributes import BoundedAttributes
        >>> plain_attributes(BoundedAttributes(attributes={"k": 1}))
        {'k': 1}
    """
    inner = getattr(attributes, "_dict", None)
    return inner if isinstance(inner, dict) else None


def span_collections(span: Any) -> tuple[Any, Any, Any]:
    """``(attributes, events, links)`` of a span without the public properties' copies.

    The SDK's ``ReadableSpan`` keeps them in ``_attributes``, ``_events`` and ``_links`` (1.37-1.45);
    for a span of another shape, or a release without them, the public properties are used.
    """
    attributes = getattr(span, "_attributes", None)
    events = getattr(span, "_events", None)
    links = getattr(span, "_links", None)
    return (
        attributes if attributes is not None else (span.attributes or {}),
        events if events is not None else span.events,
        links if links is not None else span.links,
    )


def log_record_resource(record: Any) -> Any:
    """The resource of a log record as the SDK hands it to an exporter, in every supported release.

    Example:
        >>> log_record_resource(type("R", (), {"resource": "r"})())
        'r'
    """
    resource = getattr(record, "resource", None)  # 1.39+: ReadableLogRecord.resource
    if resource is None:  # 1.37-1.38: LogData.log_record.resource
        resource = getattr(record.log_record, "resource", None)
    return resource
