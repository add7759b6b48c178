"""Ending the spans of streams that were let go unfinished, and of streams still open at shutdown.

A stream released by its consumer (``for ...: break``), never read, or freed by the cyclic
garbage collector is finalized wherever CPython happens to free it: possibly inside a garbage
collection triggered on a thread that holds a metric aggregator's or a span processor's lock.
Ending the span there (``span.end()``, processors, metric recording) could wait on that very
lock and hang the thread. So a finalizer only *hands* the stream over here with
``SimpleQueue.put_nowait`` (reentrant, takes no Python-level lock) and a small daemon thread,
the reaper, ends the span. The span's end time and duration are those of the release, not of
the reaper's turn.

Every stream registers here when it starts (:func:`track`) and leaves when its span ends
(:func:`claim`): ``shutdown()`` ends what is still registered with
``infertel.stream.end_reason="shutdown"`` (:func:`end_open`), so a stream still referenced at
exit is not lost. The registry also makes "exactly once" hold across threads: only the caller
whose :func:`claim` removes the stream ends its span (``dict.pop`` is atomic).

Threading: :func:`track` and :func:`claim` run on the application's threads (one dict store /
pop each); :func:`release` may run in any finalizer; everything else runs on the reaper thread
or in ``shutdown()``. After ``fork()`` the child forgets the parent's streams (their spans are
the parent's to end) and starts its own reaper on its first stream (:func:`reset_after_fork`).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any

from infertel import semconv
from infertel._internal.errors import log_internal_error, reraise_enabled
from infertel._internal.instrument.invocation import Inference

_logger = logging.getLogger(__name__)

_perf_ns = time.perf_counter_ns

# id(inv) -> inv for every stream whose span has not ended. Strong references to the Inference
# only (it does not reference the stream proxy, so the proxy can still be freed).
_open: dict[int, Inference] = {}
# id(inv) -> what an instrumentation runs right before the reaper or shutdown ends that span
# (its last attributes); only for streams registered through ``infertel.instrumentation.track_stream``.
_finishers: dict[int, Callable[[str], None]] = {}
# (inv, end reason, exception or None, perf_counter_ns at release); or a threading.Event marker.
_queue: SimpleQueue[Any] = SimpleQueue()
_thread: threading.Thread | None = None
_start_lock = threading.Lock()


def track(inv: Inference, finish: Callable[[str], None] | None = None) -> None:
    """Register the stream of ``inv`` (its span started) and make sure the reaper runs.

    ``finish(reason)`` runs before the reaper or shutdown ends the span (not when its owner does).
    """
    if finish is not None:
        _finishers[id(inv)] = finish
    _open[id(inv)] = inv
    if _thread is None:
        _start()


def claim(inv: Inference) -> bool:
    """Take the right to end the span of ``inv``; ``False`` if someone else took it already."""
    if _open.pop(id(inv), None) is not inv:
        return False
    if _finishers:
        _finishers.pop(id(inv), None)
    return True


def release(inv: Inference, reason: str, exc: BaseException | None = None) -> None:
    """Hand ``inv`` over to the reaper, to end with ``reason`` (safe in a finalizer: one lock-free put).

    With ``exc``, the span records it and its status is ERROR (the generator's ``close()`` raised).
    """
    if not sys.is_finalizing():  # the reaper is gone and nothing could be exported anyway
        _queue.put_nowait((inv, reason, exc, _perf_ns()))


def pending() -> int:
    """Streams whose span has not ended yet (registered, or handed over and not yet reaped)."""
    return len(_open)


def _start() -> None:
    global _thread
    with _start_lock:
        if _thread is not None:
            return
        thread = threading.Thread(target=_run, args=(_queue,), name="infertel-stream-reaper", daemon=True)
        thread.start()
        _thread = thread


def _run(queue: SimpleQueue[Any]) -> None:
    while True:
        _handle(queue.get())


def _handle(item: Any) -> None:
    if isinstance(item, threading.Event):
        item.set()
        return
    inv, reason, exc, released_ns = item
    try:
        _finish(inv, reason, exc, released_ns)
    except Exception as error:  # the reaper must survive whatever one span does
        _report(error)


def _finish(inv: Inference, reason: str, exc: BaseException | None, released_ns: int | None) -> None:
    finish = _finishers.get(id(inv)) if _finishers else None
    if not claim(inv) or inv._ended:
        return
    if exc is not None and not isinstance(exc, GeneratorExit):
        inv._on_error(exc)
        reason = semconv.STREAM_END_ERROR
    if finish is not None:
        try:
            finish(reason)
        except Exception as error:  # the span still ends, without the instrumentation's last attributes
            _report(error)
    inv._end_unguarded(reason, released_ns)


def _report(error: Exception) -> None:
    if reraise_enabled():
        # The test suite's switch: surface the bug (pytest fails the test) without killing the reaper.
        threading.excepthook(
            threading.ExceptHookArgs((type(error), error, error.__traceback__, threading.current_thread()))
        )
        return
    log_internal_error(error)


def wait_reaped(deadline: float) -> bool:
    """Wait until everything handed over before this call has been ended (by ``deadline``, monotonic).

    Ends the handed-over streams on the calling thread if the reaper is not running or does not
    get there in time. Returns ``False`` if some could not be ended by the deadline.
    """
    marker = threading.Event()
    _queue.put_nowait(marker)
    thread = _thread
    if thread is not None and thread.is_alive():
        # Half the time for the reaper; then whatever is left is ended here.
        marker.wait(max(0.0, (deadline - time.monotonic()) / 2))
    while not marker.is_set():
        if time.monotonic() > deadline:
            return False
        try:
            item = _queue.get_nowait()
        except Empty:
            # The reaper took the marker and is finishing the items before it.
            marker.wait(max(0.0, min(0.01, deadline - time.monotonic())))
            continue
        _handle(item)
    return True


def end_open(reason: str, deadline: float) -> tuple[int, int]:
    """End every stream still open with ``reason``; returns (ended, left open at the deadline).

    Streams handed over to the reaper are ended first, with their own reason.
    """
    wait_reaped(deadline)
    ended = 0
    for inv in list(_open.values()):
        if time.monotonic() > deadline:
            break
        if inv._ended:  # ended by hand (``Inference.end()``) and not released yet
            claim(inv)
            continue
        try:
            _finish(inv, reason, None, None)
        except Exception as error:
            _report(error)
        ended += 1
    return ended, len(_open)


def reset_after_fork() -> None:
    """In a forked child (the at-fork hook of :mod:`infertel._internal.forking`): no streams, no reaper yet.

    The parent's open streams are the parent's to end: the child forgets them (their proxies, if
    the child frees them, are ignored) and starts its own reaper with its first stream.
    """
    global _queue, _thread, _start_lock
    _open.clear()
    _finishers.clear()
    _queue = SimpleQueue()
    _thread = None
    _start_lock = threading.Lock()
