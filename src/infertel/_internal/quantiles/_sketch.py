"""A mergeable quantile sketch with a guaranteed relative error (logarithmic buckets).

Positive values are counted in buckets whose bounds grow geometrically: bucket ``i`` holds the
values in ``(gamma**(i-1), gamma**i]`` with ``gamma = 1 + relative_accuracy``. Counts are exact
integers, so merging two sketches (adding counts) and removing one from another (subtracting)
add no error, which is what sliding windows need.

Quantile definition and guarantee. For ``n`` values ``x_0 <= ... <= x_{n-1}`` and ``q`` in
``[0, 1]``, the exact quantile is numpy's default (``method="linear"``):
``Q(q) = x_k + f * (x_{k+1} - x_k)`` with ``r = q * (n - 1)``, ``k = floor(r)``, ``f = r - k``.
The sketch knows the bucket of every order statistic ``x_k`` exactly; it estimates ``x_k`` by
its log-linear position inside that bucket (rank-interpolated, so smooth distributions are
estimated far better than the bound) and interpolates between ``k`` and ``k + 1`` like numpy.
Both estimates lie in the same bucket as the value they estimate, so for values inside
``[min_value, max_value]``::

    |estimate(q) - Q(q)| <= relative_accuracy * Q(q)        (for every q)

Outside that range: values ``<= min_value`` (zero and negative values included) are counted in a
zero bucket and reported as ``0.0``; values above ``max_value`` are counted in the top bucket and
reported as about ``max_value``. With the defaults (``1e-9`` .. ``1e9``) this covers 1 ns to 31
years of latency and any decode speed, so the clamps never trigger for real data.

Memory is bounded: counts live in one contiguous array spanning only the buckets seen so far
(1 byte per bucket while counts fit, widened to 2, 4 then 8 bytes on overflow), at most
``ceil(ln(max_value / min_value) / ln(gamma))`` buckets (4,166 at 1 %).

Thread safety: none. Callers serialise access (the span processor folds under its lock).
"""

from __future__ import annotations

import bisect
import math
import struct
import zlib
from array import array
from collections.abc import Iterable, Sequence
from itertools import accumulate

_WIDER = {"B": "H", "H": "I", "I": "Q"}
_HEADER = struct.Struct("<ciqq")  # typecode, offset, count, zero_count
_SLACK = 8  # buckets of headroom added when the array grows, so growth is rare


class QuantileSketch:
    """Counts of positive values in logarithmic buckets; quantiles with a relative-error bound.

    Args:
        relative_accuracy: Guaranteed relative error bound ``alpha`` of every quantile, in (0, 1).
        min_value: Smallest value with the guarantee; smaller ones count as ``0.0``.
        max_value: Largest value with the guarantee; larger ones are clamped to it.

    Example:
        >>> sketch = QuantileSketch(relative_accuracy=0.01)
        >>> for v in (0.1, 0.2, 0.3, 0.4, 1.0):
        ...     sketch.add(v)
        >>> round(sketch.quantile(0.5), 2)
        0.3
    """

    __slots__ = ("_counts", "_offset", "count", "zero_count", "_mapping")

    def __init__(
        self,
        relative_accuracy: float = 0.01,
        *,
        min_value: float = 1e-9,
        max_value: float = 1e9,
        mapping: LogMapping | None = None,
    ) -> None:
        self._mapping = mapping if mapping is not None else LogMapping(relative_accuracy, min_value, max_value)
        self._counts: array[int] = array("B")
        self._offset = 0
        self.count = 0
        """Number of values added (zero bucket included)."""
        self.zero_count = 0
        """Number of values at or below ``min_value``."""

    @property
    def mapping(self) -> LogMapping:
        """The value-to-bucket mapping (shared by sketches that merge with each other)."""
        return self._mapping

    @property
    def relative_accuracy(self) -> float:
        """The guaranteed relative error bound."""
        return self._mapping.relative_accuracy

    def add(self, value: float) -> None:
        """Count one value."""
        mapping = self._mapping
        if value <= mapping.min_value or value >= mapping.max_value:
            self.add_index(mapping.index(value))
            return
        # LogMapping.index and the in-range case of add_index, inlined (the common path).
        j = math.ceil(math.log(value) * mapping._inv_ln_gamma) - self._offset
        counts = self._counts
        if 0 <= j < len(counts):
            try:
                counts[j] += 1
            except OverflowError:
                self.add_index(j + self._offset)
                return
            self.count += 1
            return
        self.add_index(j + self._offset)

    def add_index(self, index: int | None) -> None:
        """Count one value already mapped by :meth:`LogMapping.index` (``None``: the zero bucket)."""
        self.count += 1
        if index is None:
            self.zero_count += 1
            return
        j = index - self._offset
        counts = self._counts
        if 0 <= j < len(counts):
            try:
                counts[j] += 1
            except OverflowError:
                self._widen()
                self._counts[j] += 1
            return
        self._grow(index, index)
        self._counts[index - self._offset] += 1

    def _widen(self) -> None:
        self._counts = array(_WIDER[self._counts.typecode], self._counts)

    def _grow(self, low: int, high: int) -> None:
        counts = self._counts
        if not counts:
            self._offset = low - _SLACK // 2
            counts.frombytes(bytes((high - low + 1 + _SLACK) * counts.itemsize))
            return
        if low < self._offset:
            extra = self._offset - low + _SLACK
            counts[0:0] = array(counts.typecode, bytes(extra * counts.itemsize))
            self._offset -= extra
        end = self._offset + len(counts)
        if high >= end:
            counts.frombytes(bytes((high - end + 1 + _SLACK) * counts.itemsize))

    def _check_compatible(self, other: QuantileSketch) -> None:
        if other._mapping is not self._mapping and other._mapping != self._mapping:
            raise ValueError("cannot combine sketches with different relative_accuracy/min_value/max_value")

    def merge(self, other: QuantileSketch) -> None:
        """Add every count of ``other`` to this sketch (exact)."""
        self._check_compatible(other)
        src = other._counts
        if not self._counts:  # into an empty sketch: a copy (memcpy) instead of element-wise adds
            self._counts = array(src.typecode, src)
            self._offset = other._offset
            self.count += other.count
            self.zero_count += other.zero_count
            return
        self.count += other.count
        self.zero_count += other.zero_count
        if not src:
            return
        self._grow(other._offset, other._offset + len(src) - 1)
        start = other._offset - self._offset
        dst = self._counts
        end = start + len(src)
        while True:
            try:
                dst[start:end] = array(dst.typecode, map(int.__add__, dst[start:end], src))
                return
            except OverflowError:
                self._widen()
                dst = self._counts

    def merge_reciprocal(self, other: QuantileSketch) -> None:
        """Add the reciprocals ``1/x`` of the values counted in ``other`` (exact, no error added).

        Bucket ``i`` holds ``(gamma**(i-1), gamma**i]``, so ``1/x`` lies in bucket ``1 - i``
        (up to its closed end): the counts are reversed, not re-estimated, and the
        relative-error guarantee carries over. ``other``'s zero bucket (``x <= min_value``)
        counts as ``max_value``. Used for decode speed = 1 / time per output token.

        Example:
            >>> tpot = QuantileSketch.from_values([0.02, 0.04])
            >>> speed = QuantileSketch()
            >>> speed.merge_reciprocal(tpot)
            >>> [round(v) for v in speed.quantiles((0.0, 1.0))]
            [25, 50]
        """
        self._check_compatible(other)
        src = other._counts
        if src:
            mirror = QuantileSketch(mapping=self._mapping)
            mirror._counts = array(src.typecode, reversed(src))
            mirror._offset = 1 - (other._offset + len(src) - 1)
            mirror.count = other.count - other.zero_count
            self.merge(mirror)
        for _ in range(other.zero_count):
            self.add_index(self._mapping.index(self._mapping.max_value))

    def subtract(self, other: QuantileSketch) -> None:
        """Remove the counts of ``other``, which must have been merged into this sketch before (exact)."""
        self._check_compatible(other)
        src = other._counts
        self.count -= other.count
        self.zero_count -= other.zero_count
        if not src:
            return
        start = other._offset - self._offset
        dst = self._counts
        if start < 0 or start + len(src) > len(dst):
            raise ValueError("subtract: the sketch to remove was never merged into this one")
        segment = dst[start : start + len(src)]
        dst[start : start + len(src)] = array(dst.typecode, map(int.__sub__, segment, src))
        if self.count == self.zero_count:
            # Empty again: release the array so an idle window costs nothing.
            self._counts = array("B")
            self._offset = 0

    def to_bytes(self) -> bytes:
        """A compact, compressed serialisation (closed window slots are kept in this form).

        Example:
            >>> s = QuantileSketch.from_values([1.0, 2.0])
            >>> QuantileSketch.from_bytes(s.to_bytes(), s.mapping).quantiles((0.5,)) == s.quantiles((0.5,))
            True
        """
        header = _HEADER.pack(self._counts.typecode.encode(), self._offset, self.count, self.zero_count)
        deflate = zlib.compressobj(6, zlib.DEFLATED, -15)  # raw deflate: no zlib header or checksum
        return header + deflate.compress(self._counts.tobytes()) + deflate.flush()

    @classmethod
    def from_bytes(cls, data: bytes, mapping: LogMapping) -> QuantileSketch:
        """The sketch serialised by :meth:`to_bytes` (with the same ``mapping``)."""
        typecode, offset, count, zero_count = _HEADER.unpack_from(data)
        sketch = cls(mapping=mapping)
        counts = array(typecode.decode())
        counts.frombytes(zlib.decompress(data[_HEADER.size :], -15))
        sketch._counts = counts
        sketch._offset = offset
        sketch.count = count
        sketch.zero_count = zero_count
        return sketch

    def copy(self) -> QuantileSketch:
        """An independent copy."""
        clone = QuantileSketch(mapping=self._mapping)
        clone._counts = array(self._counts.typecode, self._counts)
        clone._offset = self._offset
        clone.count = self.count
        clone.zero_count = self.zero_count
        return clone

    def clear(self) -> None:
        """Forget every value."""
        self._counts = array("B")
        self._offset = 0
        self.count = 0
        self.zero_count = 0

    def quantile(self, q: float) -> float | None:
        """The estimate of quantile ``q`` in [0, 1], or ``None`` when the sketch is empty."""
        return self.quantiles((q,))[0]

    def quantiles(self, qs: Sequence[float]) -> list[float | None]:
        """Estimates of several quantiles in one pass over the buckets (``None`` when empty).

        Example:
            >>> s = QuantileSketch()
            >>> s.add(2.0)
            >>> [round(v, 1) for v in s.quantiles((0.5, 0.99))]
            [2.0, 2.0]
        """
        n = self.count
        if n == 0:
            return [None] * len(qs)
        cumulative = list(accumulate(self._counts, initial=self.zero_count))
        out: list[float | None] = []
        for q in qs:
            if not 0.0 <= q <= 1.0:
                raise ValueError(f"quantile must be in [0, 1], got {q!r}")
            rank = q * (n - 1)
            k = int(rank)
            frac = rank - k
            value = self._order_statistic(k, cumulative)
            if frac > 0.0 and k + 1 < n:
                value += frac * (self._order_statistic(k + 1, cumulative) - value)
            out.append(value)
        return out

    def _order_statistic(self, k: int, cumulative: list[int]) -> float:
        # cumulative[0] = zero bucket; cumulative[j + 1] = values up to bucket offset + j.
        if k < cumulative[0]:
            return 0.0
        j = bisect.bisect_right(cumulative, k) - 1  # last position whose cumulative count <= k
        before = cumulative[j]
        in_bucket = cumulative[j + 1] - before
        index = self._offset + j
        return self._mapping.value(index, (k - before + 0.5) / in_bucket)

    def memory_bytes(self) -> int:
        """Bytes held by this sketch (object plus counts), as ``sys.getsizeof`` reports them."""
        import sys

        return sys.getsizeof(self) + sys.getsizeof(self._counts)

    def bucket_counts(self) -> tuple[int, list[int]]:
        """``(first_index, counts)`` of the non-zero-bucket counts (for exporters and tests)."""
        return self._offset, list(self._counts)

    @classmethod
    def from_values(cls, values: Iterable[float], relative_accuracy: float = 0.01) -> QuantileSketch:
        """A sketch of ``values`` (convenience for tests and benchmarks)."""
        sketch = cls(relative_accuracy)
        index = sketch._mapping.index
        add_index = sketch.add_index
        for v in values:
            add_index(index(v))
        return sketch


class LogMapping:
    """Maps positive values to logarithmic bucket indices and back.

    Args:
        relative_accuracy: ``alpha`` in (0, 1); buckets grow by ``gamma = 1 + alpha``.
        min_value: Values at or below map to the zero bucket (``None``).
        max_value: Values above are clamped to it.

    Example:
        >>> m = LogMapping(0.01)
        >>> i = m.index(1.5)
        >>> m.value(i, 0.0) < 1.5 <= m.value(i, 1.0)
        True
    """

    __slots__ = ("relative_accuracy", "min_value", "max_value", "_ln_gamma", "_inv_ln_gamma", "_max_index")

    def __init__(self, relative_accuracy: float = 0.01, min_value: float = 1e-9, max_value: float = 1e9) -> None:
        if not 0.0 < relative_accuracy < 1.0:
            raise ValueError(f"relative_accuracy must be in (0, 1), got {relative_accuracy!r}")
        if not 0.0 < min_value < max_value:
            raise ValueError(f"need 0 < min_value < max_value, got {min_value!r} and {max_value!r}")
        self.relative_accuracy = float(relative_accuracy)
        self.min_value = float(min_value)
        self.max_value = float(max_value)
        self._ln_gamma = math.log1p(relative_accuracy)
        self._inv_ln_gamma = 1.0 / self._ln_gamma
        self._max_index = math.ceil(math.log(max_value) * self._inv_ln_gamma)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogMapping):
            return NotImplemented
        return (self.relative_accuracy, self.min_value, self.max_value) == (
            other.relative_accuracy,
            other.min_value,
            other.max_value,
        )

    def __hash__(self) -> int:
        return hash((self.relative_accuracy, self.min_value, self.max_value))

    def index(self, value: float) -> int | None:
        """Bucket index of ``value``; ``None`` for the zero bucket (``value <= min_value``)."""
        if value <= self.min_value:
            return None
        if value >= self.max_value:
            return self._max_index
        return math.ceil(math.log(value) * self._inv_ln_gamma)

    def value(self, index: int, position: float = 0.5) -> float:
        """The value at log-linear ``position`` in [0, 1] inside bucket ``index``."""
        return math.exp((index - 1 + position) * self._ln_gamma)

    @property
    def max_buckets(self) -> int:
        """Upper bound on the number of buckets one sketch can span."""
        return self._max_index - math.ceil(math.log(self.min_value) * self._inv_ln_gamma) + 1
