"""Generator and async-generator proxies that time a streamed response.

The span of a stream ends exactly once, when the stream is exhausted (``exhausted``), closed
with ``close()``/``aclose()`` or released by its consumer after a ``break`` (``closed``), garbage
collected unfinished or never read (``abandoned``), raises (``error``, status ERROR) or is
cancelled (``cancelled``, status ERROR), or is still open at ``shutdown()`` (``shutdown``);
``infertel.stream.end_reason`` says which. Status stays UNSET but for errors and cancellations.
A stream released or collected unfinished is finalized wherever CPython frees it, so its span
is ended by :mod:`~infertel._internal.instrument.reaper`'s thread, not in the finalizer.

The span's context is never left attached across a ``yield``: a sync generator's body runs
in a private ``contextvars.Context`` holding the span (``Context.run`` per step, nothing to
detach), an async generator's body runs with the span attached and detached within each
``__anext__``/``asend``/``athrow`` of the consuming task. A stream can therefore be consumed
in another thread or task than the one that created it without "Failed to detach context".
"""

from __future__ import annotations

import contextvars
import gc
import sys
import weakref
from collections.abc import AsyncGenerator, Generator
from typing import Any

from infertel import semconv
from infertel._internal.errors import handle_internal_errors
from infertel._internal.instrument import invocation, reaper
from infertel._internal.instrument.context import attach, context_of, detach
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
        if not reaper.claim(inv) or inv._ended:
            return
        if isinstance(exc, GeneratorExit):
            inv._end_unguarded(semconv.STREAM_END_CLOSED)
        # asyncio is not imported here (about 20 ms of `import infertel`): a CancelledError exists only once
        # the application imported it.
        elif (aio := sys.modules.get("asyncio")) is not None and isinstance(exc, aio.CancelledError):
            inv._on_error(exc)
            inv._end_unguarded(semconv.STREAM_END_CANCELLED)
        else:
            inv._on_error(exc)
            inv._end_unguarded(semconv.STREAM_END_ERROR)


def _end(inv: Inference, reason: str) -> None:
    try:
        if reaper.claim(inv):
            inv._end_unguarded(reason)
    except Exception as exc:
        _internal(exc)


def _internal(exc: Exception) -> None:
    """The ``handle_internal_errors`` policy, for per-chunk code where a ``with`` block costs too much."""
    if not handle_internal_errors.__exit__(type(exc), exc, exc.__traceback__):
        raise exc


def sync_stream(gen: Generator[Any, Any, Any], inv: Inference) -> Generator[Any, Any, Any]:
    """A generator proxy of ``gen`` (same values, ``send``/``throw``/``close``, return value) timing ``inv``.

    The proxy is a native generator (cheaper per chunk than a class with ``__next__``) that
    delegates by hand as ``yield from`` would (PEP 380), running every step of ``gen`` in a
    private context holding the span. It is advanced once here, to a point before ``gen`` is
    touched, so that ``close()``, ``throw()`` and ``send()`` on an unread stream reach ``gen``
    (as they would on the generator itself) and releasing an unread stream ends its span. Its
    ``__name__``/``__qualname__`` are ``gen``'s; ``gi_frame``, ``gi_running`` and
    ``inspect.getgeneratorstate`` describe the proxy (suspended from the start).

    ``close()`` and the proxy being freed both raise ``GeneratorExit`` in it; they are told apart
    by a weak reference to the proxy, which CPython clears before finalizing a generator.
    """
    ctx = contextvars.copy_context()
    # Attached inside the private context only; that context is dropped with the stream,
    # so there is no token to detach.
    ctx.run(attach, context_of(inv))
    me: list[Any] = []
    reaper.track(inv)
    proxy: Any = _proxy(gen, inv, ctx.run, me)
    me.append(weakref.ref(proxy))
    name = getattr(gen, "__name__", None)
    if isinstance(name, str):
        proxy.__name__ = name
        proxy.__qualname__ = getattr(gen, "__qualname__", name)
    next(proxy)
    return proxy


def _proxy(gen: Generator[Any, Any, Any], inv: Inference, run: Any, me: list[Any]) -> Generator[Any, Any, Any]:
    """The body of :func:`sync_stream`'s proxy; ``me[0]`` is a weak reference to the proxy itself.

    Per chunk: one ``Context.run`` of ``gen.send``, one type check and a local count. Only the
    first chunk of a type, and chunks that carry more than a count, take ``Inference._on_chunk``.
    """
    send = gen.send
    counting = inv._gaps is None and inv._text is None and inv._site.usage is None
    plain: type | None = None  # the chunk type that, once seen, only needs counting
    counted = 0  # chunks of type ``plain``, folded into ``inv`` when the stream ends
    thrown: BaseException | None = None
    chunk = sent = None  # the first yield is the priming point (see sync_stream)
    while True:
        try:
            sent = yield chunk
        except GeneratorExit:
            # close(), or the proxy being freed: then its weak reference is already dead.
            released = me[0]() is None
            inv._fast_chunks += counted
            counted = 0
            try:
                run(gen.close)
            except BaseException as exc:
                if released:  # a finalizer: no lock may be taken here, the reaper thread ends the span
                    reaper.release(inv, semconv.STREAM_END_ERROR, exc)
                else:
                    _end_with(inv, exc)
                raise
            if not released:
                _end(inv, semconv.STREAM_END_CLOSED)
            else:  # also when ended by hand: the reaper then only takes it off the registry
                reaper.release(inv, _release_reason(inv))
            raise
        except BaseException as exc:
            thrown = exc  # thrown into the inner generator below, outside this handler (no implicit chaining)
        else:
            try:
                chunk = run(send, sent)
            except StopIteration as stop:
                inv._fast_chunks += counted
                _end(inv, semconv.STREAM_END_EXHAUSTED)
                return stop.value
            except BaseException as exc:
                inv._fast_chunks += counted
                _end_with(inv, exc)
                raise
            if type(chunk) is plain:
                counted += 1
                continue
        if thrown is not None:
            try:
                chunk = run(gen.throw, thrown)
            except StopIteration as stop:
                inv._fast_chunks += counted
                _end(inv, semconv.STREAM_END_EXHAUSTED)
                return stop.value
            except BaseException as exc:
                inv._fast_chunks += counted
                _end_with(inv, exc)
                raise
            finally:
                thrown = None
            if type(chunk) is plain:
                counted += 1
                continue
        if counting and type(chunk) in _PLAIN_CHUNKS:
            # Inference._on_chunk's work for a plain chunk when nothing but a count is kept (on
            # ``inv`` itself, so that a later _on_chunk knows the first chunk has been seen).
            if not (counted or inv._chunks):
                inv._first_ns = invocation._perf_ns()  # looked up per stream: tests swap the clock
            inv._chunks += 1
            inv._counted += 1
            plain = type(chunk)
            continue
        try:
            if inv._on_chunk(chunk) and type(chunk) in _PLAIN_CHUNKS:
                plain = type(chunk)
        except Exception as exc:
            _internal(exc)


class AsyncStream(AsyncGenerator[Any, Any]):
    """An async-generator proxy: same values, ``asend``/``athrow``/``aclose`` forwarded, timed span."""

    __slots__ = ("_agen", "_inv", "_ctx")

    def __init__(self, agen: AsyncGenerator[Any, Any], inv: Inference) -> None:
        self._agen = agen
        self._inv = inv
        self._ctx = context_of(inv)
        reaper.track(inv)

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        token = attach(self._ctx)
        try:
            chunk = await self._agen.__anext__()
        except StopAsyncIteration:
            _end(self._inv, semconv.STREAM_END_EXHAUSTED)
            raise
        except BaseException as exc:
            _end_with(self._inv, exc)
            raise
        finally:
            detach(token)
        try:
            self._inv._on_chunk(chunk)
        except Exception as exc:
            _internal(exc)
        return chunk

    async def asend(self, value: Any) -> Any:
        """Forward ``asend`` to the async generator."""
        token = attach(self._ctx)
        try:
            chunk = await self._agen.asend(value)
        except StopAsyncIteration:
            _end(self._inv, semconv.STREAM_END_EXHAUSTED)
            raise
        except BaseException as exc:
            _end_with(self._inv, exc)
            raise
        finally:
            detach(token)
        try:
            self._inv._on_chunk(chunk)
        except Exception as exc:
            _internal(exc)
        return chunk

    async def athrow(self, *args: Any) -> Any:
        """Forward ``athrow`` to the async generator (same arguments)."""
        token = attach(self._ctx)
        try:
            chunk = await self._agen.athrow(*args)
        except StopAsyncIteration:
            _end(self._inv, semconv.STREAM_END_EXHAUSTED)
            raise
        except BaseException as exc:
            _end_with(self._inv, exc)
            raise
        finally:
            detach(token)
        try:
            self._inv._on_chunk(chunk)
        except Exception as exc:
            _internal(exc)
        return chunk

    async def aclose(self) -> None:
        """Close the async generator; the span ends as ``closed`` unless it already ended."""
        token = attach(self._ctx)
        try:
            await self._agen.aclose()
        except BaseException as exc:
            _end_with(self._inv, exc)
            raise
        finally:
            detach(token)
        _end(self._inv, semconv.STREAM_END_CLOSED)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._agen, name)

    def __del__(self) -> None:
        # A finalizer: no lock may be taken here, so the reaper thread ends the span.
        inv = getattr(self, "_inv", None)
        if inv is not None:  # also when ended by hand: the reaper then only takes it off the registry
            reaper.release(inv, _release_reason(inv))
