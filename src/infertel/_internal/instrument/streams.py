"""Generator and async-generator proxies that time a streamed response.

The span of a stream ends exactly once, when the stream is exhausted (``exhausted``), closed
with ``close()``/``aclose()`` or released by its consumer after a ``break`` (``closed``), garbage
collected unfinished or never read (``abandoned``), raises (``error``, status ERROR) or is
cancelled (``cancelled``, status ERROR); ``infertel.stream.end_reason`` says which. Status stays
UNSET for the first three.

The span's context is never left attached across a ``yield``: a sync generator's body runs
in a private ``contextvars.Context`` holding the span (``Context.run`` per step, nothing to
detach), an async generator's body runs with the span attached and detached within each
``__anext__``/``asend``/``athrow`` of the consuming task. A stream can therefore be consumed
in another thread or task than the one that created it without "Failed to detach context".
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import sys
from collections.abc import AsyncGenerator, Generator
from typing import Any

from opentelemetry import context as otel_context

from infertel import semconv
from infertel._internal.errors import handle_internal_errors
from infertel._internal.instrument.context import context_of
from infertel._internal.instrument.invocation import _PLAIN_CHUNKS, Inference

_collecting = False


def _gc_phase(phase: str, info: dict[str, int]) -> None:
    global _collecting
    _collecting = phase == "start"


gc.callbacks.append(_gc_phase)


def _release_reason(inv: Inference) -> str:
    """How an unfinished stream that is being freed ended.

    Freed as soon as its consumer let go of it (``for ...: break``, a function returning) after
    taking chunks: ``closed``, as a generator would be. Freed by the cyclic garbage collector, or
    never read: ``abandoned``.
    """
    if _collecting or not (inv._chunks or inv._fast_chunks):
        return semconv.STREAM_END_ABANDONED
    return semconv.STREAM_END_CLOSED


def _end_with(inv: Inference, exc: BaseException) -> None:
    with handle_internal_errors:
        if inv._ended:
            return
        if isinstance(exc, GeneratorExit):
            inv._end_unguarded(semconv.STREAM_END_CLOSED)
        elif isinstance(exc, asyncio.CancelledError):
            inv._on_error(exc)
            inv._end_unguarded(semconv.STREAM_END_CANCELLED)
        else:
            inv._on_error(exc)
            inv._end_unguarded(semconv.STREAM_END_ERROR)


def _end(inv: Inference, reason: str) -> None:
    with handle_internal_errors:
        inv._end_unguarded(reason)


def _internal(exc: Exception) -> None:
    """The ``handle_internal_errors`` policy, for per-chunk code where a ``with`` block costs too much."""
    if not handle_internal_errors.__exit__(type(exc), exc, exc.__traceback__):
        raise exc


class SyncStream(Generator[Any, Any, Any]):
    """A generator proxy: same values, ``send``/``throw``/``close`` forwarded, timed span."""

    __slots__ = ("_gen", "_inv", "_run", "_next", "_fast")

    def __init__(self, gen: Generator[Any, Any, Any], inv: Inference) -> None:
        self._gen = gen
        self._inv = inv
        ctx = contextvars.copy_context()
        # Attached inside the private context only; that context is dropped with the stream,
        # so there is no token to detach.
        ctx.run(otel_context.attach, context_of(inv))
        self._run = ctx.run
        self._next = gen.__next__
        self._fast = False

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> Any:
        try:
            chunk = self._run(self._next)
        except StopIteration:
            _end(self._inv, semconv.STREAM_END_EXHAUSTED)
            raise
        except BaseException as exc:
            _end_with(self._inv, exc)
            raise
        if self._fast and type(chunk) in _PLAIN_CHUNKS:
            # After the first chunk, with nothing but a count to keep, skip the general path.
            self._inv._fast_chunks += 1
            return chunk
        try:
            self._fast = self._inv._on_chunk(chunk)
        except Exception as exc:
            _internal(exc)
        return chunk

    def send(self, value: Any) -> Any:
        """Forward ``send`` to the generator."""
        try:
            chunk = self._run(self._gen.send, value)
        except StopIteration:
            _end(self._inv, semconv.STREAM_END_EXHAUSTED)
            raise
        except BaseException as exc:
            _end_with(self._inv, exc)
            raise
        try:
            self._inv._on_chunk(chunk)
        except Exception as exc:
            _internal(exc)
        return chunk

    def throw(self, *args: Any) -> Any:
        """Forward ``throw`` to the generator (same arguments)."""
        try:
            chunk = self._run(self._gen.throw, *args)
        except StopIteration:
            _end(self._inv, semconv.STREAM_END_EXHAUSTED)
            raise
        except BaseException as exc:
            _end_with(self._inv, exc)
            raise
        try:
            self._inv._on_chunk(chunk)
        except Exception as exc:
            _internal(exc)
        return chunk

    def close(self) -> None:
        """Close the generator; the span ends as ``closed`` unless it already ended."""
        try:
            self._run(self._gen.close)
        except BaseException as exc:
            _end_with(self._inv, exc)
            raise
        _end(self._inv, semconv.STREAM_END_CLOSED)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._gen, name)

    def __del__(self) -> None:
        inv = getattr(self, "_inv", None)
        if inv is not None and not inv._ended and not sys.is_finalizing():
            _end(inv, _release_reason(inv))


class AsyncStream(AsyncGenerator[Any, Any]):
    """An async-generator proxy: same values, ``asend``/``athrow``/``aclose`` forwarded, timed span."""

    __slots__ = ("_agen", "_inv", "_ctx")

    def __init__(self, agen: AsyncGenerator[Any, Any], inv: Inference) -> None:
        self._agen = agen
        self._inv = inv
        self._ctx = context_of(inv)

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        token = otel_context.attach(self._ctx)
        try:
            chunk = await self._agen.__anext__()
        except StopAsyncIteration:
            _end(self._inv, semconv.STREAM_END_EXHAUSTED)
            raise
        except BaseException as exc:
            _end_with(self._inv, exc)
            raise
        finally:
            otel_context.detach(token)
        try:
            self._inv._on_chunk(chunk)
        except Exception as exc:
            _internal(exc)
        return chunk

    async def asend(self, value: Any) -> Any:
        """Forward ``asend`` to the async generator."""
        token = otel_context.attach(self._ctx)
        try:
            chunk = await self._agen.asend(value)
        except StopAsyncIteration:
            _end(self._inv, semconv.STREAM_END_EXHAUSTED)
            raise
        except BaseException as exc:
            _end_with(self._inv, exc)
            raise
        finally:
            otel_context.detach(token)
        try:
            self._inv._on_chunk(chunk)
        except Exception as exc:
            _internal(exc)
        return chunk

    async def athrow(self, *args: Any) -> Any:
        """Forward ``athrow`` to the async generator (same arguments)."""
        token = otel_context.attach(self._ctx)
        try:
            chunk = await self._agen.athrow(*args)
        except StopAsyncIteration:
            _end(self._inv, semconv.STREAM_END_EXHAUSTED)
            raise
        except BaseException as exc:
            _end_with(self._inv, exc)
            raise
        finally:
            otel_context.detach(token)
        try:
            self._inv._on_chunk(chunk)
        except Exception as exc:
            _internal(exc)
        return chunk

    async def aclose(self) -> None:
        """Close the async generator; the span ends as ``closed`` unless it already ended."""
        token = otel_context.attach(self._ctx)
        try:
            await self._agen.aclose()
        except BaseException as exc:
            _end_with(self._inv, exc)
            raise
        finally:
            otel_context.detach(token)
        _end(self._inv, semconv.STREAM_END_CLOSED)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._agen, name)

    def __del__(self) -> None:
        inv = getattr(self, "_inv", None)
        if inv is not None and not inv._ended and not sys.is_finalizing():
            _end(inv, _release_reason(inv))
