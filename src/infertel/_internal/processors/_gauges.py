"""Observable gauges that publish the live statistics through a MeterProvider.

One collection computes one snapshot per window at one clock instant (the first gauge's
callback refreshes it, the others read it), so every gauge of a collection, and
``infertel.stats()`` at that instant, agree.

Threading and exceptions: callbacks run on the reader's collection thread; they take the
statistics lock while folding and never raise (``handle_internal_errors``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from infertel import semconv
from infertel._internal.compat import metrics_sdk_internals
from infertel._internal.errors import handle_internal_errors
from infertel._internal.processors._snapshot import Distribution, SeriesStats, Snapshot
from infertel._internal.processors._stats import InferenceStats
from infertel.version import __version__

_logger = logging.getLogger(__name__)


SDK_DEFAULT_CARDINALITY_LIMIT = 2000
"""Attribute sets per instrument that opentelemetry-sdk >= 1.45 keeps unless a View or reader says otherwise."""


def sdk_limits_cardinality() -> bool:
    """Whether this opentelemetry-sdk limits attribute sets per instrument (1.45 and later; 1.37-1.44 do not)."""
    # View(aggregation_cardinality_limit=) arrived with the limit itself.
    return "aggregation_cardinality_limit" in inspect.signature(View.__init__).parameters


MAX_ERROR_TYPES = 10
"""``error.type`` values published per series and window: the most frequent ones, the rest
summed under ``_OTHER`` (bounds ``infertel.gen_ai.error_rate_by_type``; ``stats()`` keeps them all)."""


def window_label(window_s: float) -> str:
    """Value of the ``window`` attribute, e.g. ``"60s"``."""
    return f"{window_s:g}s"


def quantile_label(q: float) -> str:
    """Value of the ``quantile`` attribute, e.g. ``"0.99"``."""
    return f"{q:g}"


_DISTRIBUTIONS: tuple[tuple[str, str, str, Callable[[SeriesStats], Distribution]], ...] = (
    (semconv.INFERTEL_GEN_AI_LATENCY, semconv.UNIT_SECONDS, "Request latency quantile", lambda s: s.latency),
    (
        semconv.INFERTEL_GEN_AI_TIME_TO_FIRST_TOKEN,
        semconv.UNIT_SECONDS,
        "Time to first token quantile",
        lambda s: s.ttft,
    ),
    (
        semconv.INFERTEL_GEN_AI_TIME_PER_OUTPUT_TOKEN,
        semconv.UNIT_SECONDS,
        "Time per output token quantile",
        lambda s: s.tpot,
    ),
    (
        semconv.INFERTEL_GEN_AI_DECODE_SPEED,
        semconv.UNIT_TOKENS_PER_SECOND,
        "Quantile of each request's output tokens per second",
        lambda s: s.decode_speed,
    ),
)

_RATES: tuple[tuple[str, str, str, Callable[[SeriesStats], float]], ...] = (
    (
        semconv.INFERTEL_GEN_AI_OUTPUT_TOKENS_PER_SECOND,
        semconv.UNIT_TOKENS_PER_SECOND,
        "Output tokens of all requests per second over the window",
        lambda s: s.output_tokens_per_s,
    ),
    (
        semconv.INFERTEL_GEN_AI_INPUT_TOKENS_PER_SECOND,
        semconv.UNIT_TOKENS_PER_SECOND,
        "Input tokens of all requests per second over the window",
        lambda s: s.input_tokens_per_s,
    ),
    (
        semconv.INFERTEL_GEN_AI_REQUESTS_PER_SECOND,
        semconv.UNIT_REQUESTS_PER_SECOND,
        "Requests ended per second over the window",
        lambda s: s.requests_per_s,
    ),
    (
        semconv.INFERTEL_GEN_AI_ERROR_RATE,
        semconv.UNIT_RATIO,
        "Failed requests / all requests over the window",
        lambda s: s.error_rate,
    ),
)


DISTRIBUTION_GAUGES = tuple(name for name, *_ in _DISTRIBUTIONS)
"""Gauges with one point per window, series and quantile."""
RATE_GAUGES = tuple(name for name, *_ in _RATES)
"""Gauges with one point per window and series."""


_OTHER_ERROR = "_OTHER"


def top_error_types(errors_by_type: Mapping[str, int]) -> Iterable[tuple[str, int]]:
    """At most :data:`MAX_ERROR_TYPES` ``(error.type, count)`` pairs: the most frequent, the rest as ``_OTHER``."""
    if len(errors_by_type) <= MAX_ERROR_TYPES:
        return errors_by_type.items()
    ranked = sorted(errors_by_type.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[: MAX_ERROR_TYPES - 1])
    rest = sum(n for _, n in ranked[MAX_ERROR_TYPES - 1 :])
    kept[_OTHER_ERROR] = kept.get(_OTHER_ERROR, 0) + rest
    return kept.items()


class StatsGauges:
    """The gauges of one :class:`InferenceStats` on one MeterProvider.

    Args:
        meter_provider: Where the gauges are registered (any OpenTelemetry MeterProvider).
        stats: The statistics published.

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> gauges = StatsGauges(MeterProvider(), InferenceStats(windows_s=(60,)))
        >>> gauges.active
        True
    """

    def __init__(self, meter_provider: MeterProvider, stats: InferenceStats) -> None:
        self.stats = stats
        self.active = True
        self._snapshots: list[Snapshot] | None = None
        meter = meter_provider.get_meter(semconv.INSTRUMENTATION_SCOPE, __version__, schema_url=semconv.SCHEMA_URL)
        first = True
        for name, unit, description, pick in _DISTRIBUTIONS:
            meter.create_observable_gauge(
                name, callbacks=[self._distribution_callback(pick, refresh=first)], unit=unit, description=description
            )
            first = False
        for name, unit, description, value in _RATES:
            meter.create_observable_gauge(
                name, callbacks=[self._rate_callback(value)], unit=unit, description=description
            )
        meter.create_observable_gauge(
            semconv.INFERTEL_GEN_AI_ERROR_RATE_BY_TYPE,
            callbacks=[self._error_types_callback],
            unit=semconv.UNIT_RATIO,
            description="Requests failed with one error.type / all requests over the window",
        )
        meter.create_observable_gauge(
            semconv.INFERTEL_GEN_AI_IN_FLIGHT,
            callbacks=[self._in_flight_callback],
            unit=semconv.UNIT_REQUESTS,
            description="Requests started and not yet ended",
        )
        with handle_internal_errors:
            _warn_if_limited(meter_provider, stats)

    def _current(self, refresh: bool) -> list[Snapshot]:
        if refresh or self._snapshots is None:
            self._snapshots = self.stats.snapshots()
        return self._snapshots

    def _distribution_callback(
        self, pick: Callable[[SeriesStats], Distribution], *, refresh: bool
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            out: list[Observation] = []
            with handle_internal_errors:
                if not self.active:
                    return out
                for snap in self._current(refresh):
                    window = window_label(snap.window_s)
                    for series in snap.values():
                        for q, value in pick(series).quantiles.items():
                            attributes = _attrs(series, semconv.STATS_WINDOW, window)
                            attributes[semconv.STATS_QUANTILE] = quantile_label(q)
                            out.append(Observation(value, attributes))
            return out

        return callback

    def _rate_callback(
        self, value: Callable[[SeriesStats], float]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            out: list[Observation] = []
            with handle_internal_errors:
                if not self.active:
                    return out
                for snap in self._current(False):
                    window = window_label(snap.window_s)
                    out.extend(
                        Observation(value(series), _attrs(series, semconv.STATS_WINDOW, window))
                        for series in snap.values()
                    )
            return out

        return callback

    def _error_types_callback(self, options: CallbackOptions) -> Iterable[Observation]:
        out: list[Observation] = []
        with handle_internal_errors:
            if not self.active:
                return out
            for snap in self._current(False):
                window = window_label(snap.window_s)
                for series in snap.values():
                    for error_type, n in top_error_types(series.errors_by_type):
                        attributes = _attrs(series, semconv.STATS_WINDOW, window)
                        attributes[semconv.ERROR_TYPE] = error_type
                        out.append(Observation(n / series.requests if series.requests else 0.0, attributes))
        return out

    def _in_flight_callback(self, options: CallbackOptions) -> Iterable[Observation]:
        out: list[Observation] = []
        with handle_internal_errors:
            if not self.active:
                return out
            snaps = self._current(False)
            if snaps:
                out.extend(Observation(s.in_flight, dict(s.attributes)) for s in snaps[0].values())
        return out


def _warn_if_limited(meter_provider: MeterProvider, stats: InferenceStats) -> None:
    """Say so once when the SDK would fold gauge points into ``otel.metric.overflow`` on this provider.

    infertel's own MeterProvider carries ``statistics_views()``; one created elsewhere (reused by
    ``configure()``, or given to ``install()``) keeps the SDK's default unless a View names the gauges.
    """
    points = stats.max_series * len(stats.windows_s) * len(stats.quantiles)
    if points <= SDK_DEFAULT_CARDINALITY_LIMIT or not sdk_limits_cardinality():
        return
    internals = metrics_sdk_internals(meter_provider)
    if internals is None:  # not an SDK provider, or its views cannot be read: nothing to say for sure
        return
    scope = InstrumentationScope(semconv.INSTRUMENTATION_SCOPE, __version__, schema_url=semconv.SCHEMA_URL)
    if internals.view_matches(scope, semconv.INFERTEL_GEN_AI_LATENCY, semconv.UNIT_SECONDS, ""):
        return
    _logger.warning(
        "infertel: the statistics gauges publish up to %d points each (%d series x %d windows x %d quantiles), but "
        "this MeterProvider keeps %d per instrument (the SDK's default); the rest fold into otel.metric.overflow. "
        "Create it with views=infertel.processors.statistics_views(...) (same options as the statistics)",
        points,
        stats.max_series,
        len(stats.windows_s),
        len(stats.quantiles),
        SDK_DEFAULT_CARDINALITY_LIMIT,
    )


def _attrs(series: SeriesStats, key: str, value: Any) -> dict[str, Any]:
    attributes = dict(series.attributes)
    attributes[key] = value
    return attributes
