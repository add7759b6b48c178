"""Exporting ``logging`` records, with trace and span ids, when the application asks for it.

The application's logging is its own: infertel never removes, replaces or reconfigures a handler
it did not add, and never attaches handlers to its own ``"infertel"`` logger, so without any
logging configuration infertel's warnings reach stderr through Python's last-resort handler, as
any library's do.

Exporting is opt-in (``configure(export_logs=True)`` or the standard
``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED=true``). Then infertel adds one handler to the
root logger: the upstream one from ``opentelemetry-instrumentation-logging`` (the SDK's own
``LoggingHandler`` is deprecated), which emits each record with the current context so the SDK
stamps the active span's ``trace_id``/``span_id`` on it. Any handler on the root logger would
silence Python's last-resort handler, so infertel's handler hands a record to it whenever no
other handler would have seen the record: what reached stderr before still does. A repeated
``configure()`` replaces infertel's handler, and none is added when another OpenTelemetry logging
handler is already there, so records are never doubled.
"""

from __future__ import annotations

import logging
from typing import Any

_logger = logging.getLogger(__name__)

# The OpenTelemetry SDK logs its own export failures; feeding those back into the log pipeline
# would make every failed export produce another record to export.
_SELF_LOGGERS = ("opentelemetry",)

_handler: logging.Handler | None = None


def _handled_elsewhere(record: logging.LogRecord, own: logging.Handler) -> bool:
    """Whether a handler other than ``own`` is on the record's path (``Logger.callHandlers``'s walk)."""
    # Look the logger up without creating one (a record may come from elsewhere, e.g. a socket listener).
    found = logging.Logger.manager.loggerDict.get(record.name)
    logger: logging.Logger | None = found if isinstance(found, logging.Logger) else logging.getLogger()
    while logger is not None:
        if any(h is not own for h in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return False


def _exporting_handler_class() -> Any:
    from infertel._internal.compat import logging_handler_class

    LoggingHandler = logging_handler_class()
    if LoggingHandler is None:
        return None

    class ExportingHandler(LoggingHandler):  # type: ignore[misc, valid-type]
        """The upstream ``LoggingHandler`` that leaves the console to the application.

        Threading: ``handle`` runs on the logging thread, like any handler's; it takes only the
        handler lock ``logging.Handler.handle`` takes.
        """

        def handle(self, record: logging.LogRecord) -> Any:
            result: Any = False
            if not record.name.startswith(_SELF_LOGGERS):
                result = super().handle(record)
            last_resort = logging.lastResort
            if last_resort is not None and record.levelno >= last_resort.level and not _handled_elsewhere(record, self):
                # Without this handler Python would have printed the record on stderr.
                last_resort.handle(record)
            return result

    return ExportingHandler


def _is_otel_handler(handler: logging.Handler) -> bool:
    # Either the SDK's (deprecated) handler or the instrumentation's one, both named LoggingHandler.
    return type(handler).__name__ == "LoggingHandler" and type(handler).__module__.startswith("opentelemetry.")


def attach(logger_provider: Any) -> logging.Handler | None:
    """Export root-logger records through ``logger_provider``; returns the handler infertel attached.

    Replaces the handler a previous call attached (and only that one). Returns ``None`` (and
    attaches nothing) when another OpenTelemetry logging handler is on the root logger or
    ``opentelemetry-instrumentation-logging`` is not installed.

    Example:
        >>> from opentelemetry.sdk._logs import LoggerProvider
        >>> handler = attach(LoggerProvider())
        >>> detach()
    """
    global _handler
    root = logging.getLogger()
    detach()
    if any(_is_otel_handler(h) for h in root.handlers):
        _logger.debug("infertel: an OpenTelemetry logging handler is already installed; not adding another")
        return None
    cls = _exporting_handler_class()
    if cls is None:
        _logger.warning(
            "infertel: opentelemetry-instrumentation-logging is not installed; log records are not exported"
        )
        return None
    handler = cls(logger_provider=logger_provider)
    root.addHandler(handler)
    _handler = handler
    return handler


def detach() -> None:
    """Remove the handler :func:`attach` added, if any (never another one)."""
    global _handler
    handler, _handler = _handler, None
    if handler is not None:
        logging.getLogger().removeHandler(handler)


def attached() -> logging.Handler | None:
    """The handler infertel attached, if any."""
    return _handler
