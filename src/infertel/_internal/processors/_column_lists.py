"""The column fold's value columns as Python lists (without numpy).

One of the two column kinds :mod:`._columns` folds with (the other: :mod:`._column_arrays`). A
duration column is a list of floats: a plain ``list`` when every record has a value, a
:class:`Gaps` list (``None`` where a record has none) otherwise, and ``None`` when no record has
one. Checks and arithmetic are C loops over whole columns (``map`` of ``type``, ``operator.truediv``,
``min``; ``sum`` and ``min`` for the range checks), so a batch costs few bytecodes per record;
values are counted into the sketches sorted and cut at the buckets' boundaries
(:func:`~infertel._internal.quantiles._bulk.add_values`). Every value is computed by the same
Python operation as in the record-by-record fold, on the same operands.
"""

from __future__ import annotations

from itertools import repeat
from operator import gt, truediv
from typing import Any

from infertel._internal.quantiles import QuantileSketch
from infertel._internal.quantiles._bulk import add_values

EXACT_INT = 2**53
"""Integers below this convert to float exactly (as Python's int / int and int / float do)."""
_NONE = type(None)
_BILLION = repeat(1_000_000_000)


class Declined(Exception):
    """A column the column fold does not take (a value the record-by-record fold checks and warns about)."""


class Gaps(list[Any]):
    """A column with ``None`` where a record has no value (a plain ``list`` has a value for every record)."""

    __slots__ = ()


def float_count(n: int, values: list[Any]) -> int:
    """How many of the ``n`` values are floats, when each is a float or ``None``; else :class:`Declined`."""
    kinds = list(map(type, values))
    floats = kinds.count(float)
    if floats != n and floats + kinds.count(_NONE) != n:
        raise Declined  # ints, bools, strings...: the record-by-record checks and warnings
    return floats


class ListColumns:
    """Column operations on lists: the same results as :class:`~._column_arrays.ArrayColumns`, without numpy."""

    __slots__ = ()

    def durations(self, n: int, values: list[Any]) -> list[float] | None:
        """``values`` if each is ``None`` or a float >= 0; else :class:`Declined`.

        A :class:`Gaps` list when some are ``None``, ``None`` when all are.
        """
        floats = float_count(n, values)
        if floats == n:
            present = values
        elif not floats:
            return None
        else:
            present = [value for value in values if value is not None]
            values = Gaps(values)
        total = sum(present)  # NaN if a value is NaN (no value is -inf once the minimum is >= 0)
        if not (total == total and min(present) >= 0.0):
            raise Declined  # a negative or NaN duration
        return values

    def latencies(self, elapsed: list[Any]) -> list[float]:
        """``elapsed / 1e9`` (0 when ``elapsed <= 0``): the record-by-record fold's operation on each value.

        Values that cannot be compared with 0 raise :class:`Declined` (the record-by-record fold drops their records).
        """
        try:
            if min(elapsed) > 0:
                return list(map(truediv, elapsed, _BILLION))
            return [value / 1_000_000_000 if value > 0 else 0.0 for value in elapsed]
        except TypeError:
            raise Declined from None

    def clamp(self, ttft: list[float] | None, latency: list[float]) -> list[float] | None:
        """Each TTFT clamped to its latency."""
        if ttft is None:
            return None
        if type(ttft) is list:
            return list(map(min, ttft, latency)) if any(map(gt, ttft, latency)) else ttft
        pairs = zip(ttft, latency, strict=True)
        return Gaps(value if value is None or not value > bound else bound for value, bound in pairs)

    def derive(
        self, latency: list[float], ttft: list[float] | None, tpot: list[float] | None, output_tokens: list[Any]
    ) -> tuple[list[float] | None, list[float] | None] | None:
        """``(tpot, decode speed)`` for the records without a TPOT but with output tokens, or ``None`` if none.

        As record by record: TPOT ``(latency - TTFT) / (output tokens - 1)`` for a stream with two or
        more output tokens that ended after its first chunk, else the speed ``output tokens / latency``.
        """
        if type(tpot) is list or not any(output_tokens):
            return None  # every record has a TPOT, or none has output tokens
        n = len(latency)
        derived = Gaps(repeat(None, n)) if tpot is None else Gaps(tpot)
        speed = Gaps(repeat(None, n))
        found = False
        firsts = repeat(None, n) if ttft is None else ttft
        for i, (output, given, first, elapsed) in enumerate(zip(output_tokens, derived, firsts, latency, strict=True)):
            if given is None and output:  # (a count is None or an int >= 0)
                found = True
                if first is not None and output >= 2 and elapsed > first:
                    derived[i] = (elapsed - first) / (output - 1)
                elif elapsed > 0.0:
                    speed[i] = output / elapsed
        if not found:
            return None
        return derived, speed

    def selection(self, run: range | list[int], whole: bool) -> range | list[int] | None:
        """What :meth:`run_values` takes for the records at ``run``: ``None`` for every record."""
        return None if whole else run

    def count(self, sketch: QuantileSketch, values: Any) -> None:
        """Count ``values`` (:meth:`run_values`) into ``sketch``."""
        add_values(sketch, values)

    def run_values(self, column: list[float], selected: range | list[int] | None, gaps: bool = True) -> list[float]:
        """The values of ``column`` at ``selected`` (:meth:`selection`), absent ones left out.

        (``gaps`` is for the array columns: a list column says itself whether it has gaps.)
        """
        values = column if selected is None else list(map(column.__getitem__, selected))
        if type(column) is Gaps:
            return [value for value in values if value is not None]
        return values
