"""Sliding windows built from a ring of per-interval slots (exact, mergeable).

A window of length ``W`` seconds is cut into ``k`` slots of ``W / k`` seconds aligned on the
clock (slot ``i`` covers ``[i * W/k, (i + 1) * W/k)``). At time ``now`` the window holds the
slot containing ``now`` and the ``k - 1`` before it, so it covers between ``W - W/k`` and ``W``
seconds; rates divide by the span actually covered. Slots older than that are dropped, so
memory does not grow with time or rate.

Every slot carries scalar counters and one quantile sketch per distribution. The window keeps
the exact sum of its closed slots (``closed``): a slot is merged in when it closes and
subtracted when it expires (counts are integers: no error), so a query merges one summary
with the open slot and never scans raw samples or the whole ring.

Thread safety: none; the owner (:class:`~._stats.InferenceStats`) serialises access.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from typing import Any

from infertel._internal.quantiles import LogMapping, QuantileSketch

_LENGTH = struct.Struct("<H")

DISTRIBUTIONS = ("latency", "ttft", "tpot", "decode_speed")
"""Names of the per-request distributions every slot keeps (positions in ``Slot.sketches``).

The ``decode_speed`` sketch only counts requests without a TPOT (non-streams); a query adds
the reciprocals of the TPOT sketch (``QuantileSketch.merge_reciprocal``), which is exact, so
streams pay for one distribution instead of two.
"""


class Slot:
    """Counters and sketches of one interval (or the sum of several)."""

    __slots__ = (
        "index",
        "requests",
        "errors",
        "error_types",
        "input_tokens",
        "output_tokens",
        "sketches",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.requests = 0
        self.errors = 0
        self.error_types: dict[str, int] | None = None
        self.input_tokens = 0
        self.output_tokens = 0
        # One sketch per DISTRIBUTIONS entry, created on first use (TTFT/TPOT only exist for streams).
        # A closed slot keeps them compressed in one bytes blob (see freeze()).
        self.sketches: Any = [None, None, None, None]

    def merge(self, other: Slot, mapping: LogMapping) -> None:
        """Add ``other`` into this slot (exact)."""
        self.requests += other.requests
        self.errors += other.errors
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        if other.error_types:
            mine = self.error_types
            if mine is None:
                mine = self.error_types = {}
            for name, n in other.error_types.items():
                mine[name] = mine.get(name, 0) + n
        sketches = self.sketches
        for i, src in enumerate(other.sketches):
            if src is None:
                continue
            dst = sketches[i]
            if dst is None:
                dst = sketches[i] = QuantileSketch(mapping=mapping)
            dst.merge(src)

    def freeze(self) -> None:
        """Compress the sketches of a closed slot into one blob: it is only read again when it expires."""
        parts = []
        for sketch in self.sketches:
            blob = sketch.to_bytes() if sketch is not None else b""
            parts.append(_LENGTH.pack(len(blob)))
            parts.append(blob)
        self.sketches = b"".join(parts)

    def thawed(self, mapping: LogMapping) -> list[QuantileSketch | None]:
        """The sketches, decompressed if the slot is frozen."""
        frozen = self.sketches
        if not isinstance(frozen, bytes):
            return list(frozen)
        out: list[QuantileSketch | None] = []
        position = 0
        while position < len(frozen):
            (size,) = _LENGTH.unpack_from(frozen, position)
            position += _LENGTH.size
            out.append(QuantileSketch.from_bytes(frozen[position : position + size], mapping) if size else None)
            position += size
        return out

    def subtract(self, other: Slot, mapping: LogMapping) -> None:
        """Remove ``other``, merged into this slot before (exact)."""
        self.requests -= other.requests
        self.errors -= other.errors
        self.input_tokens -= other.input_tokens
        self.output_tokens -= other.output_tokens
        if other.error_types and self.error_types is not None:
            mine = self.error_types
            for name, n in other.error_types.items():
                left = mine.get(name, 0) - n
                if left > 0:
                    mine[name] = left
                else:
                    mine.pop(name, None)
        sketches = self.sketches
        for i, src in enumerate(other.thawed(mapping)):
            dst = sketches[i]
            if src is not None and dst is not None:
                dst.subtract(src)
                if dst.count == 0:
                    sketches[i] = None

    def memory_bytes(self) -> int:
        """Approximate bytes held (object, counters dict and sketches)."""
        import sys

        total = sys.getsizeof(self) + sys.getsizeof(self.sketches)
        if self.error_types is not None:
            total += sys.getsizeof(self.error_types)
        if isinstance(self.sketches, bytes):
            return total
        return total + sum(s.memory_bytes() for s in self.sketches if s is not None)


class Window:
    """One sliding window: a ring of ``k`` slots plus the exact sum of its closed slots.

    Args:
        length_s: Window length in seconds.
        slots: Number of slots ``k`` the window is cut into.
        mapping: Bucket mapping of every sketch (all windows of a processor share it).

    Example:
        >>> from infertel._internal.quantiles import LogMapping
        >>> w = Window(60.0, 6, LogMapping(0.01))
        >>> w.slot_at(5.0).requests += 1
        >>> w.summary(59.0).requests, w.summary(125.0).requests
        (1, 0)
    """

    __slots__ = ("length_s", "slot_s", "k", "_mapping", "_ring", "_open", "_closed")

    def __init__(self, length_s: float, slots: int, mapping: LogMapping) -> None:
        self.length_s = float(length_s)
        self.k = slots
        self.slot_s = self.length_s / slots
        self._mapping = mapping
        self._ring: deque[Slot] = deque()
        self._open: Slot | None = None
        self._closed = Slot(-1)

    def slot_at(self, t: float) -> Slot:
        """The slot that counts a sample taken at ``t`` (late samples go to the open slot)."""
        index = int(t // self.slot_s)
        current = self._open
        if current is not None and index <= current.index:
            return current
        self.advance(index)
        current = self._open = Slot(index)
        self._ring.append(current)
        return current

    def advance(self, index: int) -> None:
        """Close and expire slots so that ``index`` is the newest slot index (never goes back)."""
        current = self._open
        ring = self._ring
        oldest_kept = index - self.k + 1
        if current is not None and current.index < index:
            self._open = None
            if current.index >= oldest_kept:
                self._closed.merge(current, self._mapping)
                current.freeze()
            else:
                ring.pop()  # expired before it was ever closed: never merged, nothing to subtract
        closed = self._closed
        while ring and ring[0].index < oldest_kept and ring[0] is not self._open:
            closed.subtract(ring.popleft(), self._mapping)
        if not ring:
            self._closed = Slot(-1)

    def summary(self, now: float) -> Slot:
        """A new slot holding everything in the window at ``now`` (the ring is left intact)."""
        self.advance(int(now // self.slot_s))
        out = Slot(-1)
        out.merge(self._closed, self._mapping)
        if self._open is not None:
            out.merge(self._open, self._mapping)
        return out

    def start_time(self, now: float) -> float:
        """Clock time at which the window that ends at ``now`` starts (slot-aligned)."""
        return (int(now // self.slot_s) - self.k + 1) * self.slot_s

    def is_empty(self) -> bool:
        """Whether no slot is kept."""
        return not self._ring

    def memory_bytes(self) -> int:
        """Approximate bytes held by the ring and the closed-slot sum."""
        import sys

        return sys.getsizeof(self._ring) + sum(s.memory_bytes() for s in self._ring) + self._closed.memory_bytes()


class Series:
    """One series: its windows, plus a staging slot that takes every sample first.

    Samples are counted once, in the staging slot; the staging slot is merged into each
    window's slot (an exact, C-speed array merge) when the clock crosses the next slot
    boundary of any window, or before a query. That keeps the per-sample cost independent
    of the number of windows.
    """

    __slots__ = ("key", "attributes", "windows", "in_flight", "stage", "stage_time", "stage_until")

    def __init__(self, key: Any, attributes: dict[str, Any], windows: list[Window]) -> None:
        self.key = key
        self.attributes = attributes
        self.windows = windows
        self.in_flight = 0
        self.stage = Slot(0)
        self.stage_time = 0.0
        self.stage_until = -math.inf  # the first sample starts a stage

    def flush(self, mapping: LogMapping) -> None:
        stage = self.stage
        if stage.requests:
            for window in self.windows:
                window.slot_at(self.stage_time).merge(stage, mapping)
            self.stage = Slot(0)
        self.stage_until = -math.inf

    def start_stage(self, t: float) -> None:
        self.stage_time = t
        self.stage_until = min((t // w.slot_s + 1) * w.slot_s for w in self.windows)
