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
from infertel._internal.metrics.aggregate import FOLD_AT, MoreSeries, PreAggregator, Series, SeriesGroup, add
from infertel._internal.metrics.hook import SCOPE, enable_preaggregation
from infertel._internal.metrics.instruments import HistogramSpec, KindMetrics, SpecGroup

MetricKey = tuple[str, "str | None", "str | None", "str | None", "str | None", "int | None"]
"""(operation, request model (None: not known), provider, response model, server address, server port)."""

_MAX_CACHED_ATTRIBUTES = 4096
_FiveSeries = tuple["Series | None", "Series | None", "Series | None", "Series | None", "Series | None"]
"""(duration, input tokens, output tokens, first, per output) of one SpecGroup; None where it names none."""


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
    __slots__ = ("duration", "plain", "_tokens")

    def __init__(self, key: MetricKey, error_type: str | None) -> None:
        self.plain = base_attributes(key)
        self.duration = dict(self.plain)
        if error_type:
            self.duration[semconv.ERROR_TYPE] = error_type
        self._tokens: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}

    def tokens(self, extra: tuple[tuple[str, str], ...]) -> dict[str, Any]:
        """The plain attributes plus ``extra`` (``gen_ai.token.type``, ``gen_ai.token.modality``)."""
        found = self._tokens.get(extra)
        if found is None:
            found = self._tokens[extra] = {**self.plain, **dict(extra)}
        return found


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
        group_key = (kind.name, key, error_type)
        group = agg.groups.get(group_key)
        if group is None:
            sets = _AttributeSets(key, error_type)
            more = None
            for specs in reversed(kind.groups[1:]):  # chained in order
                more = MoreSeries(*self._series(specs, sets), more=more)
            # What the first group does not record goes to the aggregator's sink (never published).
            sink = agg.sink
            duration, input_tokens, output_tokens, first, per_output = self._series(kind.groups[0], sets)
            group = SeriesGroup(
                duration or sink, input_tokens or sink, output_tokens or sink, first or sink, per_output or sink, more
            )
            agg.cache_group(group_key, group)
        return group

    def _series(self, specs: SpecGroup, sets: _AttributeSets) -> _FiveSeries:
        agg = self._agg
        tokens = specs.tokens
        return (
            agg.series(specs.duration, sets.duration) if specs.duration is not None else None,
            agg.series(tokens.input, sets.tokens(tokens.input_attributes))
            if tokens is not None and tokens.input is not None
            else None,
            agg.series(tokens.output, sets.tokens(tokens.output_attributes))
            if tokens is not None and tokens.output is not None
            else None,
            agg.series(specs.first, sets.plain) if specs.first is not None else None,
            agg.series(specs.per_output, sets.plain) if specs.per_output is not None else None,
        )

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
            for gap in gaps_s:
                add(group.per_output, gap)
            more = group.more
            while more is not None:
                if more.per_output is not None:
                    for gap in gaps_s:
                        add(more.per_output, gap)
                more = more.more


class InstrumentRecorder(Recorder):
    """``Histogram.record()`` / ``Counter.add()`` per value, for MeterProviders infertel does not aggregate for."""

    def __init__(self, meter_provider: Any) -> None:
        meter = meter_provider.get_meter(SCOPE.name, SCOPE.version, schema_url=SCOPE.schema_url)
        self._instruments: dict[str, Any] = {}
        self._meter = meter
        self._lock = threading.Lock()
        self._attributes: dict[tuple[MetricKey, str | None], _AttributeSets] = {}

    def _instrument(self, spec: HistogramSpec) -> Any:
        instrument = self._instruments.get(spec.name)
        if instrument is None:
            with self._lock:
                instrument = self._instruments.get(spec.name)
                if instrument is None:
                    if spec.counter:
                        instrument = self._meter.create_counter(spec.name, unit=spec.unit, description=spec.description)
                    else:
                        instrument = self._meter.create_histogram(
                            spec.name,
                            unit=spec.unit,
                            description=spec.description,
                            explicit_bucket_boundaries_advisory=list(spec.boundaries),
                        )
                    self._instruments[spec.name] = instrument
        return instrument

    def _record(self, spec: HistogramSpec, value: float, attributes: dict[str, Any]) -> None:
        instrument = self._instrument(spec)
        if spec.counter:
            instrument.add(value, attributes)
        else:
            instrument.record(value, attributes)

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
        record = self._record
        for specs in kind.groups:
            if specs.duration is not None:
                record(specs.duration, duration_s, sets.duration)
            tokens = specs.tokens
            if tokens is not None:
                if input_tokens is not None and tokens.input is not None:
                    record(tokens.input, input_tokens, sets.tokens(tokens.input_attributes))
                if output_tokens is not None and tokens.output is not None:
                    record(tokens.output, output_tokens, sets.tokens(tokens.output_attributes))
            if first_s is not None and specs.first is not None:
                record(specs.first, first_s, sets.plain)
            if specs.per_output is not None:
                if per_output_s is not None:
                    record(specs.per_output, per_output_s, sets.plain)
                for gap in gaps_s or ():
                    record(specs.per_output, gap, sets.plain)


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
