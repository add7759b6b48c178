"""Fixed histogram buckets of the span rollups and percentiles by interpolation (as Prometheus does).

Bounds are powers of ``sqrt(2)`` seconds for the duration (a percentile read back is within one
bucket: at most ~41% above or ~29% below the truth, typically much closer with linear
interpolation inside the bucket, like ``histogram_quantile``) and powers of 2 for TTFT and TPOT.
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate

STEPS_S = (10, 60, 600, 3600)
"""Rollup bucket widths in seconds: 10 s and 1 min, plus 10 min and 1 h so that long ranges read few rows."""


def _bounds(lo_exp: int, hi_exp: int, per_octave: int) -> tuple[float, ...]:
    return tuple(2.0 ** (k / per_octave) for k in range(lo_exp, hi_exp + 1))


DURATION_BOUNDS = _bounds(-14, 17, 2)
"""Request duration (s): powers of sqrt(2) from 7.8 ms to 362 s (33 buckets with the overflow one)."""
TTFT_BOUNDS = _bounds(-10, 5, 1)
"""Time to first token (s): powers of 2 from 0.98 ms to 32 s (17 buckets)."""
TPOT_BOUNDS = _bounds(-14, 0, 1)
"""Time per output token (s): powers of 2 from 61 us to 1 s (16 buckets)."""

HISTOGRAMS = (("d", DURATION_BOUNDS), ("f", TTFT_BOUNDS), ("p", TPOT_BOUNDS))
"""Column prefix and bounds of each span-rollup histogram: ``d0..dN`` duration, ``f*`` TTFT, ``p*`` TPOT."""


def bucket_index(bounds: Sequence[float], value: float) -> int:
    """Index of the bucket holding ``value`` (upper bound inclusive, as OTel and Prometheus count).

    Example:
        >>> bucket_index((1.0, 2.0), 1.0), bucket_index((1.0, 2.0), 1.5), bucket_index((1.0, 2.0), 9.0)
        (0, 1, 2)
    """
    return bisect_left(bounds, value)


def quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float | None:
    """The ``q`` quantile of a histogram with ``len(bounds) + 1`` bucket counts, like ``histogram_quantile``.

    Linear interpolation inside the bucket holding the rank; the first bucket starts at 0 (or its
    upper bound when that is not positive); a rank in the overflow bucket returns the highest bound.
    ``None`` when the histogram is empty.

    Example:
        >>> quantile(0.5, (1.0, 2.0, 4.0), (0, 10, 10, 0))
        2.0
    """
    if not bounds:
        return None
    cumulative = list(accumulate(counts))
    total = cumulative[-1] if cumulative else 0
    if total <= 0:
        return None
    rank = q * total
    if min(counts) < 0 or rank <= 0:  # not a plain histogram: walk it bucket by bucket
        return _walk(q, bounds, counts, total)
    i = bisect_left(cumulative, rank)  # the first bucket whose running total reaches the rank (never an empty one)
    if i >= len(counts):
        return float(bounds[-1])
    if i >= len(bounds):
        return float(bounds[-1])
    seen = cumulative[i - 1] if i > 0 else 0
    upper = float(bounds[i])
    lower = float(bounds[i - 1]) if i > 0 else (0.0 if upper > 0 else upper)
    fraction = (rank - seen) / counts[i]
    return lower + (upper - lower) * max(0.0, min(1.0, fraction))


def _walk(q: float, bounds: Sequence[float], counts: Sequence[float], total: float) -> float | None:
    rank = q * total
    seen = 0.0
    for i, count in enumerate(counts):
        if count <= 0:
            continue
        if seen + count >= rank:
            if i >= len(bounds):
                return float(bounds[-1])
            upper = float(bounds[i])
            lower = float(bounds[i - 1]) if i > 0 else (0.0 if upper > 0 else upper)
            fraction = (rank - seen) / count
            return lower + (upper - lower) * max(0.0, min(1.0, fraction))
        seen += count
    return float(bounds[-1])


def finite(value: object) -> float | None:
    """``value`` as a float when it is a finite non-negative number, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def pack_counts(counts: Sequence[int]) -> bytes:
    """Bucket counts as a BLOB (little-endian uint32: a rollup row's count per bucket, like a packed lane).

    Example:
        >>> unpack_counts(pack_counts([0, 3, 1]))
        [0, 3, 1]
    """
    return struct.pack(f"<{len(counts)}I", *counts)


def unpack_counts(blob: bytes) -> list[int]:
    """The counts of a :func:`pack_counts` BLOB."""
    return list(struct.unpack(f"<{len(blob) // 4}I", blob))


def counts_add(a: bytes | None, b: bytes | None) -> bytes | None:
    """SQL function ``infertel_counts_add``: element-wise sum of two count BLOBs (NULL-safe)."""
    if a is None:
        return b
    if b is None:
        return a
    return pack_counts([x + y for x, y in zip(unpack_counts(a), unpack_counts(b), strict=True)])


class CountsSum:
    """SQL aggregate ``infertel_counts_sum``: element-wise sum of count BLOBs (NULLs skipped)."""

    def __init__(self) -> None:
        self.total: list[int] | None = None

    def step(self, blob: bytes | None) -> None:
        """Add one row's counts."""
        if blob is not None:
            counts = unpack_counts(blob)
            self.total = counts if self.total is None else [x + y for x, y in zip(self.total, counts, strict=True)]

    def finalize(self) -> bytes | None:
        """The summed counts (NULL when every row was NULL)."""
        return None if self.total is None else pack_counts(self.total)
