"""SDK Views that give the GenAI semantic-convention histograms base-2 exponential buckets."""

from __future__ import annotations

from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

from infertel import semconv

GEN_AI_HISTOGRAMS = (
    semconv.GEN_AI_CLIENT_OPERATION_DURATION,
    semconv.GEN_AI_CLIENT_TOKEN_USAGE,
    semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK,
    semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK,
    semconv.GEN_AI_SERVER_REQUEST_DURATION,
    semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
    semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
)
"""The GenAI histograms the views apply to."""


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
