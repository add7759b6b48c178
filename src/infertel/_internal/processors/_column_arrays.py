"""The column fold's value columns as numpy arrays (when the application has imported numpy).

One of the two column kinds :mod:`._columns` folds with (the other: :mod:`._column_lists`). A
duration column is a float64 array with NaN where a record has no value; the latencies, the
TTFT clamp, the TPOT and decode-speed derivations and the selection of each run's values are
whole-array operations, and :func:`~infertel._internal.quantiles._bulk.add_values` maps the values
to buckets with numpy too. Every result equals Python's arithmetic on the same values (the
record-by-record fold's): see each method.
"""

from __future__ import annotations

import math
from typing import Any

from infertel._internal.processors._column_lists import EXACT_INT, Declined, float_count
from infertel._internal.quantiles import QuantileSketch
from infertel._internal.quantiles._bulk import add_values


class ArrayColumns:
    """Column operations on numpy arrays (``np``: the numpy module), as :class:`~._column_lists.ListColumns`."""

    __slots__ = ("np",)

    def __init__(self, np: Any) -> None:
        self.np = np

    def durations(self, n: int, values: list[Any]) -> Any:
        """``values`` as a float array (``None`` -> NaN) if each is ``None`` or a float >= 0; else :class:`Declined`."""
        np = self.np
        floats = float_count(n, values)
        if floats == n:
            array = np.fromiter(values, dtype=np.float64, count=n)  # (no type inference: they are floats)
        elif not floats:
            return np.full(n, math.nan)
        else:
            array = np.array(values, dtype=np.float64)
        if np.count_nonzero(array >= 0.0) != floats:
            raise Declined  # a negative or NaN duration
        return array

    def latencies(self, elapsed: list[Any]) -> Any:
        """``elapsed / 1e9`` (0 when ``elapsed <= 0``) as Python computes it from ints; else :class:`Declined`."""
        np = self.np
        nanoseconds = np.array(elapsed)
        if nanoseconds.dtype != np.int64 or nanoseconds.max() >= EXACT_INT:
            raise Declined  # not all ints, or 104 days or more (Python's int / int rounds once, float64 would twice)
        return np.maximum(nanoseconds, 0) / 1_000_000_000

    def clamp(self, ttft: Any, latency: Any) -> Any:
        """Each TTFT clamped to its latency (NaN, no TTFT, stays NaN)."""
        return self.np.where(ttft > latency, latency, ttft)

    def derive(self, latency: Any, ttft: Any, tpot: Any, output_tokens: list[Any]) -> tuple[Any, Any] | None:
        """``(tpot, decode speed)`` for the records without a TPOT but with output tokens, or ``None`` if none.

        TPOT ``(latency - TTFT) / (output tokens - 1)`` for a stream with two or more output tokens
        that ended after its first chunk, else the speed ``output tokens / latency`` (the token
        counts are ints below 2**53: exact as floats, so each operation rounds as Python's does).
        """
        np = self.np
        missing = np.isnan(tpot)
        if not missing.any():
            return None
        output = np.array(output_tokens, dtype=np.float64)  # None -> NaN
        need = missing & (output > 0.0)
        if not need.any():
            return None
        derived = need & (output >= 2.0) & (latency > ttft)  # False where there is no TTFT (NaN)
        tpot = tpot.copy()
        tpot[derived] = (latency[derived] - ttft[derived]) / (output[derived] - 1.0)
        fast = need & ~derived & (latency > 0.0)
        speed = np.full(latency.size, math.nan)
        speed[fast] = output[fast] / latency[fast]
        return tpot, speed

    def selection(self, run: range | list[int], whole: bool) -> Any:
        """What :meth:`run_values` takes for the records at ``run``: every record when ``whole``."""
        np = self.np
        return slice(None) if whole else np.array(run, dtype=np.intp)

    def count(self, sketch: QuantileSketch, values: Any) -> None:
        """Count ``values`` (:meth:`run_values`) into ``sketch``."""
        add_values(sketch, values)

    def run_values(self, column: Any, selected: Any, gaps: bool = True) -> Any:
        """The values of ``column`` at ``selected`` (:meth:`selection`), absent ones (NaN) left out.

        Without ``gaps`` (the latencies) every record has a value.
        """
        values = column[selected]
        return values[~self.np.isnan(values)] if gaps else values
