"""Log correlation: ``logging`` records exported through the LoggerProvider with trace and span ids.

The handler is the upstream one from ``opentelemetry-instrumentation-logging`` (the SDK's own
``LoggingHandler`` is deprecated). It emits each record with the current context, so the SDK stamps
the active span's ``trace_id``/``span_id`` on it. infertel attaches at most one handler to the root
logger: a repeated ``configure()`` replaces it, and none is added when an OpenTelemetry logging
handler is already there (``opentelemetry-instrument`` installs one), so records are never doubled.
"""

from __future__ import annotations

import logging
from typing import Any

_logger = logging.getLogger(__name__)

# The OpenTelemetry SDK logs its own export failures; feeding those back into the log pipeline
# would make every failed export produce another record to export.
_SELF_LOGGERS = ("opentelemetry",)

_handler: logging.Handler | None = None


class _NotOwnPipeline(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(_SELF_LOGGERS)


def _handler_class() -> Any:
    try:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
    except ImportError:
        return None
    return LoggingHandler


def _is_otel_handler(handler: logging.Handler) -> bool:
    # Either the SDK's (deprecated) handler or the instrumentation's one, both named LoggingHandler.
    return type(handler).__name__ == "LoggingHandler" and type(handler).__module__.startswith("opentelemetry.")


def attach(logger_provider: Any) -> logging.Handler | None:
    """Export root-logger records through ``logger_provider``; returns the handler infertel attached.

    Replaces the handler a previous call attached. Returns ``None`` (and attaches nothing) when
    another OpenTelemetry logging handler is on the root logger or the handler is not installed.

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
    cls = _handler_class()
    if cls is None:
        _logger.warning(
            "infertel: opentelemetry-instrumentation-logging is not installed; log records are not exported"
        )
        return None
    handler = cls(logger_provider=logger_provider)
    handler.addFilter(_NotOwnPipeline())
    root.addHandler(handler)
    _handler = handler
    return handler


def detach() -> None:
    """Remove the handler :func:`attach` added, if any."""
    global _handler
    handler, _handler = _handler, None
    if handler is not None:
        logging.getLogger().removeHandler(handler)


def attached() -> logging.Handler | None:
    """The handler infertel attached, if any."""
    return _handler
