"""The OpenTelemetry names this distribution resolves across the supported SDK releases (``>=1.37.0,<2``).

(Exporter distributions do not import infertel's private modules: this is the SQLite exporter's own
counterpart of ``infertel._internal.compat``.) ``opentelemetry.sdk._logs`` is the logs SDK's only
home in every supported release; 1.39 renamed ``LogExporter``/``LogExportResult`` to
``LogRecordExporter``/``LogRecordExportResult`` (the old names stay there as deprecated aliases, which
warn) and replaced ``LogData`` by ``ReadableLogRecord``, which carries the resource itself.
"""

from __future__ import annotations

from typing import Any

try:  # 1.39+
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
except ImportError:  # 1.37-1.38
    from opentelemetry.sdk._logs.export import (  # type: ignore[attr-defined,no-redef]
        LogExporter as LogRecordExporter,
    )
    from opentelemetry.sdk._logs.export import (  # type: ignore[attr-defined,no-redef]
        LogExportResult as LogRecordExportResult,
    )

__all__ = ["LogRecordExportResult", "LogRecordExporter", "log_record_resource"]


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
