"""Transparent proxies over openai ``Stream`` / ``AsyncStream`` that end the span exactly once.

The proxies keep the stream's whole protocol (iteration, context manager, ``close()``,
``response`` and every other attribute, ``isinstance`` checks) and end the invocation when the
stream is exhausted, closed, fails, is cancelled, or is garbage-collected unfinished.

A proxy freed unfinished is finalized wherever CPython frees it, possibly in a garbage collection
on a thread that holds a lock the span's end needs; its finalizer therefore only hands the
invocation to infertel (``release_stream``: no lock, the release time kept), whose background
thread ends the span. A stream still open at ``infertel.shutdown()`` (also at exit and on
SIGTERM) is ended there with ``infertel.stream.end_reason="shutdown"``.
"""

from __future__ import annotations

import asyncio
import weakref
from types import TracebackType
from typing import Any

import wrapt

from infertel import handle_internal_errors, instrumentation, semconv
from infertel_instrumentation.openai._call import _Call


def _end(call: _Call, exc: BaseException | None, reason: str) -> None:
    with handle_internal_errors:
        call.end(exc, stream_end_reason=reason)


def _chunk(call: _Call, chunk: Any) -> None:
    with handle_internal_errors:
        call.record_chunk(chunk)


class _BaseStreamProxy(wrapt.ObjectProxy):
    def __init__(self, wrapped: Any, call: _Call) -> None:
        super().__init__(wrapped)
        self._self_call = call
        call.track()
        # The user drops the stream unfinished: a lock-free hand-over (holds no reference to the proxy).
        finalizer = weakref.finalize(
            self, instrumentation.release_stream, call.invocation, semconv.STREAM_END_ABANDONED
        )
        finalizer.atexit = False  # still open at exit: shutdown() ends it, with end reason "shutdown"
        self._self_finalizer = finalizer

    def _self_end(self, exc: BaseException | None, reason: str) -> None:
        self._self_finalizer.detach()
        _end(self._self_call, exc, reason)


class StreamProxy(_BaseStreamProxy):
    """Proxy of a synchronous ``openai.Stream``."""

    def __iter__(self) -> StreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self.__wrapped__)
        except StopIteration:
            self._self_end(None, semconv.STREAM_END_EXHAUSTED)
            raise
        except Exception as exc:
            self._self_end(exc, semconv.STREAM_END_ERROR)
            raise
        _chunk(self._self_call, chunk)
        return chunk

    def __enter__(self) -> StreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_end(None, semconv.STREAM_END_CLOSED)

    def close(self) -> None:
        """Close the response and end the span (reason ``closed`` unless it already ended)."""
        try:
            self.__wrapped__.close()
        finally:
            self._self_end(None, semconv.STREAM_END_CLOSED)


class AsyncStreamProxy(_BaseStreamProxy):
    """Proxy of an ``openai.AsyncStream``."""

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_end(None, semconv.STREAM_END_EXHAUSTED)
            raise
        except asyncio.CancelledError as exc:
            self._self_end(exc, semconv.STREAM_END_CANCELLED)
            raise
        except Exception as exc:
            self._self_end(exc, semconv.STREAM_END_ERROR)
            raise
        _chunk(self._self_call, chunk)
        return chunk

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_end(None, semconv.STREAM_END_CLOSED)

    async def close(self) -> None:
        """Close the response and end the span (reason ``closed`` unless it already ended)."""
        try:
            await self.__wrapped__.close()
        finally:
            self._self_end(None, semconv.STREAM_END_CLOSED)

    async def aclose(self) -> None:
        """Alias of :meth:`close`, as on ``AsyncStream``."""
        await self.close()
