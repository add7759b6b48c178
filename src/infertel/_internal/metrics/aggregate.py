"""In-process aggregation of the GenAI histograms (and counters), published at collection time.

``Histogram.record()`` of the OpenTelemetry SDK costs 12-25 µs per call; an inference call
records up to five of them. :class:`PreAggregator` does the same explicit-bucket aggregation
(``bisect_left`` into the boundaries, sum, min, max) under one lock per call and turns it into
SDK ``HistogramDataPoint`` objects when a reader collects, honouring each reader's
temporality. The result equals what per-call ``record()`` exports (bucket counts, sum, count,
min, max, attributes, boundaries); exemplars are not produced.

Threading: every method may be called from any thread. ``record_*`` run on the user's thread
and only take the aggregator lock; :meth:`PreAggregator.collect` runs on the reader's thread.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    Sum,
)

from infertel import semconv
from infertel._internal.metrics.instruments import ALL_SPECS, HistogramSpec

CARDINALITY_LIMIT = 2000
"""Distinct attribute sets per metric before the overflow set (the SDK's default limit)."""

_MAX_CACHED_GROUPS = 4096
FOLD_AT = 256
"""Calls recorded but not yet aggregated before the recording thread aggregates them (bounded memory)."""
_OVERFLOW_ATTRIBUTES: dict[str, Any] = {semconv.OTEL_METRIC_OVERFLOW: True}
_SINK = HistogramSpec("infertel.unrecorded", "1", "values no instrument of the naming mode records", ())


class Series:
    """Live explicit-bucket histogram of one (metric, attribute set); mutated under the lock."""

    __slots__ = ("spec", "attributes", "bounds", "counts", "sum", "min", "max", "start_ns")

    def __init__(self, spec: HistogramSpec, attributes: dict[str, Any]) -> None:
        self.spec = spec
        self.attributes = attributes
        self.bounds = spec.boundaries
        self.counts = [0] * (len(spec.boundaries) + 1)
        self.sum: float = 0
        self.min = math.inf
        self.max = -math.inf
        self.start_ns = time.time_ns()


def add(series: Series, value: float) -> None:
    """Aggregate one value (caller holds the lock); the same arithmetic as the SDK's aggregation."""
    series.counts[bisect_left(series.bounds, value)] += 1
    series.sum += value
    if value < series.min:
        series.min = value
    if value > series.max:
        series.max = value


class _Accumulated:
    """What one reader has not yet exported (delta) or has accumulated so far (cumulative)."""

    __slots__ = ("attributes", "counts", "sum", "min", "max", "start_ns")

    def __init__(self, attributes: dict[str, Any], n_buckets: int, start_ns: int) -> None:
        self.attributes = attributes
        self.counts = [0] * n_buckets
        self.sum: float = 0
        self.min = math.inf
        self.max = -math.inf
        self.start_ns = start_ns


class _ReaderState:
    __slots__ = ("temporality", "counter_temporality", "accumulated", "last_collect_ns")

    def __init__(self, temporality: AggregationTemporality, counter_temporality: AggregationTemporality) -> None:
        self.temporality = temporality
        self.counter_temporality = counter_temporality
        self.accumulated: dict[int, _Accumulated] = {}
        self.last_collect_ns = time.time_ns()


class MoreSeries:
    """Series of the same values under other names (``OTEL_SEMCONV_STABILITY_OPT_IN``); None: not recorded."""

    __slots__ = ("duration", "input_tokens", "output_tokens", "first", "per_output", "more")

    def __init__(
        self,
        duration: Series | None,
        input_tokens: Series | None,
        output_tokens: Series | None,
        first: Series | None,
        per_output: Series | None,
        more: MoreSeries | None = None,
    ) -> None:
        self.duration = duration
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.first = first
        self.per_output = per_output
        self.more = more


class SeriesGroup:
    """The series one call updates, resolved once per attribute combination and cached.

    ``more`` chains the series of the same values under other names, if any.
    """

    __slots__ = ("duration", "input_tokens", "output_tokens", "first", "per_output", "more")

    def __init__(
        self,
        duration: Series,
        input_tokens: Series,
        output_tokens: Series,
        first: Series,
        per_output: Series,
        more: MoreSeries | None = None,
    ) -> None:
        self.duration = duration
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.first = first
        self.per_output = per_output
        self.more = more


def _add_more(
    group: MoreSeries | None,
    duration_s: float,
    input_tokens: Any,
    output_tokens: Any,
    first_s: Any,
    per_output_s: Any,
) -> None:
    """:meth:`PreAggregator.fold_pending` for the further groups of a call (caller holds the lock)."""
    while group is not None:
        if group.duration is not None:
            add(group.duration, duration_s)
        if input_tokens is not None and group.input_tokens is not None:
            add(group.input_tokens, input_tokens)
        if output_tokens is not None and group.output_tokens is not None:
            add(group.output_tokens, output_tokens)
        if first_s is not None and group.first is not None:
            add(group.first, first_s)
        if per_output_s is not None and group.per_output is not None:
            add(group.per_output, per_output_s)
        group = group.more


class PreAggregator:
    """Explicit-bucket histograms aggregated in-process for one MeterProvider.

    Example:
        >>> from infertel._internal.metrics.instruments import CLIENT_TOKEN_USAGE
        >>> agg = PreAggregator()
        >>> s = agg.series(CLIENT_TOKEN_USAGE, {"gen_ai.token.type": "input"})
        >>> with agg.lock:
        ...     add(s, 12)
    """

    def __init__(self, cardinality_limit: int = CARDINALITY_LIMIT) -> None:
        self.lock = threading.Lock()
        self._limit = cardinality_limit
        self._series: dict[str, dict[tuple[tuple[str, Any], ...], Series]] = {s.name: {} for s in ALL_SPECS}
        self._overflow: dict[str, Series] = {}
        self._all: list[Series] = []
        self.sink = Series(_SINK, {})
        """Takes the values of instruments a naming mode does not record; never published (not in ``_all``)."""
        self._readers: dict[int, _ReaderState] = {}
        self.groups: dict[object, SeriesGroup] = {}
        self.pending: collections.deque[tuple[SeriesGroup, float, Any, Any, Any, Any]] = collections.deque()
        """Calls recorded since the last fold: (group, duration, input, output, first, per output)."""

    # --- user thread --------------------------------------------------------------------------
    def series(self, spec: HistogramSpec, attributes: dict[str, Any]) -> Series:
        """The live series of ``spec`` for ``attributes`` (created on first use, bounded)."""
        key = tuple(sorted(attributes.items()))
        with self.lock:
            by_attrs = self._series[spec.name]
            found = by_attrs.get(key)
            if found is not None:
                return found
            if len(by_attrs) >= self._limit:
                overflow = self._overflow.get(spec.name)
                if overflow is None:
                    overflow = self._overflow[spec.name] = Series(spec, dict(_OVERFLOW_ATTRIBUTES))
                    self._all.append(overflow)
                return overflow
            created = by_attrs[key] = Series(spec, dict(attributes))
            self._all.append(created)
            return created

    def fold_pending(self) -> None:
        """Aggregate the calls in :attr:`pending`, oldest first (caller holds the lock).

        Appending a call to the deque costs a fraction of aggregating it under the lock (with
        the SDK's spans around it, about 1 µs per call); folding many at once is cheaper per
        call. The order of arrival is kept, so sums equal per-call ``record()``'s bit for bit.
        """
        popleft = self.pending.popleft
        while True:
            try:
                group, duration_s, input_tokens, output_tokens, first_s, per_output_s = popleft()
            except IndexError:
                return
            add(group.duration, duration_s)
            if input_tokens is not None:
                add(group.input_tokens, input_tokens)
            if output_tokens is not None:
                add(group.output_tokens, output_tokens)
            if first_s is not None:
                add(group.first, first_s)
            if per_output_s is not None:
                add(group.per_output, per_output_s)
            if group.more is not None:
                _add_more(group.more, duration_s, input_tokens, output_tokens, first_s, per_output_s)

    def cache_group(self, key: object, group: SeriesGroup) -> None:
        """Remember a resolved group (bounded; past the bound groups are resolved per call)."""
        if len(self.groups) < _MAX_CACHED_GROUPS:
            self.groups[key] = group

    def reset_after_fork(self) -> None:
        """In a forked child: the parent's counts are the parent's; series restart at the fork.

        Series objects are kept (cached groups point at them), zeroed; what each reader
        accumulated and the calls not yet folded are dropped.
        """
        self.lock = threading.Lock()
        self.pending.clear()
        now = time.time_ns()
        for series in self._all:
            series.counts = [0] * len(series.counts)
            series.sum = 0
            series.min = math.inf
            series.max = -math.inf
            series.start_ns = now
        for state in self._readers.values():
            state.accumulated = {}
            state.last_collect_ns = now

    # --- reader thread ------------------------------------------------------------------------
    def register_reader(
        self,
        reader: object,
        temporality: AggregationTemporality,
        counter_temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE,
    ) -> None:
        """Start accumulating for ``reader`` (data recorded from now on reaches it).

        ``temporality`` is the reader's for histograms, ``counter_temporality`` for counters.
        """
        with self.lock:
            self.fold_pending()  # earlier calls are not the new reader's
            self._readers.setdefault(id(reader), _ReaderState(temporality, counter_temporality))

    def unregister_reader(self, reader: object) -> None:
        """Forget ``reader`` (removed from its MeterProvider)."""
        with self.lock:
            self._readers.pop(id(reader), None)

    def collect(self, reader: object) -> list[Metric]:
        """The histograms ``reader`` exports now, in its temporality."""
        now = time.time_ns()
        with self.lock:
            state = self._readers.get(id(reader))
            if state is None:
                return []
            self.fold_pending()
            self._drain()
            result = self._emit(state, now)
            state.last_collect_ns = now
        return result

    def _drain(self) -> None:
        """Move every live series' new data into every reader's accumulation (lock held)."""
        readers = list(self._readers.values())
        for series in self._all:
            counts = series.counts
            if not any(counts):
                continue
            snapshot = (list(counts), series.sum, series.min, series.max)
            n = len(counts)
            for i in range(n):
                counts[i] = 0
            series.sum = 0
            series.min = math.inf
            series.max = -math.inf
            sid = id(series)
            for state in readers:
                acc = state.accumulated.get(sid)
                if acc is None:
                    temporality = state.counter_temporality if series.spec.counter else state.temporality
                    start = series.start_ns if temporality is AggregationTemporality.CUMULATIVE else 0
                    acc = state.accumulated[sid] = _Accumulated(series.attributes, n, start)
                s_counts, s_sum, s_min, s_max = snapshot
                acc.counts = [a + b for a, b in zip(s_counts, acc.counts, strict=True)]
                acc.sum = s_sum + acc.sum
                acc.min = min(s_min, acc.min)
                acc.max = max(s_max, acc.max)

    def _emit(self, state: _ReaderState, now: int) -> list[Metric]:
        by_spec: dict[str, list[Any]] = {}
        specs = {id(s): s.spec for s in self._all}
        delta = state.temporality is AggregationTemporality.DELTA
        counter_delta = state.counter_temporality is AggregationTemporality.DELTA
        exported: list[int] = []
        for sid, acc in state.accumulated.items():
            spec = specs[sid]
            if spec.counter:  # a monotonic sum: the one bucket counts the adds, ``sum`` is the value
                by_spec.setdefault(spec.name, []).append(
                    NumberDataPoint(
                        attributes=acc.attributes,
                        start_time_unix_nano=state.last_collect_ns if counter_delta else acc.start_ns,
                        time_unix_nano=now,
                        value=acc.sum,
                        exemplars=[],
                    )
                )
                if counter_delta:
                    exported.append(sid)
                continue
            by_spec.setdefault(spec.name, []).append(
                HistogramDataPoint(
                    attributes=acc.attributes,
                    start_time_unix_nano=state.last_collect_ns if delta else acc.start_ns,
                    time_unix_nano=now,
                    count=sum(acc.counts),
                    sum=acc.sum,
                    bucket_counts=tuple(acc.counts),
                    explicit_bounds=spec.boundaries,
                    min=acc.min,
                    max=acc.max,
                    exemplars=[],
                )
            )
            if delta:
                exported.append(sid)
        for sid in exported:  # a delta reader starts over after each collection
            del state.accumulated[sid]
        return [
            Metric(
                name=spec.name,
                description=spec.description,
                unit=spec.unit,
                data=Sum(
                    data_points=by_spec[spec.name],
                    aggregation_temporality=state.counter_temporality,
                    is_monotonic=True,
                )
                if spec.counter
                else Histogram(data_points=by_spec[spec.name], aggregation_temporality=state.temporality),
            )
            for spec in ALL_SPECS
            if spec.name in by_spec
        ]


def data_points_equal(a: Sequence[HistogramDataPoint], b: Sequence[HistogramDataPoint]) -> bool:
    """Whether two sets of points agree on everything but timestamps and exemplars (for tests/tools)."""

    def key(p: HistogramDataPoint) -> tuple[Any, ...]:
        return (
            tuple(sorted(p.attributes.items())) if p.attributes else (),
            p.count,
            p.sum,
            tuple(p.bucket_counts),
            tuple(p.explicit_bounds),
            p.min,
            p.max,
        )

    return sorted(map(key, a), key=repr) == sorted(map(key, b), key=repr)
