"""The stream hand-off for instrumentations that drive an :class:`~infertel.Inference` by hand.

An instrumentation that wraps a library's stream object (a proxy over ``openai.Stream``) ends
the span itself when the stream is exhausted, closed or fails. Two cases it cannot handle alone:

* the stream is garbage-collected unfinished: its finalizer runs wherever CPython frees it,
  possibly in a garbage collection on a thread that holds a lock the span's end needs (a metric
  aggregator's, a span processor's), so the finalizer must not end the span;
* the stream is still open when ``infertel.shutdown()`` runs (also at exit and on SIGTERM).

:func:`track_stream` registers the stream's inference with infertel's stream registry (the one
``@observe`` streams use): ``shutdown()`` ends it with ``infertel.stream.end_reason="shutdown"``.
The finalizer calls :func:`release_stream`, which only hands the inference over to a background
thread (one lock-free queue put) that ends the span, at the time of the release. The owner's own
end paths call :func:`claim_stream` first: exactly one of owner, background thread and shutdown
ends the span.

Threading: :func:`track_stream` and :func:`claim_stream` are called on the application's threads
(one dictionary store / pop each, no lock); :func:`release_stream` is safe in any finalizer.
``finish`` callbacks run on infertel's background thread or in ``shutdown()``; an exception they
raise is logged once and the span still ends.
"""

from __future__ import annotations

from collections.abc import Callable

from infertel import semconv
from infertel._internal.instrument import reaper
from infertel._internal.instrument.invocation import Inference


def track_stream(inference: Inference, *, finish: Callable[[str], None] | None = None) -> None:
    """Register a stream whose span the caller ends: shutdown ends it, a finalizer may release it.

    Args:
        inference: The stream's invocation (from ``infertel.inference(...).__enter__()``).
        finish: Called with the end reason right before infertel's background thread or
            ``shutdown()`` ends the span (not when the caller ends it): sets the instrumentation's
            last attributes (output messages, finish reasons). Must not block.

    Example:
        >>> import infertel
        >>> from infertel.instrumentation import claim_stream, track_stream
        >>> with infertel.inference(model="m", kind="client") as inv:
        ...     track_stream(inv, finish=lambda reason: inv.set_attribute("app.done", reason))
        ...     if claim_stream(inv):  # the stream was exhausted: the caller ends its span
        ...         inv.end("exhausted")
    """
    inference._stream = True  # a stream even before its first chunk (chunk count and end reason on its span)
    reaper.track(inference, finish)


def claim_stream(inference: Inference) -> bool:
    """Take the right to end a tracked stream's span; ``False`` when it was ended or released already.

    Call it first in every end path of the stream (exhausted, closed, failed); end the span only
    when it returns ``True``. A stream never tracked is never claimed (``False``).

    Example:
        >>> from infertel.instrumentation import claim_stream
        >>> def on_exhausted(inv):
        ...     if claim_stream(inv):
        ...         inv.end("exhausted")
    """
    return reaper.claim(inference)


def release_stream(inference: Inference, reason: str = semconv.STREAM_END_ABANDONED) -> None:
    """Hand a tracked stream let go unfinished to infertel's background thread, which ends its span.

    Safe in a finalizer (``weakref.finalize``, ``__del__``): takes no lock, records the release
    time (the span ends then, not when the background thread gets to it) and returns at once.
    Nothing happens if the span was claimed already.

    Example:
        >>> import weakref
        >>> from infertel.instrumentation import release_stream
        >>> class StreamProxy:
        ...     def __init__(self, inv):
        ...         self._finalizer = weakref.finalize(self, release_stream, inv)
        ...         self._finalizer.atexit = False  # at exit, shutdown() ends it ("shutdown")
    """
    reaper.release(inference, reason)
