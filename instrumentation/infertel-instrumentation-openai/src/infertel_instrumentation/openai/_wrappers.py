"""wrapt wrappers of the openai resources' ``create`` methods (sync and async).

Each wrapper runs infertel's code inside ``handle_internal_errors``: if starting or finishing
the telemetry fails, the call goes on untouched (in production) and the user's result or
exception is returned or re-raised as the same object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from infertel import handle_internal_errors
from infertel_instrumentation.openai._call import _Call
from infertel_instrumentation.openai._stream import AsyncStreamProxy, StreamProxy

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def _start(
    operation: str,
    instance: Any,
    kwargs: dict[str, Any],
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
    logger_provider: Any = None,
) -> tuple[_Call | None, dict[str, Any]]:
    call: _Call | None = None
    call_kwargs = kwargs
    with handle_internal_errors:
        call = _Call(
            operation,
            instance,
            kwargs,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
        )
        call_kwargs = call.request_kwargs(kwargs)
    return call, call_kwargs


def _is_raw_response(result: Any) -> bool:
    # ``.with_raw_response`` / ``.with_streaming_response`` hand back an API response object.
    return hasattr(result, "http_response") and hasattr(result, "parse")


def _finish(call: _Call, result: Any, *, is_async: bool) -> Any:
    with handle_internal_errors:
        if call.stream:
            if _is_raw_response(result):
                # The body is the user's to read; it is not parsed here.
                call.end(None)
                return result
            return AsyncStreamProxy(result, call) if is_async else StreamProxy(result, call)
        try:
            if not _is_raw_response(result):
                call.record_response(result)
            elif type(result).__name__ == "LegacyAPIResponse":
                # parse() of the legacy response is cached: the user gets the same object later.
                call.record_response(result.parse())
        finally:
            call.end(None)
    return result


def _fail(call: _Call, exc: BaseException) -> None:
    with handle_internal_errors:
        call.end(exc)


def sync_wrapper(
    operation: str,
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
    logger_provider: Any = None,
) -> Wrapper:
    """A wrapt wrapper for a synchronous ``create`` of the given GenAI operation."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call, call_kwargs = _start(operation, instance, kwargs, tracer_provider, meter_provider, logger_provider)
        if call is None:
            return wrapped(*args, **kwargs)
        token = call.attach()
        try:
            result = wrapped(*args, **call_kwargs)
        except BaseException as exc:
            call.detach(token)
            _fail(call, exc)
            raise
        call.detach(token)
        return _finish(call, result, is_async=False)

    return wrapper


def async_wrapper(
    operation: str,
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
    logger_provider: Any = None,
) -> Wrapper:
    """A wrapt wrapper for an ``async def create`` of the given GenAI operation."""

    async def wrapper(
        wrapped: Callable[..., Awaitable[Any]], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        call, call_kwargs = _start(operation, instance, kwargs, tracer_provider, meter_provider, logger_provider)
        if call is None:
            return await wrapped(*args, **kwargs)
        token = call.attach()
        try:
            result = await wrapped(*args, **call_kwargs)
        except BaseException as exc:
            call.detach(token)
            _fail(call, exc)
            raise
        call.detach(token)
        return _finish(call, result, is_async=True)

    return wrapper
