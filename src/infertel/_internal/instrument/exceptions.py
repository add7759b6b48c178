"""The user's exception on a call's telemetry: ``error.type`` and the ``gen_ai.client.operation.exception`` event."""

from __future__ import annotations

import time
import traceback
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import Span, set_span_in_context

from infertel import semconv
from infertel._internal.compat import new_log_record
from infertel._internal.limits import bound_text


def exception_event(logger: Any, span: Span, exc: BaseException, kind: str, message: str) -> None:
    """Emit the ``gen_ai.client.operation.exception`` event (severity WARN) in ``span``'s context."""
    attributes = {
        semconv.EXCEPTION_TYPE: kind,
        semconv.EXCEPTION_STACKTRACE: bound_text(_stacktrace(exc), "exception stack trace"),
    }
    if message:
        attributes[semconv.EXCEPTION_MESSAGE] = message
    logger.emit(
        new_log_record(
            logger,
            timestamp=time.time_ns(),
            context=set_span_in_context(span),
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            event_name=semconv.GEN_AI_CLIENT_OPERATION_EXCEPTION,
            attributes=attributes,
        )
    )


def _stacktrace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def error_type(exc: BaseException) -> str:
    """``error.type`` of an exception: its qualified class name (``ValueError``, ``openai.APIError``)."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
