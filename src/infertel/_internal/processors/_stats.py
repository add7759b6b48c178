"""Per-series statistics over sliding windows, fed by the span processor.

The hot path on the user's thread takes no lock: ``on_start`` sets one dict item (span id ->
the span's attributes; in-flight counts are derived from the dict's values at query time),
``on_end`` pops it and appends the span's fields to the buffer (:mod:`._buffer`: the C extension's,
which reads the six attribute values the fold needs right then, or a list of tuples; single dict
operations and each append are atomic under the GIL). The records are folded into the series'
staging slots in batches (:mod:`._fold`): by the background folder (:mod:`._folder`) once a buffer
holds 2,048 records or its oldest has waited 60 s (5 s in a list), by the thread whose append fills
a batch (when no other thread is folding), and before every query. Folding and querying hold one lock, so any number of
threads and event loops can start and end spans concurrently.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from infertel import environment_variables, semconv
from infertel._internal.limits import bound_name
from infertel._internal.processors import _buffer, _folder
from infertel._internal.processors._fold import fold
from infertel._internal.processors._parents import ParentTable
from infertel._internal.processors._snapshot import (
    OVERFLOW_KEY,
    Distribution,
    SeriesKey,
    SeriesStats,
    Snapshot,
)
from infertel._internal.processors._window import Series as _Series
from infertel._internal.processors._window import Window
from infertel._internal.quantiles import LogMapping, QuantileSketch

_logger = logging.getLogger(__name__)

DEFAULT_WINDOWS_S = (60.0, 300.0, 900.0)
DEFAULT_QUANTILES = (0.5, 0.9, 0.95, 0.99, 0.999)
DEFAULT_MAX_SERIES = 1000
DEFAULT_SLOTS_PER_WINDOW = 6
DEFAULT_RELATIVE_ACCURACY = 0.01
MIN_DURATION_S = 1.0
"""Rates divide by the seconds a window covers, but never by less than this."""
FOLD_BATCH = 8192
"""A thread whose append brings the buffer to this length folds it; normally the background
folder (:mod:`._folder`) drains the buffer long before, so ending a span only appends."""
MAX_TRACKED_IN_FLIGHT = 100_000
"""Spans started and not ended that are tracked for ``in_flight``; later ones are not counted."""
MAX_BUFFER = 65_536
"""Hard cap on unfolded records; only reached if folding stalls (later records are then dropped and
counted, see :meth:`InferenceStats.losses`)."""


def validate_config(
    windows_s: Iterable[float],
    quantiles: Iterable[float],
    max_series: int,
    extra_attributes: Iterable[str],
    slots_per_window: int,
    relative_accuracy: float,
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[str, ...]]:
    """Check the options; return normalised ``(windows_s, quantiles, extra_attributes)``.

    Raises:
        ValueError: naming the setting and the accepted values.
    """
    try:
        windows = tuple(sorted({float(w) for w in windows_s}))
    except (TypeError, ValueError):
        raise ValueError(f"windows_s must be positive numbers of seconds, got {windows_s!r}") from None
    if not windows or any(not (w > 0 and math.isfinite(w)) for w in windows):
        raise ValueError(f"windows_s must be one or more positive, finite numbers of seconds, got {windows_s!r}")
    try:
        qs = tuple(sorted({float(q) for q in quantiles}))
    except (TypeError, ValueError):
        raise ValueError(f"quantiles must be numbers in (0, 1), got {quantiles!r}") from None
    if not qs or any(not 0.0 < q < 1.0 for q in qs):
        raise ValueError(f"quantiles must be one or more numbers in the open interval (0, 1), got {quantiles!r}")
    if isinstance(max_series, bool) or not isinstance(max_series, int) or max_series < 1:
        raise ValueError(f"max_series must be an integer >= 1, got {max_series!r}")
    extras = tuple(extra_attributes)
    if any(not isinstance(a, str) or not a for a in extras):
        raise ValueError(f"extra_attributes must be non-empty attribute names (str), got {extra_attributes!r}")
    if isinstance(slots_per_window, bool) or not isinstance(slots_per_window, int) or slots_per_window < 1:
        raise ValueError(f"slots_per_window must be an integer >= 1, got {slots_per_window!r}")
    if not 0.0 < relative_accuracy < 0.5:
        raise ValueError(f"relative_accuracy must be in (0, 0.5), got {relative_accuracy!r}")
    return windows, qs, extras


class InferenceStats:
    """Live per-series statistics over several sliding windows at once.

    Memory: per series, each window keeps ``slots_per_window`` slots plus an open slot and the
    sum of its closed slots, each with up to four sketches (latency, TTFT, TPOT, decode speed);
    closed slots are kept zlib-compressed. A sketch spans only the buckets its values touched,
    one byte per bucket while counts fit, and never more than ``LogMapping.max_buckets`` (4,166
    at 1 %), so memory is bounded whatever the request rate; the benchmark measures about
    23 KiB per series at 10 requests/s with the default windows. Idle series (empty windows,
    nothing in flight) are dropped at the next query.

    Args:
        windows_s: Window lengths in seconds (several at once share nothing but the input).
        quantiles: Quantiles reported, each in (0, 1).
        max_series: Most series kept, the overflow series included; later series fold into
            the overflow series (``otel.metric.overflow=true``) with a one-time warning.
        extra_attributes: Span attributes that split series beyond model and operation.
        clock: Seconds from a monotonic clock; injectable for tests. Default ``time.monotonic``.
        slots_per_window: Slots each window is cut into; the window slides by ``window / slots``.
        relative_accuracy: Guaranteed relative error of every quantile.

    Thread safety: every method may be called from any thread; :meth:`record_start` and
    :meth:`record_end` take no lock. Nothing here raises on bad span data (it is dropped
    with a rate-limited warning).

    Example:
        >>> stats = InferenceStats(windows_s=(60,), clock=lambda: 10.0)
        >>> stats.record_end(stats.end_record(("m", "chat"), 0.5, None, None, 3, 7, None))
        >>> stats.snapshot(60)["m", "chat"].requests
        1
    """

    def __init__(
        self,
        *,
        windows_s: Iterable[float] = DEFAULT_WINDOWS_S,
        quantiles: Iterable[float] = DEFAULT_QUANTILES,
        max_series: int = DEFAULT_MAX_SERIES,
        extra_attributes: Iterable[str] = (),
        clock: Callable[[], float] | None = None,
        slots_per_window: int = DEFAULT_SLOTS_PER_WINDOW,
        relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
    ) -> None:
        self.windows_s, self.quantiles, self.extra_attributes = validate_config(
            windows_s, quantiles, max_series, extra_attributes, slots_per_window, relative_accuracy
        )
        self.max_series = max_series
        self.slots_per_window = slots_per_window
        self.clock: Callable[[], float] = clock if clock is not None else time.monotonic
        self.mapping = LogMapping(relative_accuracy)
        self.buffer: Any = _buffer.new_buffer(self.extra_attributes)
        """Ended requests not folded yet, at most :data:`MAX_BUFFER`: span records
        (:data:`._fold.SPAN_RECORD_FIELDS`) and records built from values (:data:`._fold.RECORD_FIELDS`),
        in a list or the C buffer (:mod:`._buffer`)."""
        self._lost = itertools.count()
        self._lock = threading.Lock()
        self._series: dict[SeriesKey, _Series] = {}
        self.in_flight_spans: dict[int, Any] = {}
        """Span id -> series key (or the span's attribute dict) of the spans started and not ended
        (single dict operations are atomic)."""
        self._counted_parents = ParentTable()
        """Parent span id -> series key of a GenAI child already counted (see :mod:`._parents`)."""
        self._overflow_warned = False
        self._origin = self.clock()
        _folder.register(self)

    # --- hot path -------------------------------------------------------------------------
    def end_record(
        self,
        key: SeriesKey,
        latency_s: float,
        ttft_s: Any,
        tpot_s: Any,
        input_tokens: Any,
        output_tokens: Any,
        error_type: Any,
    ) -> tuple[Any, ...]:
        """Build the buffer record of an ended request (of :data:`._fold.RECORD_FIELDS`)."""
        values = (tuple(key), error_type, ttft_s, tpot_s, input_tokens, output_tokens)
        return (self.clock(), latency_s, None, None, None, *values)  # no span: no span ids, no status

    def key_of(self, attributes: Mapping[str, Any]) -> SeriesKey:
        """The series key of a span with ``attributes`` (model, operation, extra attributes)."""
        return (
            attributes.get(semconv.GEN_AI_REQUEST_MODEL),
            attributes.get(semconv.GEN_AI_OPERATION_NAME),
            *[attributes.get(a) for a in self.extra_attributes],
        )

    def record_start(self, span_id: int, key: SeriesKey) -> None:
        """Count span ``span_id`` of series ``key`` in flight until :meth:`record_stop` (lock-free)."""
        if len(self.in_flight_spans) < MAX_TRACKED_IN_FLIGHT:
            self.in_flight_spans[span_id] = key

    def record_stop(self, span_id: int) -> None:
        """Stop counting span ``span_id`` in flight (lock-free; unknown ids are ignored)."""
        self.in_flight_spans.pop(span_id, None)

    def record_end(self, record: tuple[Any, ...]) -> None:
        """Queue an ended request built by :meth:`end_record`; folds a full batch (lock-free append)."""
        buffer = self.buffer
        buffer.append(record)
        if len(buffer) >= FOLD_BATCH:
            self.buffer_full()

    def buffer_full(self) -> None:
        """Fold the buffer after an append brought it to :data:`FOLD_BATCH`.

        When another thread holds the lock and the buffer is past :data:`MAX_BUFFER`, the excess
        is dropped and counted instead (:meth:`losses`).
        """
        if self.fold_if_idle():
            return
        buffer = self.buffer
        while len(buffer) > MAX_BUFFER:
            try:
                buffer.pop()
            except IndexError:  # another thread folded it meanwhile
                return
            next(self._lost)

    def losses(self) -> int:
        """Ended requests dropped because the buffer was full (folding stalled) since this object was made."""
        return int(repr(self._lost)[len("count(") : -1])  # the count's value, without advancing it

    def fold_if_idle(self) -> bool:
        """Fold the buffer unless another thread holds the lock (it drains the buffer anyway).

        Returns:
            Whether this call folded.
        """
        if self._lock.acquire(blocking=False):
            try:
                self._fold()
            finally:
                self._lock.release()
            return True
        return False

    def reset_after_fork(self) -> None:
        """In a forked child: forget the parent's series, buffer and in-flight spans (containers kept)."""
        self._lock = threading.Lock()
        self._series = {}
        self.buffer.clear()
        self.in_flight_spans.clear()
        self._counted_parents.clear()
        self._lost = itertools.count()
        self._overflow_warned = False
        self._origin = self.clock()

    # --- folding --------------------------------------------------------------------------
    def _series_for(self, key: SeriesKey) -> _Series:
        series = self._series.get(key)
        if series is not None:
            return series
        if len(self._series) >= self.max_series - 1 and key != OVERFLOW_KEY:
            if not self._overflow_warned:
                self._overflow_warned = True
                _logger.warning(
                    "infertel: more than %d statistics series (model, operation, attributes); further series are "
                    "counted in one series marked %s=true (raise max_series / %s to keep them apart)",
                    self.max_series - 1,
                    semconv.OTEL_METRIC_OVERFLOW,
                    environment_variables.INFERTEL_STATS_MAX_SERIES,
                )
            key = OVERFLOW_KEY
            series = self._series.get(key)
            if series is not None:
                return series
        if key == OVERFLOW_KEY:
            attributes: dict[str, Any] = {semconv.OTEL_METRIC_OVERFLOW: True}
        else:
            names = (semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_OPERATION_NAME, *self.extra_attributes)
            # Spans of other instrumentations reach here too: a long name is cut before it becomes a gauge attribute.
            attributes = {
                name: bound_name(value, name) if type(value) is str else value
                for name, value in zip(names, key, strict=True)
                if value is not None
            }
        windows = [Window(w, self.slots_per_window, self.mapping) for w in self.windows_s]
        series = self._series[key] = _Series(key, attributes, windows)
        return series

    def _fold(self) -> None:
        """Drain the buffer into the series' staging slots (caller holds the lock)."""
        buffer = self.buffer
        n = len(buffer)
        if n:
            batch = _buffer.take(buffer, n)  # appends made meanwhile stay: they are after the first n
            fold(batch, self._series_for, self.mapping, self._counted_parents, self.extra_attributes)

    # --- queries --------------------------------------------------------------------------
    def _window_position(self, window_s: float) -> int:
        for i, w in enumerate(self.windows_s):
            if w == window_s:
                return i
        accepted = ", ".join(f"{w:g}" for w in self.windows_s)
        raise ValueError(f"window_s must be one of the configured windows ({accepted}), got {window_s!r}")

    def snapshot(self, window_s: float = 60.0, *, model: str | None = None, now: float | None = None) -> Snapshot:
        """Statistics of every series (or of ``model``) over the window of ``window_s`` seconds.

        Raises:
            ValueError: ``window_s`` is not one of the configured windows.
        """
        position = self._window_position(float(window_s))
        return self.snapshots(now=now, model=model, positions=(position,))[0]

    def snapshots(
        self, *, now: float | None = None, model: str | None = None, positions: Sequence[int] | None = None
    ) -> list[Snapshot]:
        """One snapshot per configured window (or per window position given), at one clock instant."""
        with self._lock:
            self._fold()
            for series in self._series.values():
                series.flush(self.mapping)
            if now is None:
                now = self.clock()
            if positions is None:
                positions = range(len(self.windows_s))
            for series in self._series.values():
                series.in_flight = 0
            # list() copies the values in one C call, safe against concurrent on_start/on_end.
            # The processor stores the started span's live attribute dict (the key is derived here,
            # off the hot path); record_start() stores the key itself.
            keys = [v if v.__class__ is tuple else self.key_of(v) for v in list(self.in_flight_spans.values())]
            for key, n in Counter(keys).items():
                self._series_for(key).in_flight += n
            per_window: list[dict[SeriesKey, SeriesStats]] = [{} for _ in positions]
            idle: list[SeriesKey] = []
            for key, series in self._series.items():
                for window in series.windows:
                    window.advance(int(now // window.slot_s))
                if series.in_flight <= 0 and all(w.is_empty() for w in series.windows):
                    idle.append(key)  # nothing left in any window: free the series and its cardinality slot
                    continue
                if model is not None and (key == OVERFLOW_KEY or key[0] != model):
                    continue
                for out, position in zip(per_window, positions, strict=True):
                    out[key] = self._series_stats(series, position, now)
            for key in idle:
                del self._series[key]
            return [
                Snapshot(window_s=self.windows_s[p], time=now, series=out)
                for out, p in zip(per_window, positions, strict=True)
            ]

    def _series_stats(self, series: _Series, position: int, now: float) -> SeriesStats:
        window = series.windows[position]
        summary = window.summary(now)
        # At least one second, so a query right after start does not divide a few requests by ~0 s.
        duration = max(now - max(window.start_time(now), self._origin), MIN_DURATION_S)
        qs = self.quantiles
        sketches = list(summary.sketches)
        tpot = sketches[2]
        if tpot is not None and tpot.count:
            # Streams count their decode speed as 1 / TPOT: reversed TPOT buckets, exact.
            speed = sketches[3]
            if speed is None:
                speed = sketches[3] = QuantileSketch(mapping=self.mapping)
            speed.merge_reciprocal(tpot)
        dists = []
        for sketch in sketches:
            if sketch is None or sketch.count == 0:
                dists.append(Distribution())
            else:
                values = sketch.quantiles(qs)
                dists.append(Distribution(count=sketch.count, quantiles=dict(zip(qs, values, strict=True))))
        overflow = series.key == OVERFLOW_KEY
        return SeriesStats(
            model=None if overflow else series.key[0],
            operation=None if overflow else series.key[1],
            attributes=dict(series.attributes),
            window_s=window.length_s,
            duration_s=duration,
            requests=summary.requests,
            errors=summary.errors,
            errors_by_type=dict(summary.error_types or {}),
            input_tokens=summary.input_tokens,
            output_tokens=summary.output_tokens,
            requests_per_s=summary.requests / duration,
            output_tokens_per_s=summary.output_tokens / duration,
            input_tokens_per_s=summary.input_tokens / duration,
            error_rate=summary.errors / summary.requests if summary.requests else 0.0,
            in_flight=series.in_flight,
            latency=dists[0],
            ttft=dists[1],
            tpot=dists[2],
            decode_speed=dists[3],
        )

    def series_count(self) -> int:
        """Number of series currently kept (the overflow series included)."""
        with self._lock:
            self._fold()
            return len(self._series)

    def memory_bytes(self) -> int:
        """Approximate bytes held by every series' windows (for benchmarks)."""
        with self._lock:
            self._fold()
            for series in self._series.values():
                series.flush(self.mapping)
            return sum(w.memory_bytes() for s in self._series.values() for w in s.windows)
