"""The column fold's duration columns packed in bytes, for batches of the C buffer.

The column kind :mod:`._columns` folds a batch of the C buffer with (:mod:`._column_arrays` and
:mod:`._column_lists` fold lists of records): a duration column is float64 bytes with NaN where a
record has no value, as the C buffer (:mod:`._buffer`) gives it, and the clamp, the TPOT and
decode-speed derivations, the selection of each run's values and their bucket counts are C loops of
the extension (``_records.c``) over those bytes. Each value gets the bucket
:meth:`LogMapping.index` gives it (the same libm ``log`` and IEEE operations as ``math.log`` and
``math.ceil``), so the sketches equal the other kinds' (``tests/processors/test_fold_paths.py``
compares the whole state).

Why: lists cost a float object per value and a sort of each run's values (to cut them at the
buckets' boundaries), and numpy a fixed cost per call. Measured on Python 3.11 (``benchmarks/
processors.py --alone``, 2,000 streamed spans just ended and folded from memory), the fold of a
batch of the C buffer cost 0.66 µs per span with lists, 0.30 with numpy arrays and 0.21-0.22 with
packed columns, with or without numpy.
"""

from __future__ import annotations

from typing import Any

from infertel._internal.quantiles import QuantileSketch
from infertel._internal.quantiles._bulk import add_bucket_counts

try:
    from infertel._internal.processors import _records
except ImportError:  # (only made for batches of the C buffer, which needs the extension)
    _records = None  # type: ignore[assignment]


class PackedColumns:
    """Column operations on float64 bytes (NaN: no value), as :class:`~._column_arrays.ArrayColumns` on arrays."""

    __slots__ = ()

    def clamp(self, ttft: bytes, latency: bytes) -> bytes:
        """Each TTFT clamped to its latency (NaN, no TTFT, stays NaN)."""
        return _records.clamp(ttft, latency)

    def derive(self, latency: bytes, ttft: bytes, tpot: bytes, output_tokens: list[Any]) -> tuple[bytes, bytes] | None:
        """``(tpot, decode speed)`` for the records without a TPOT but with output tokens, or ``None`` if none."""
        return _records.derive(latency, ttft, tpot, output_tokens)

    def selection(self, run: range | list[int], whole: bool) -> list[int] | None:
        """What :meth:`run_values` takes for the records at ``run``: ``None`` for every record."""
        return None if whole else list(run)

    def run_values(self, column: bytes, selected: list[int] | None, gaps: bool = True) -> bytes:
        """The values of ``column`` at ``selected`` (:meth:`selection`), absent ones (NaN) left out."""
        return _records.select(column, selected)

    def count(self, sketch: QuantileSketch, values: bytes) -> None:
        """Count ``values`` into ``sketch``: the same buckets, counts and widths as ``add_values``."""
        mapping = sketch.mapping
        zero, low, counts = _records.bucket_counts(
            values, mapping._inv_ln_gamma, mapping.min_value, mapping.max_value, mapping._max_index
        )
        add_bucket_counts(sketch, zero, low, counts, len(values) // 8)
