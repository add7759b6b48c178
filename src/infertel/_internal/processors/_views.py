"""SDK Views: base-2 exponential buckets for the GenAI histograms; room for every statistics gauge point."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

from infertel import semconv
from infertel._internal.processors._gauges import (
    DISTRIBUTION_GAUGES,
    MAX_ERROR_TYPES,
    RATE_GAUGES,
    sdk_limits_cardinality,
)
from infertel._internal.processors._stats import (
    DEFAULT_MAX_SERIES,
    DEFAULT_QUANTILES,
    DEFAULT_RELATIVE_ACCURACY,
    DEFAULT_SLOTS_PER_WINDOW,
    DEFAULT_WINDOWS_S,
    validate_config,
)

CHURN_FACTOR = 2
"""Attribute sets each gauge has room for, as a multiple of the points one collection publishes.

The SDK keeps every attribute set an asynchronous instrument has reported (on cumulative
readers), also after the series left every window; the spare room keeps series that come and go
apart before the SDK folds new ones into its ``otel.metric.overflow`` point."""


GEN_AI_HISTOGRAMS = (
    semconv.GEN_AI_CLIENT_OPERATION_DURATION,
    semconv.GEN_AI_CLIENT_TOKEN_USAGE,
    semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK,
    semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK,
    semconv.GEN_AI_SERVER_REQUEST_DURATION,
    semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
    semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
    semconv.GEN_AI_CLIENT_INFERENCE_DURATION,
    semconv.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
    semconv.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
    semconv.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
    semconv.GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
    semconv.GEN_AI_CLIENT_EMBEDDINGS_DURATION,
    semconv.GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS,
)
"""The GenAI histograms the views apply to (both naming modes of ``OTEL_SEMCONV_STABILITY_OPT_IN``)."""


def exponential_histogram_views(*, max_size: int = 160, max_scale: int = 20) -> list[View]:
    """Views aggregating every GenAI semconv histogram with base-2 exponential buckets.

    Pass them to the SDK ``MeterProvider(views=...)`` so backends can compute their own
    quantiles (``max_size`` buckets per sign; the scale adapts downward from ``max_scale``).

    Raises:
        ValueError: ``max_size`` below 2 or ``max_scale`` outside -10..20.

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> provider = MeterProvider(views=exponential_histogram_views())
    """
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 2:
        raise ValueError(f"max_size must be an integer >= 2, got {max_size!r}")
    if isinstance(max_scale, bool) or not isinstance(max_scale, int) or not -10 <= max_scale <= 20:
        raise ValueError(f"max_scale must be an integer in -10..20, got {max_scale!r}")
    return [
        View(
            instrument_name=name,
            aggregation=ExponentialBucketHistogramAggregation(max_size=max_size, max_scale=max_scale),
        )
        for name in GEN_AI_HISTOGRAMS
    ]


def statistics_views(
    *,
    windows_s: Iterable[float] = DEFAULT_WINDOWS_S,
    quantiles: Iterable[float] = DEFAULT_QUANTILES,
    max_series: int = DEFAULT_MAX_SERIES,
) -> list[View]:
    """Views that let every statistics gauge publish all of its points.

    One collection publishes, per window and series, one point per quantile on each of the four
    distribution gauges (15,000 each at the defaults: 1,000 series x 3 windows x 5 quantiles), one
    on each rate gauge, up to :data:`MAX_ERROR_TYPES` on ``infertel.gen_ai.error_rate_by_type``,
    and one per series on ``infertel.gen_ai.in_flight``; the SDK's default limit of 2,000 attribute
    sets per instrument (opentelemetry-sdk >= 1.45) would fold all but the first 2,000 into one
    ``otel.metric.overflow`` point. Each view's limit is :data:`CHURN_FACTOR` times that count.
    ``configure()`` adds them (sized by ``INFERTEL_STATS_*``) to the MeterProvider it creates; pass
    them yourself, with the options given to ``install()``, to a MeterProvider you create. On SDKs
    without cardinality limits (1.37-1.44) the list is empty.

    Raises:
        ValueError: An option is out of range (the message names it).

    Example:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> provider = MeterProvider(views=statistics_views(windows_s=(60, 300), max_series=200))
    """
    windows, qs, _ = validate_config(
        windows_s, quantiles, max_series, (), DEFAULT_SLOTS_PER_WINDOW, DEFAULT_RELATIVE_ACCURACY
    )
    if not sdk_limits_cardinality():
        return []
    per_window = max_series * len(windows)
    limits = {name: per_window * len(qs) for name in DISTRIBUTION_GAUGES}
    limits.update({name: per_window for name in RATE_GAUGES})
    limits[semconv.INFERTEL_GEN_AI_ERROR_RATE_BY_TYPE] = per_window * MAX_ERROR_TYPES
    limits[semconv.INFERTEL_GEN_AI_IN_FLIGHT] = max_series
    return [
        View(instrument_name=name, aggregation_cardinality_limit=limit * CHURN_FACTOR)  # type: ignore[call-arg,unused-ignore]
        for name, limit in limits.items()
    ]
