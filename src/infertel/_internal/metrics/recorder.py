"""Recording one inference call's GenAI histograms: pre-aggregated or per-call ``record()``.

:func:`recorder_for` picks, per MeterProvider, the pre-aggregated path (an SDK provider whose
readers :func:`~infertel._internal.metrics.hook.enable_preaggregation` could hook) or the
per-call path (any other provider, e.g. a vendor's or the API's no-op one).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from opentelemetry import metrics as metrics_api

from infertel import semconv
from infertel._internal.metrics.aggregate import FOLD_AT, PreAggregator, SeriesGroup, add
from infertel._internal.metrics.hook import SCOPE, enable_preaggregation
from infertel._internal.metrics.instruments import CLIENT, KindMetrics

MetricKey = tuple[str, "str | None", "str | None", "str | None", "str | None", "int | None"]
"""(operation, request model (None: not known), provider, response model, server address, server port)."""

_MAX_CACHED_ATTRIBUTES = 4096


def base_attributes(key: MetricKey) -> dict[str, Any]:
    """The low-cardinality metric attributes of ``key`` (no error type, no token type)."""
    operation, model, provider, response_model, address, port = key
    attributes: dict[str, Any] = {semconv.GEN_AI_OPERATION_NAME: operation}
    if model is not None:  # conditionally required: omitted when the request named no model
        attributes[semconv.GEN_AI_REQUEST_MODEL] = model
    if provider:
        attributes[semconv.GEN_AI_PROVIDER_NAME] = provider
    if response_model:
        attributes[semconv.GEN_AI_RESPONSE_MODEL] = response_model
    if address:
        attributes[semconv.SERVER_ADDRESS] = address
    if port is not None:
        attributes[semconv.SERVER_PORT] = port
    return attributes


class _AttributeSets:
    __slots__ = ("duration", "input_tokens", "output_tokens", "plain")

    def __init__(self, key: MetricKey, error_type: str | None) -> None:
        self.plain = base_attributes(key)
        self.duration = dict(self.plain)
        if error_type:
            self.duration[semconv.ERROR_TYPE] = error_type
        self.input_tokens = {**self.plain, semconv.GEN_AI_TOKEN_TYPE: semconv.GEN_AI_TOKEN_TYPE_INPUT}
        self.output_tokens = {**self.plain, semconv.GEN_AI_TOKEN_TYPE: semconv.GEN_AI_TOKEN_TYPE_OUTPUT}


class Recorder:
    """Records the histograms of one finished call. Thread-safe; never raises for valid input.

    :meth:`resolve` turns a call's attributes into a handle once (callers may cache it when
    :attr:`cacheable`); :meth:`record_resolved` then records the call's values with it.
    """

    cacheable = True

    def resolve(self, kind: KindMetrics, key: MetricKey, error_type: str | None) -> Any:
        """A handle for the series of (``kind``, ``key``, ``error_type``)."""
        raise NotImplementedError

    def record_resolved(
        self,
        kind: KindMetrics,
        handle: Any,
        duration_s: float,
        input_tokens: int | None,
        output_tokens: int | None,
        first_s: float | None,
        per_output_s: float | None,
        gaps_s: list[float] | None,
    ) -> None:
        """Record one call: duration, token usage, time to first token/chunk and per-output time(s)."""
        raise NotImplementedError

    def record(
        self,
        kind: KindMetrics,
        key: MetricKey,
        error_type: str | None,
        duration_s: float,
        input_tokens: int | None,
        output_tokens: int | None,
        first_s: float | None,
        per_output_s: float | None,
        gaps_s: list[float] | None,
    ) -> None:
        """:meth:`resolve` and :meth:`record_resolved` in one."""
        self.record_resolved(
            kind,
            self.resolve(kind, key, error_type),
            duration_s,
            input_tokens,
            output_tokens,
            first_s,
            per_output_s,
            gaps_s,
        )


class PreAggregatedRecorder(Recorder):
    """One lock acquisition per call into a :class:`PreAggregator`."""

    def __init__(self, aggregator: PreAggregator) -> None:
        self._agg = aggregator

    def resolve(self, kind: KindMetrics, key: MetricKey, error_type: str | None) -> SeriesGroup:
        """See :meth:`Recorder.resolve`."""
        agg = self._agg
        group_key = (kind is CLIENT, key, error_type)
        group = agg.groups.get(group_key)
        if group is None:
            sets = _AttributeSets(key, error_type)
            group = SeriesGroup(
                agg.series(kind.duration, sets.duration),
                agg.series(kind.tokens, sets.input_tokens),
                agg.series(kind.tokens, sets.output_tokens),
                agg.series(kind.first, sets.plain),
                agg.series(kind.per_output, sets.plain),
            )
            agg.cache_group(group_key, group)
        return group

    def record_resolved(
        self,
        kind: KindMetrics,
        handle: Any,
        duration_s: float,
        input_tokens: int | None,
        output_tokens: int | None,
        first_s: float | None,
        per_output_s: float | None,
        gaps_s: list[float] | None,
    ) -> None:
        """See :meth:`Recorder.record_resolved`."""
        agg = self._agg
        if not gaps_s:
            pending = agg.pending
            pending.append((handle, duration_s, input_tokens, output_tokens, first_s, per_output_s))
            if len(pending) >= FOLD_AT:
                with agg.lock:
                    agg.fold_pending()
            return
        group: SeriesGroup = handle
        with agg.lock:
            # The call itself goes through the queue like any other (order of arrival kept);
            # its per-chunk gaps follow it.
            agg.pending.append((handle, duration_s, input_tokens, output_tokens, first_s, per_output_s))
            agg.fold_pending()
            series = group.per_output
            for gap in gaps_s:
                add(series, gap)


class InstrumentRecorder(Recorder):
    """``Histogram.record()`` per value, for MeterProviders infertel does not aggregate for."""

    def __init__(self, meter_provider: Any) -> None:
        meter = meter_provider.get_meter(SCOPE.name, SCOPE.version)
        self._histograms: dict[str, Any] = {}
        self._meter = meter
        self._lock = threading.Lock()
        self._attributes: dict[tuple[MetricKey, str | None], _AttributeSets] = {}

    def _histogram(self, spec: Any) -> Any:
        histogram = self._histograms.get(spec.name)
        if histogram is None:
            with self._lock:
                histogram = self._histograms.get(spec.name)
                if histogram is None:
                    histogram = self._histograms[spec.name] = self._meter.create_histogram(
                        spec.name,
                        unit=spec.unit,
                        description=spec.description,
                        explicit_bucket_boundaries_advisory=list(spec.boundaries),
                    )
        return histogram

    def resolve(self, kind: KindMetrics, key: MetricKey, error_type: str | None) -> _AttributeSets:
        """See :meth:`Recorder.resolve`."""
        sets = self._attributes.get((key, error_type))
        if sets is None:
            sets = _AttributeSets(key, error_type)
            if len(self._attributes) < _MAX_CACHED_ATTRIBUTES:
                self._attributes[(key, error_type)] = sets
        return sets

    def record_resolved(
        self,
        kind: KindMetrics,
        handle: Any,
        duration_s: float,
        input_tokens: int | None,
        output_tokens: int | None,
        first_s: float | None,
        per_output_s: float | None,
        gaps_s: list[float] | None,
    ) -> None:
        """See :meth:`Recorder.record_resolved`."""
        sets: _AttributeSets = handle
        self._histogram(kind.duration).record(duration_s, sets.duration)
        if input_tokens is not None:
            self._histogram(kind.tokens).record(input_tokens, sets.input_tokens)
        if output_tokens is not None:
            self._histogram(kind.tokens).record(output_tokens, sets.output_tokens)
        if first_s is not None:
            self._histogram(kind.first).record(first_s, sets.plain)
        if per_output_s is not None:
            self._histogram(kind.per_output).record(per_output_s, sets.plain)
        if gaps_s:
            histogram = self._histogram(kind.per_output)
            for gap in gaps_s:
                histogram.record(gap, sets.plain)


class GlobalRecorder(Recorder):
    """Follows the global MeterProvider, which may be set after infertel first needed it."""

    cacheable = False

    def __init__(self) -> None:
        self._provider: Any = None
        self._inner: Recorder = Recorder()

    def resolve(self, kind: KindMetrics, key: MetricKey, error_type: str | None) -> Any:
        """See :meth:`Recorder.resolve` (the handle is only good for the next record)."""
        provider = metrics_api.get_meter_provider()
        if provider is not self._provider:
            self._inner = recorder_for(provider)
            self._provider = provider
        inner = self._inner
        return inner, inner.resolve(kind, key, error_type)

    def record_resolved(self, kind: KindMetrics, handle: Any, *values: Any) -> None:
        """See :meth:`Recorder.record_resolved`."""
        inner, inner_handle = handle
        inner.record_resolved(kind, inner_handle, *values)


_recorders: weakref.WeakKeyDictionary[Any, Recorder] = weakref.WeakKeyDictionary()
_recorders_lock = threading.Lock()


def recorder_for(meter_provider: Any) -> Recorder:
    """The recorder for ``meter_provider`` (``None``: follow the global provider). Cached."""
    if meter_provider is None:
        return GlobalRecorder()
    try:
        found = _recorders.get(meter_provider)
    except TypeError:
        return InstrumentRecorder(meter_provider)
    if found is not None:
        return found
    with _recorders_lock:
        found = _recorders.get(meter_provider)
        if found is None:
            from infertel._internal.metrics.hook import aggregator_for

            if enable_preaggregation(meter_provider):
                aggregator = aggregator_for(meter_provider)
                assert aggregator is not None
                found = PreAggregatedRecorder(aggregator)
            else:
                found = InstrumentRecorder(meter_provider)
            _recorders[meter_provider] = found
        return found
