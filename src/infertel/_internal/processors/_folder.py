"""One background thread that folds the ended-span buffers of every live :class:`InferenceStats`.

Folding a record into its series' sketches costs about a microsecond; done on the thread that
ends the span it would double the processor's share of the span's cost. This thread drains
every buffer a few times a second instead, so ``on_end`` is a ``deque.append``. Records carry
their own timestamps, so a fold that comes a moment later still lands them in their slot.
The thread is a daemon, started on first use and again after ``fork()``; a buffer that fills
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
"""Seconds between two drains of every buffer."""

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
                if stats.buffer:
                    stats.fold_if_idle()
        del live


def restart_after_fork() -> None:
    """In a forked child (called by :mod:`infertel._internal.forking`): the parent's thread is gone."""
    global _thread
    _thread = None
    if len(_live):
        register(next(iter(_live)))
