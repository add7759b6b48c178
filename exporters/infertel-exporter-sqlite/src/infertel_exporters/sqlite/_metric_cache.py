"""Closed 1 min / 10 min / 1 h bucket figures of ``metric:`` reads, kept between calls and checked on each.

A coarse bucket's figures come from the series' marked points in it and the next marked point after
it (``_metric_read``). Once that next point is older than the last two buckets of the range read, the
figures are kept (:class:`MetricPieces`), with the marked points that come after the last such
bucket of each series (its "tail"), and one fingerprint per bucket: the count and the sum of the row
ids of the metric's marked points in it. The next call over a range that starts at or after the kept
one checks with one index-only read that the marked points before the kept boundary are still the
same (count and id sum over the range), and then reads only the marked points after it. Points are
only ever inserted (a new id) or deleted by retention, so data landing late in a kept bucket moves
the count and the sum: everything is read afresh at once, never served stale.

Example:
    >>> pieces = MetricPieces(max_entries=4)
    >>> pieces.stats()
    {'hits': 0, 'misses': 0}
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

Series = tuple[int, str]

MAX_ITEMS = 200_000
"""Kept figures and tail rows (or step values) per entry at most: a read over more series and buckets is not kept."""
MAX_TOTAL = 500_000
"""Kept figures, tail rows and step values over all entries of one kind at most (least recently used out first)."""


@dataclass
class Piece:
    """What one read kept: figures of closed buckets and the marked points after them, both before ``known_ns``.

    Attributes:
        conn: The connection it was read on (held so that its ``id``, part of the key, is not reused).
        lo_ns: Start of the range read (a bucket start).
        known_ns: The boundary (a bucket start): marked points before it are in ``fingerprints``.
        fingerprints: Per bucket start in ``[lo_ns, known_ns)``: ``(count, sum of ids)`` of its marked points.
        closed: Per series, per closed bucket start: its figures (never changed once kept).
        tails: Per series, its marked points in ``[first bucket not closed, known_ns)``, oldest first.
        generation: The same object from a read afresh through every later read that reused it: while it
            stays, the marked points before each read's ``known_ns`` have not changed.
        hists: The tails' histogram texts, parsed (``_metric_read.Hist``; never changed once parsed).
    """

    conn: sqlite3.Connection
    lo_ns: int
    known_ns: int
    fingerprints: dict[int, tuple[int, int]]
    closed: dict[Series, dict[int, list[Any]]]
    tails: dict[Series, list[tuple[Any, ...]]]
    generation: object
    hists: dict[str, Any] = field(default_factory=dict)


def _keep(entries: OrderedDict[tuple[Any, ...], Any], sizes: dict[tuple[Any, ...], int], key: tuple[Any, ...],
          value: Any, size: int, max_entries: int) -> None:  # fmt: skip
    """Put ``value`` last, then drop the least recently used past the bounds (under the caller's lock)."""
    entries.pop(key, None)
    sizes.pop(key, None)
    if size > MAX_ITEMS:
        return
    entries[key] = value
    sizes[key] = size
    total = sum(sizes.values())
    while len(entries) > max_entries or total > MAX_TOTAL:
        old, _ = entries.popitem(last=False)
        total -= sizes.pop(old)


class MetricPieces:
    """Kept coarse ``metric:`` figures per connection, metric and bucket width; least recently used out first.

    Threading: any number of threads; the lock guards the dictionary only, never a query. A forked
    child starts empty (with a fresh lock).

    Example:
        >>> pieces = MetricPieces(max_entries=2)
        >>> pieces.get(("k",)) is None
        True
    """

    def __init__(self, max_entries: int = 64) -> None:
        self._entries: OrderedDict[tuple[Any, ...], Piece] = OrderedDict()
        self._sizes: dict[tuple[Any, ...], int] = {}
        self._max = max_entries
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: tuple[Any, ...]) -> Piece | None:
        """The piece kept under ``key`` (checked by the caller: :meth:`hit` or :meth:`miss` counts the outcome)."""
        with self._lock:
            piece = self._entries.get(key)
            if piece is not None:
                self._entries.move_to_end(key)
            return piece

    def hit(self, reused: bool) -> None:
        """Count one lookup: the kept piece was ``reused``, or not."""
        with self._lock:
            if reused:
                self._hits += 1
            else:
                self._misses += 1

    def put(self, key: tuple[Any, ...], piece: Piece) -> None:
        """Keep ``piece`` under ``key`` (dropped when it holds more than ``MAX_ITEMS`` figures and rows)."""
        size = sum(map(len, piece.closed.values())) + sum(map(len, piece.tails.values()))
        with self._lock:
            _keep(self._entries, self._sizes, key, piece, size, self._max)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def stats(self) -> dict[str, int]:
        """Hits and misses since the start (or the last :meth:`clear`)."""
        with self._lock:
            return {"hits": self._hits, "misses": self._misses}

    def clear(self) -> None:
        """Forget every entry and the counts."""
        with self._lock:
            self._entries.clear()
            self._sizes.clear()
            self._hits = self._misses = 0

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # the parent's may have been held by another thread at fork()
        self._entries = OrderedDict()
        self._sizes = {}
        self._hits = self._misses = 0


@dataclass
class Steps:
    """A ``metric:`` read's values per label group and step bucket start, for step buckets in ``[lo_ns, cut_ns)``.

    Valid while the coarse buckets under them are of the same ``generation`` (see :class:`Piece`).
    """

    conn: sqlite3.Connection
    generation: object
    lo_ns: int
    cut_ns: int
    values: dict[tuple[str, ...], dict[int, Any]]


class SettledSteps:
    """Kept step values of settled buckets per connection and query; least recently used out first.

    Threading: any number of threads; the lock guards the dictionary only. A forked child starts empty.

    Example:
        >>> SettledSteps(max_entries=2).get(("k",)) is None
        True
    """

    def __init__(self, max_entries: int = 128) -> None:
        self._entries: OrderedDict[tuple[Any, ...], Steps] = OrderedDict()
        self._sizes: dict[tuple[Any, ...], int] = {}
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Steps | None:
        """The values kept under ``key`` (the caller checks their generation and range)."""
        with self._lock:
            steps = self._entries.get(key)
            if steps is not None:
                self._entries.move_to_end(key)
            return steps

    def put(self, key: tuple[Any, ...], steps: Steps) -> None:
        """Keep ``steps`` under ``key`` (dropped when it holds more than ``MAX_ITEMS`` values)."""
        size = sum(map(len, steps.values.values()))
        with self._lock:
            _keep(self._entries, self._sizes, key, steps, size, self._max)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._sizes.clear()

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._entries = OrderedDict()
        self._sizes = {}


KEPT = MetricPieces()
"""The process' kept coarse metric figures (every store, every connection: entries are keyed by connection)."""

STEPS = SettledSteps()
"""The process' kept step values of settled buckets (keyed by connection, metric, stat, step and labels)."""


def clear() -> None:
    """Forget everything kept (both levels) and the counts."""
    KEPT.clear()
    STEPS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=KEPT._after_fork)
    os.register_at_fork(after_in_child=STEPS._after_fork)
