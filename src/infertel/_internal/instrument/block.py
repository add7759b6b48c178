"""``infertel.inference(...)``: the context manager form of ``@observe`` (``with`` and ``async with``)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import INVALID_SPAN

from infertel import semconv
from infertel._internal.errors import handle_internal_errors
from infertel._internal.instrument.context import context_of
from infertel._internal.instrument.invocation import Inference, start
from infertel._internal.instrument.site import Binding, Site

_NO_BINDING = Binding(True, None, None, False, 0)


class InferenceBlock:
    """Context manager returned by :func:`inference`; ``__enter__`` gives the :class:`Inference`.

    Not reentrant: each ``inference(...)`` call makes a fresh block with a fresh timer.
    """

    __slots__ = ("_site", "_inv", "_token")

    def __init__(self, site: Site) -> None:
        self._site = site
        self._inv: Inference | None = None
        self._token: Any = None

    def __enter__(self) -> Inference:
        inv = None
        with handle_internal_errors:
            binding = self._site.binding()
            if not binding.disabled:
                inv = start(self._site, binding)
                self._token = otel_context.attach(context_of(inv))
        if inv is None:
            # Disabled (or infertel failed): a recording-free invocation, so user code still works.
            inv = Inference(self._site, _NO_BINDING, INVALID_SPAN)
            inv._ended = True
        self._inv = inv
        return inv

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        token, self._token = self._token, None
        if token is not None:
            otel_context.detach(token)
        inv = self._inv
        if inv is None or inv._ended:
            return
        with handle_internal_errors:
            if exc is None:
                inv._end_unguarded(semconv.STREAM_END_EXHAUSTED if inv._stream else None)
            else:
                inv._on_error(exc)
                # asyncio is not imported here (about 20 ms of `import infertel`): a CancelledError exists only
                # once the application imported it.
                aio = sys.modules.get("asyncio")
                cancelled = aio is not None and isinstance(exc, aio.CancelledError)
                reason = semconv.STREAM_END_CANCELLED if cancelled else semconv.STREAM_END_ERROR
                inv._end_unguarded(reason if inv._stream else None)

    async def __aenter__(self) -> Inference:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def inference(
    *,
    model: str,
    operation: str = "chat",
    provider: str | None = None,
    kind: str = "internal",
    server_address: str | None = None,
    server_port: int | None = None,
    request: Mapping[str, Any] | None = None,
    name: str | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
) -> InferenceBlock:
    """Trace a block of code as one inference call (``with`` or ``async with``).

    Same span, attributes and metrics as :func:`infertel.observe`; token counts and chunks are
    reported on the :class:`Inference` the block gives.

    Raises:
        ValueError: An option is invalid (the message names it and what is accepted).

    Example:
        >>> import infertel
        >>> with infertel.inference(model="llama-3-8b", operation="chat") as inv:
        ...     inv.set_input_tokens(12)
        ...     for token in ["Hel", "lo"]:
        ...         inv.record_chunk(token)
    """
    site = Site(
        model=model,
        operation=operation,
        provider=provider,
        kind=kind,
        server_address=server_address,
        server_port=server_port,
        request=request,
        usage=None,
        name=name,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        logger_provider=logger_provider,
    )
    return InferenceBlock(site)
