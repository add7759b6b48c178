"""One background thread that folds the ended-span buffers of every live :class:`InferenceStats`.

Folding a record into its series' sketches costs about a microsecond; done on the thread that
ends the span it would double the processor's share of the span's cost. This thread folds the
buffers instead, so ``on_end`` is an append. It looks at every buffer four times a second
and drains one that holds :data:`DRAIN_RECORDS` records, or whose oldest record has waited
:data:`MAX_WAIT_S` (a list) or :data:`MAX_WAIT_COMPACT_S` (the C buffer; :func:`max_wait_s`):
a fold costs a fixed part (the sketches' bucket boundaries, numpy's calls, the
series and slots) plus a part per record, so large batches cost less per span. Measured on Python
3.11 with numpy, in cache: 1.5 µs per record in batches of 16, 0.5 in batches of 2,000. Nothing
reads the statistics without folding first (every query drains the buffer), and records carry
their own timestamps, so a fold that comes later still lands them in their slot: waiting changes
no figure. A list's wait is the SDK's default export delay (``OTEL_BSP_SCHEDULE_DELAY``, 5 s): its
records hold the ended spans' attribute dicts no longer than the batch span processor holds the
spans. The thread is a daemon, started on first use and again after ``fork()``; a buffer that fills
faster than it drains is still folded by the ending thread (``FOLD_BATCH``).
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from infertel._internal import forking  # noqa: F401  (installs the at-fork hook that calls restart_after_fork)
from infertel._internal.errors import handle_internal_errors

_logger = logging.getLogger(__name__)

INTERVAL_S = 0.25
"""Seconds between two looks at every buffer."""
DRAIN_RECORDS = 2048
"""A buffer holding this many records is drained at the next look."""
MAX_WAIT_S = 5.0
"""A list buffer whose oldest record ended this many seconds ago (by its statistics' clock) is drained
at the next look."""
MAX_WAIT_COMPACT_S = 60.0
"""The same for the C buffer (:mod:`._buffer`): its records hold no span, attribute dict or value
object, about 120 bytes each (at most :data:`DRAIN_RECORDS` between two looks), so they may wait
longer, and low rates fold larger batches (600 records at 10 spans/s instead of 50)."""

_lock = threading.Lock()
_live: weakref.WeakSet[Any] = weakref.WeakSet()
_thread: threading.Thread | None = None


def register(stats: Any) -> None:
    """Fold ``stats``' buffer in the background from now on (kept only while ``stats`` lives)."""
    global _thread
    with _lock:
        _live.add(stats)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="infertel-stats-fold", daemon=True)
            _thread.start()


def _run() -> None:
    wake = threading.Event()
    while True:
        wake.wait(INTERVAL_S)
        with _lock:
            live = list(_live)
        for stats in live:
            with handle_internal_errors:
                if _due(stats):
                    stats.fold_if_idle()
        del live


def _due(stats: Any) -> bool:
    """Whether ``stats``' buffer is long enough, or its oldest record old enough, to drain now."""
    buffer = stats.buffer
    try:
        return len(buffer) >= DRAIN_RECORDS or (bool(buffer) and stats.clock() - buffer[0][0] >= max_wait_s(buffer))
    except IndexError:  # drained meanwhile by a query or the ending thread
        return False


def max_wait_s(buffer: Any) -> float:
    """How long the oldest record of ``buffer`` may wait.

    :data:`MAX_WAIT_S` for a list, :data:`MAX_WAIT_COMPACT_S` for the C buffer.
    """
    return MAX_WAIT_S if type(buffer) is list else MAX_WAIT_COMPACT_S


def restart_after_fork() -> None:
    """In a forked child (called by :mod:`infertel._internal.forking`): the parent's thread is gone."""
    global _thread
    _thread = None
    if len(_live):
        register(next(iter(_live)))
