"""Closed chart buckets kept between page loads, so an auto-refreshing page asks the store only for the tail.

A chart's points are buckets aligned to multiples of the step since the epoch (the store's
``timeseries`` aligns them so), and a bucket that ended more than ``margin_s`` ago no longer
changes, except for a request that started in it and ended later still (rollups are keyed by a
span's start): the whole entry is therefore refetched every ``ttl_s``. So a page refreshed every
10 s costs one full query per chart every ``ttl_s`` and otherwise a query over the last minutes.
The JSON API never uses it (it answers from the store).

Threading: any number of request threads; the lock guards the dictionary only, never a store call.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_NS = 1_000_000_000


@dataclass(frozen=True)
class CachedSeries:
    """A series as ``SQLiteStore.timeseries`` returns it: labels and ``(bucket start ns, value)`` points."""

    labels: dict[str, str]
    points: list[tuple[int, float | None]]


@dataclass
class _Entry:
    step_ns: int
    low_ns: int  # first cached bucket
    high_ns: int  # buckets below are cached and final
    expires_ns: int
    labels: dict[tuple[tuple[str, str], ...], dict[str, str]] = field(default_factory=dict)
    values: dict[tuple[tuple[str, str], ...], dict[int, float | None]] = field(default_factory=dict)


class SeriesCache:
    """Per-dashboard cache of closed chart buckets (bounded, least recently used out first).

    Example:
        >>> cache = SeriesCache()
        >>> series = cache.timeseries(store, "requests_per_s", start, end, 60, ("model",), {})  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        max_entries: int = 256,
        margin_s: float = 120.0,
        ttl_s: float = 300.0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self._margin_ns = int(margin_s * _NS)
        self._ttl_ns = int(ttl_s * _NS)
        self._clock = clock

    def timeseries(
        self,
        store: Any,
        query: str,
        start_ns: int,
        end_ns: int,
        step_s: int,
        group_by: Sequence[str],
        where: Mapping[str, str],
    ) -> list[CachedSeries]:
        """``store.timeseries(...)`` with the closed buckets of earlier calls reused."""
        key = (query, tuple(group_by), tuple(sorted(where.items())), int(step_s * _NS))
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        step_ns = entry.step_ns if entry is not None else 0
        first = start_ns - start_ns % step_ns if step_ns else start_ns
        if entry is None or entry.expires_ns <= now or entry.low_ns > first or entry.high_ns <= first:
            found = store.timeseries(query, start_ns, end_ns, step_s, group_by=group_by, where=where)
            step_ns = _step_of(found)  # the store may round the step up to its rollup width
            if step_ns:
                first = start_ns - start_ns % step_ns
                closed = (now - self._margin_ns) // step_ns * step_ns
                self._keep(key, _Entry(step_ns, first, max(first, closed), now + self._ttl_ns), found)
            return [CachedSeries(dict(s.labels), list(s.points)) for s in found]
        closed = (now - self._margin_ns) // step_ns * step_ns
        tail = store.timeseries(query, entry.high_ns, end_ns, step_s, group_by=group_by, where=where)
        buckets = range(first, end_ns, step_ns)
        merged: dict[tuple[tuple[str, str], ...], CachedSeries] = {}
        for label_key, labels in entry.labels.items():
            cached = entry.values[label_key]
            merged[label_key] = CachedSeries(dict(labels), [(b, cached.get(b)) for b in buckets if b < entry.high_ns])
        for series in tail:
            label_key = tuple(series.labels.items())
            target = merged.get(label_key)
            if target is None:
                target = merged[label_key] = CachedSeries(
                    dict(series.labels), [(b, None) for b in buckets if b < entry.high_ns]
                )
            target.points.extend(series.points)
        for target in merged.values():  # a series absent from the tail: no data there
            if not target.points or target.points[-1][0] < entry.high_ns:
                target.points.extend((b, None) for b in buckets if b >= entry.high_ns)
        self._advance(key, entry, first, closed, tail)
        return list(merged.values())

    def _keep(self, key: tuple[Any, ...], entry: _Entry, found: Sequence[Any]) -> None:
        self._absorb(entry, found, entry.low_ns, entry.high_ns)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def _advance(self, key: tuple[Any, ...], entry: _Entry, first: int, closed: int, tail: Sequence[Any]) -> None:
        fresh = _Entry(entry.step_ns, first, max(entry.high_ns, closed), entry.expires_ns)
        for label_key, values in entry.values.items():
            fresh.labels[label_key] = entry.labels[label_key]
            fresh.values[label_key] = {b: v for b, v in values.items() if b >= first}
        self._absorb(fresh, tail, entry.high_ns, fresh.high_ns)
        with self._lock:
            if key in self._entries:
                self._entries[key] = fresh

    @staticmethod
    def _absorb(entry: _Entry, found: Sequence[Any], low: int, high: int) -> None:
        """Record the points of ``found`` in ``[low, high)`` (closed buckets only)."""
        for series in found:
            label_key = tuple(series.labels.items())
            entry.labels.setdefault(label_key, dict(series.labels))
            values = entry.values.setdefault(label_key, {})
            for t, v in series.points:
                if low <= t < high:
                    values[t] = v


def _step_of(found: Sequence[Any]) -> int:
    """The bucket width of the store's answer, 0 when it cannot be cached (too few points, not aligned)."""
    for series in found:
        if len(series.points) >= 2:
            step = series.points[1][0] - series.points[0][0]
            if step > 0 and all(t % step == 0 for s in found for t, _ in s.points):
                return int(step)
            return 0
    return 0
