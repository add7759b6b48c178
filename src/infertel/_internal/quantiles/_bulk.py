"""Counting a batch of values into a :class:`QuantileSketch` at once (the span processor's fold).

Long batches are mapped to buckets with numpy when the application has imported it (infertel
does not depend on it and never imports it: see :func:`numpy_module`); without numpy, lists of
:data:`RUN_MIN` values or more are sorted and cut at their buckets' boundaries (:func:`_add_sorted`)
or, when that cannot be exact or would cost more, mapped with C loops (:func:`_add_run`); shorter
ones value by value in Python. All paths count every value in exactly the same bucket as
:meth:`LogMapping.index`: numpy's ``log`` may differ
from ``math.log`` by an ulp or two, which only matters for a value within a hair of a bucket
boundary, so those few values (about one in ten million) are mapped again with ``math.log``.
Bucket counts, ``count``, ``zero_count`` and the counts' width (widened on overflow like
:meth:`QuantileSketch.add_index`) therefore equal those of adding the values one by one; only
the zero-filled headroom around the counted buckets may differ.
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from itertools import repeat
from operator import add, le, mul, sub
from typing import Any

from infertel._internal.quantiles._sketch import LogMapping, QuantileSketch

VECTOR_MIN = 64
"""Batches at least this long go through numpy. Measured (benchmarks/processors.py machine):
numpy costs about 12 µs per batch plus 0.015 µs per value, the Python path about 0.2 µs per
value, so they cross between 50 and 70 values."""

USE_NUMPY = True
"""Whether numpy may be used at all (tests switch it off to compare both paths)."""

RUN_MIN = 128
"""Lists at least this long go through :func:`_add_sorted` or :func:`_add_run` on the Python path,
shorter ones value by value. Measured on Python 3.11 (lognormal values; per value, value by value
0.21-0.24 µs): :func:`_add_run` (C loops: one ``map`` per step of :meth:`LogMapping.index` and a
``Counter``) 0.24 at 128 values, 0.14 at 2,000; :func:`_add_sorted` 0.21 at 128 values in 96
buckets, 0.05-0.08 at 2,000 values in 140-340 buckets (sorting costs about 0.035 µs per value, the
two binary searches of each bucket boundary about 0.2 µs per bucket)."""

_MARGIN = 1e-9
"""Relative margin around each bucket boundary in :func:`_add_sorted`: ``ceil(log(value) * (1 / ln gamma))``
rounds within about 1e-15 of a value's logarithm (a few ulps of ``log`` and of the product), so a value
outside the margin is in the bucket the exact boundary says."""
_BELOW = 1.0 - _MARGIN
_ABOVE = 1.0 + _MARGIN
_BOUNDARIES: dict[LogMapping, tuple[int, list[float], list[float]]] = {}
SORT_SPREAD = 2
"""A list is sorted and cut at its buckets' boundaries (:func:`_add_sorted`) when it has at least this
many values per bucket it spans, else mapped value by value with C loops (:func:`_add_run`): measured
on Python 3.11, the two cost the same at about two values per bucket (0.12 against 0.16 µs per value
at 2.9 per bucket, 0.20 against 0.18 at 1.5)."""

_COUNT_LIMIT = {"B": 0xFF, "H": 0xFFFF, "I": 0xFFFF_FFFF, "Q": 0xFFFF_FFFF_FFFF_FFFF}
_numpy: Any = None


def numpy_module() -> Any:
    """The numpy module when the application has imported it, else ``None`` (or with :data:`USE_NUMPY` off).

    Never imported here: the fold runs on the background folder's thread, and a ``fork()`` (a
    prefork server's ``--preload``) while that thread is inside numpy's import would leave the
    child with numpy's module lock held by a thread that no longer exists, so the child's next
    import of numpy, or any fold, would hang. An inference process has numpy imported already
    (torch, transformers and vLLM import it); until one does, the Python paths run. Found once, kept.
    """
    global _numpy
    if not USE_NUMPY:
        return None
    if _numpy is None:
        module = sys.modules.get("numpy")
        # Present and fully imported (not a module another thread is still importing).
        if module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False):
            _numpy = module
    return _numpy


def add_values(sketch: QuantileSketch, values: Any) -> None:
    """Count every value of ``values`` in ``sketch``; same counts as ``sketch.add`` one by one.

    ``values``: a list of floats, or a one-dimensional numpy float array.

    Example:
        >>> sketch = QuantileSketch()
        >>> add_values(sketch, [0.5, 1.0, 2.0])
        >>> sketch.count, round(sketch.quantile(0.5), 2)
        (3, 1.0)
    """
    if not len(values):
        return
    if len(values) >= VECTOR_MIN:
        np = numpy_module()
        if np is not None:
            _add_vector(np, sketch, values)
            return
    if type(values) is not list:
        values = values.tolist()  # Python floats: the scalar path's arithmetic, not numpy scalars'
    _add_scalar(sketch, values)


def _add_scalar(sketch: QuantileSketch, values: list[float]) -> None:
    if len(values) >= RUN_MIN and (_add_sorted(sketch, values) or _add_run(sketch, values)):
        return
    mapping = sketch.mapping
    log = math.log
    ceil = math.ceil
    inv = mapping._inv_ln_gamma
    min_value = mapping.min_value
    max_value = mapping.max_value
    max_index = mapping._max_index
    add_index = sketch.add_index
    counts = sketch._counts
    offset = sketch._offset
    added = 0
    for value in values:
        if value <= min_value:
            add_index(None)
            continue
        index = ceil(log(value) * inv) if value < max_value else max_index
        # QuantileSketch.add_index inlined for the common case (bucket in range, no overflow).
        j = index - offset
        if 0 <= j < len(counts):
            try:
                counts[j] += 1
            except OverflowError:
                add_index(index)  # widens the counts
                counts = sketch._counts
            else:
                added += 1
        else:
            add_index(index)  # grows the counts
            counts = sketch._counts
            offset = sketch._offset
    sketch.count += added


def _add_sorted(sketch: QuantileSketch, values: list[float]) -> bool:
    """Count ``values`` by sorting them and finding each bucket's boundary; ``False`` (nothing counted) if not.

    A sorted list holds each bucket's values in one slice, found by one binary search per bucket
    boundary: sorting costs about a quarter of mapping every value (``log``, the scaling, ``ceil``
    and a ``Counter``: :func:`_add_run`). Exact: a boundary ``gamma**i`` is computed with a margin
    each side (:data:`_MARGIN` relative, far wider than the rounding of ``ceil(log(value) * (1 /
    ln gamma))``), and the first value at or above each lower margin must lie above the upper one
    (checked: else ``False``, and :func:`_add_run` maps the values one by one), so each value counts
    in the bucket :meth:`LogMapping.index` gives it. The smallest and largest values, whose
    buckets are computed, must lie outside the margins of the boundaries below and above them too:
    then this holds without assuming that ``log`` rounds monotonically. Values at or below
    ``min_value`` count in the zero bucket, at or above ``max_value`` in the top one, as
    :meth:`LogMapping.index` says. Declined: a NaN or an infinity (the sum is not finite), and
    fewer than :data:`SORT_SPREAD` values per bucket spanned (the binary searches would cost more
    than mapping each value).
    """
    if not math.isfinite(sum(values)):
        return False
    ordered = sorted(values)
    mapping = sketch.mapping
    zero = bisect_right(ordered, mapping.min_value)
    top = bisect_left(ordered, mapping.max_value, zero)
    inside = top - zero
    if inside:
        inv = mapping._inv_ln_gamma
        low = math.ceil(math.log(ordered[zero]) * inv)
        high = math.ceil(math.log(ordered[top - 1]) * inv)
        if (high - low) * SORT_SPREAD > inside:
            return False
        first, below, above = _boundaries(mapping, low - 1, high)
        a = low - first  # below[a] .. below[b]: the boundaries between buckets low .. high
        b = high - first
        if not (ordered[zero] > above[a - 1] and ordered[top - 1] < below[b]):
            return False  # the smallest or largest value lies within a margin
        # The first value at or above each boundary's lower margin, which must lie above its upper one
        # (every such value lies above the smallest boundary, below the largest value: an index in range).
        starts = list(map(bisect_left, repeat(ordered), below[a:b]))
        if any(map(le, map(ordered.__getitem__, starts), above[a:b])):
            return False  # a value lies within a boundary's margin
        ends = [zero, *starts]
        starts.append(top)
        _add_counts(sketch, low, high, list(map(sub, starts, ends)))
    if top < len(ordered):
        _add_counts(sketch, mapping._max_index, mapping._max_index, [len(ordered) - top])
    sketch.zero_count += zero
    sketch.count += len(ordered)
    return True


def _boundaries(mapping: LogMapping, low: int, high: int) -> tuple[int, list[float], list[float]]:
    """``(first, below, above)``: ``gamma**i`` less and plus its margin at item ``i - first``, for ``low <= i <= high``.

    Kept per mapping and grown to the buckets asked for (at most the mapping's range: 4,166
    boundaries at 1 %), so each is computed once.
    """
    found = _BOUNDARIES.get(mapping)
    if found is not None and found[0] <= low and high < found[0] + len(found[1]):
        return found
    if found is not None:
        low = min(low, found[0])
        high = max(high, found[0] + len(found[1]) - 1)
    bounds = list(map(math.exp, map(mul, range(low, high + 1), repeat(mapping._ln_gamma))))
    found = (low, list(map(mul, bounds, repeat(_BELOW))), list(map(mul, bounds, repeat(_ABOVE))))
    if len(_BOUNDARIES) >= 16:  # (a mapping per relative accuracy in use: a handful)
        _BOUNDARIES.clear()
    _BOUNDARIES[mapping] = found
    return found


def add_bucket_counts(sketch: QuantileSketch, zero: int, low: int, counts: list[int], total: int) -> None:
    """Count ``total`` values mapped elsewhere: ``zero`` of them in the zero bucket, ``counts`` in buckets ``low`` on.

    (The values at or above the mapping's range are in ``counts``, at its last index, as ``add`` counts them.)

    Example:
        >>> sketch = QuantileSketch()
        >>> add_bucket_counts(sketch, 1, sketch.mapping.index(1.0), [2], 3)
        >>> sketch.count, sketch.zero_count, round(sketch.quantile(0.9), 2)
        (3, 1, 1.0)
    """
    if counts:
        _add_counts(sketch, low, low + len(counts) - 1, counts)
    sketch.zero_count += zero
    sketch.count += total


def _add_counts(sketch: QuantileSketch, low: int, high: int, counts: list[int]) -> None:
    """Add ``counts`` to buckets ``low`` .. ``high`` (widening the counts on overflow, like one by one)."""
    sketch._grow(low, high)
    start = low - sketch._offset
    stop = high - sketch._offset + 1
    merged = list(map(add, sketch._counts[start:stop], counts))
    while True:
        array_ = sketch._counts
        try:
            array_[start:stop] = array(array_.typecode, merged)
            return
        except OverflowError:
            sketch._widen()


def _add_run(sketch: QuantileSketch, values: list[float]) -> bool:
    """Count ``values`` with C loops if all lie inside the mapping's range; ``False`` (nothing counted) if not.

    The same arithmetic as :meth:`LogMapping.index`, ``ceil(log(value) * (1 / ln gamma))``, one
    ``map`` per step, counted per bucket by ``Counter`` and added to the bucket counts once per
    bucket. The range is checked on the buckets (the index is monotonic): none at or below the
    bucket of ``min_value``, none at or above the top bucket means every value lies strictly
    inside; a run with a value in either edge bucket (rare) goes value by value, as does one with
    a zero, negative, infinite or NaN value (``log`` or ``ceil`` raises).
    """
    mapping = sketch.mapping
    log = math.log
    inv = mapping._inv_ln_gamma
    try:
        buckets = Counter(map(math.ceil, map(mul, map(log, values), repeat(inv))))
    except (ValueError, OverflowError):
        return False
    low = min(buckets)
    high = max(buckets)
    if low <= math.ceil(log(mapping.min_value) * inv) or high >= mapping._max_index:
        return False
    sketch._grow(low, high)
    counts = sketch._counts
    offset = sketch._offset
    for index, count in buckets.items():
        while True:
            try:
                counts[index - offset] += count
                break
            except OverflowError:
                sketch._widen()
                counts = sketch._counts
    sketch.count += len(values)
    return True


def _add_vector(np: Any, sketch: QuantileSketch, values: list[float]) -> None:
    mapping = sketch.mapping
    inv = mapping._inv_ln_gamma
    min_value = mapping.min_value
    max_value = mapping.max_value
    x = np.asarray(values, dtype=np.float64)  # not modified below
    total = x.size
    zero = top = 0
    if not (x.min() > min_value and x.max() < max_value):  # also true with a NaN (counted on top, like add)
        inside_mask = (x > min_value) & (x < max_value)
        zero = int(np.count_nonzero(x <= min_value))
        top = total - zero - int(np.count_nonzero(inside_mask))
        x = x[inside_mask]
    y = np.log(x)
    y *= inv
    index = np.ceil(y)
    # Values whose scaled log lies within ``tolerance`` of an integer sit at a bucket boundary,
    # where an ulp of difference between numpy's and libm's log could move them across it:
    # map those again exactly as LogMapping.index does.
    tolerance = 1e-9 + 1e-11 * inv * (abs(math.log(min_value)) + abs(math.log(max_value)))
    gap = index - y
    for k in np.flatnonzero((gap < tolerance) | (gap > 1.0 - tolerance)).tolist():
        index[k] = math.ceil(math.log(float(x[k])) * inv)
    buckets = index.astype(np.int64)
    if top:
        buckets = np.concatenate((buckets, np.full(top, mapping._max_index, dtype=np.int64)))
    sketch.count += total
    sketch.zero_count += zero
    if not buckets.size:
        return
    low = int(buckets.min())
    high = int(buckets.max())
    added = np.bincount(buckets - low).astype(np.uint64)
    sketch._grow(low, high)
    start = low - sketch._offset
    stop = start + added.size
    view = np.frombuffer(sketch._counts, dtype=sketch._counts.typecode)
    added += view[start:stop]
    del view  # an exported buffer would stop the array from being resized
    peak = int(added.max())
    while peak > _COUNT_LIMIT[sketch._counts.typecode]:
        sketch._widen()
    view = np.frombuffer(sketch._counts, dtype=sketch._counts.typecode)
    view[start:stop] = added
    del view
