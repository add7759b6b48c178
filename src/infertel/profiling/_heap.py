"""A time-boxed heap snapshot: what was allocated during the window and is still alive at its end."""

from __future__ import annotations

import threading
import tracemalloc
from dataclasses import dataclass

MAX_SITES = 50
"""Allocation sites kept, largest first."""


@dataclass(frozen=True)
class Site:
    """One allocation site: bytes and blocks still alive, and its traceback.

    ``frames``: (file, line), outermost first; the last one is the line that allocated.
    """

    size_bytes: int
    count: int
    frames: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class HeapSnapshot:
    """The top allocation sites of the window, the totals, and tracemalloc's peak during it."""

    total_bytes: int
    total_blocks: int
    peak_bytes: int
    sites: tuple[Site, ...]
    was_tracing: bool


def snapshot(seconds: float, stop: threading.Event, *, frames: int = 1, top: int = MAX_SITES) -> HeapSnapshot:
    """Trace allocations for ``seconds`` (or until ``stop``) and return the top sites still alive.

    If tracemalloc was already tracing (started by the application), it is left running and the
    snapshot covers everything it traced; otherwise it is started here and stopped at the end, so
    no tracing remains.

    Example:
        >>> result = snapshot(0.01, threading.Event())
        >>> result.total_bytes >= 0 and not tracemalloc.is_tracing()
        True
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start(frames)
    try:
        tracemalloc.reset_peak()
        stop.wait(seconds)
        snap = tracemalloc.take_snapshot()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    snap = snap.filter_traces((tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)))
    stats = snap.statistics("traceback")
    sites = tuple(Site(s.size, s.count, tuple((f.filename, f.lineno) for f in s.traceback)) for s in stats[:top])
    return HeapSnapshot(
        total_bytes=sum(s.size for s in stats), total_blocks=sum(s.count for s in stats), peak_bytes=peak,
        sites=sites, was_tracing=was_tracing,
    )  # fmt: skip
