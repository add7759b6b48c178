"""The OpenTelemetry logs SDK's names across the supported releases (1.37 through the newest).

The logs SDK lives in ``opentelemetry.sdk._logs`` in every supported release: an underscore-named
module upstream, but its only home (the upstream docs import it from there), so it is the public
path, not a private member; likewise the OTLP log exporters in
``opentelemetry.exporter.otlp.proto.{grpc,http}._log_exporter`` and the logs API
(``LogRecord``, ``SeverityNumber``, ``get_logger_provider``) in ``opentelemetry._logs``. Some names
inside changed in 1.39 (``LogData`` -> ``ReadWriteLogRecord``/``ReadableLogRecord``,
``LogExporter`` -> ``LogRecordExporter``, ...): both spellings are resolved here, newest first, so
the deprecated aliases (which warn) are never touched where the new names exist. Import these
names from :mod:`infertel._internal.compat`, which re-exports them (the private members infertel
still reads are there, each behind a probe).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor

if TYPE_CHECKING:  # bound by __getattr__ below on first use (the 1.39+ names; 1.37-1.38 spell them differently)
    from opentelemetry.sdk._logs.export import (
        BatchLogRecordProcessor,
        ConsoleLogRecordExporter,
        InMemoryLogRecordExporter,
        LogRecordExporter,
        LogRecordExportResult,
        SimpleLogRecordProcessor,
    )

__all__ = [
    "BatchLogRecordProcessor",
    "ConsoleLogRecordExporter",
    "InMemoryLogRecordExporter",
    "LOGS_EXPORT_NAMES",
    "LogRecordExportResult",
    "LogRecordExporter",
    "LogRecordProcessor",
    "LoggerProvider",
    "ReadWriteLogRecord",
    "SimpleLogRecordProcessor",
    "log_record_resource",
    "logging_handler_class",
    "new_log_record",
]

# 1.39 replaced ``LogData`` by ``ReadWriteLogRecord``/``ReadableLogRecord`` and renamed
# ``LogExporter``/``LogExportResult``/``InMemoryLogExporter``/``ConsoleLogExporter`` to
# ``LogRecord*`` (the old names stay as deprecated aliases there, which warn). Probe: the import.

# (The names are read with getattr, newest first, so that the old, deprecated ones are never touched
# where the new ones exist, and the type checker sees the 1.39+ classes.)
if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadWriteLogRecord
else:
    from opentelemetry.sdk import _logs as _sdk_logs

    # 1.39+: the record a processor/exporter receives carries the resource itself;
    # 1.37-1.38: LogData(log_record, instrumentation_scope), the resource on log_record.
    ReadWriteLogRecord = getattr(_sdk_logs, "ReadWriteLogRecord", None) or _sdk_logs.LogData

# The log processors and exporters (``opentelemetry.sdk._logs.export``, about 1.5 ms to import) are
# resolved on first use by ``__getattr__`` below (and compat's): only configure() builds log pipelines, and
# ``from infertel import observe`` does not pay for them.
LOGS_EXPORT_NAMES = frozenset(
    {
        "BatchLogRecordProcessor",
        "ConsoleLogRecordExporter",
        "InMemoryLogRecordExporter",
        "LogRecordExportResult",
        "LogRecordExporter",
        "SimpleLogRecordProcessor",
    }
)


def _logs_export_names() -> dict[str, Any]:
    from opentelemetry.sdk._logs import export

    def newest(name: str, old_name: str) -> Any:  # the 1.39+ name, else the 1.37-1.38 one
        found = getattr(export, name, None)
        return found if found is not None else getattr(export, old_name)

    return {
        "BatchLogRecordProcessor": export.BatchLogRecordProcessor,
        "SimpleLogRecordProcessor": export.SimpleLogRecordProcessor,
        "ConsoleLogRecordExporter": newest("ConsoleLogRecordExporter", "ConsoleLogExporter"),
        "InMemoryLogRecordExporter": newest("InMemoryLogRecordExporter", "InMemoryLogExporter"),
        "LogRecordExporter": newest("LogRecordExporter", "LogExporter"),
        "LogRecordExportResult": newest("LogRecordExportResult", "LogExportResult"),
    }


def logging_handler_class() -> type | None:
    """The OpenTelemetry ``logging.Handler`` that emits records to a LoggerProvider, or None.

    Newer contrib releases ship it in ``opentelemetry-instrumentation-logging`` (and deprecate the
    SDK's); with contrib 0.58-era releases the SDK's own ``opentelemetry.sdk._logs.LoggingHandler``
    is the one. Probe: the import.

    Example:
        >>> logging_handler_class().__name__
        'LoggingHandler'
    """
    try:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
    except ImportError:
        import importlib.util

        if importlib.util.find_spec("opentelemetry.instrumentation.logging") is None:
            return None  # opentelemetry-instrumentation-logging is not installed
        from opentelemetry.sdk import _logs as sdk_logs

        return getattr(sdk_logs, "LoggingHandler")  # noqa: B009  (absent from the type stubs of 1.39+)
    return LoggingHandler


def log_record_resource(record: Any) -> Any:
    """The resource of an SDK log record as an exporter receives it (every supported release).

    Example:
        >>> from opentelemetry.sdk._logs import LoggerProvider
        >>> log_record_resource  # doctest: +ELLIPSIS
        <function log_record_resource at ...>
    """
    resource = getattr(record, "resource", None)  # 1.39+: ReadableLogRecord.resource
    if resource is None:  # 1.37-1.38: LogData.log_record.resource
        resource = getattr(record.log_record, "resource", None)
    return resource


def new_log_record(logger: Any, **fields: Any) -> Any:
    """A log record for ``logger.emit(...)``, built from keyword ``fields`` (``context=``, ``attributes=``...).

    The API's ``opentelemetry._logs.LogRecord`` everywhere, except on an SDK logger of 1.37-1.38:
    its ``emit`` converts an API record by passing ``trace_id``/``span_id`` to the SDK record, whose
    constructor then warns that this is deprecated (an upstream bug); the SDK's own ``LogRecord``
    (public there, with the logger's public ``resource``) is what it expects. Probe: the SDK module
    still exports ``LogRecord`` with a ``resource`` parameter (gone in 1.39).

    Example:
        >>> from opentelemetry._logs import SeverityNumber
        >>> new_log_record(None, severity_number=SeverityNumber.WARN).severity_number
        <SeverityNumber.WARN: 13>
    """
    resource = getattr(logger, "resource", None)
    if _SDK_LOG_RECORD is not None and resource is not None:
        return _SDK_LOG_RECORD(resource=resource, **fields)
    from opentelemetry._logs import LogRecord

    return LogRecord(**fields)


def _sdk_log_record() -> Any:
    import inspect

    from opentelemetry.sdk import _logs

    cls = getattr(_logs, "LogRecord", None)
    if cls is None:
        return None
    try:
        return cls if "resource" in inspect.signature(cls.__init__).parameters else None
    except (TypeError, ValueError):
        return None


_SDK_LOG_RECORD = _sdk_log_record()


def __getattr__(name: str) -> Any:
    if name in LOGS_EXPORT_NAMES:
        globals().update(_logs_export_names())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
