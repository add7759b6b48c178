"""Live inference statistics: the span processor, snapshots and exponential-histogram views.

Example:
    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from infertel.processors import InferenceStatsSpanProcessor
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(InferenceStatsSpanProcessor(windows_s=(60, 300)))
"""

from __future__ import annotations

from infertel._internal.processors import (
    OVERFLOW_KEY,
    Distribution,
    InferenceStats,
    InferenceStatsSpanProcessor,
    SeriesStats,
    Snapshot,
    StatsHandle,
    exponential_histogram_views,
    install,
    statistics_views,
    stats,
)
from infertel._internal.quantiles import QuantileSketch

__all__ = [
    "OVERFLOW_KEY",
    "Distribution",
    "InferenceStats",
    "InferenceStatsSpanProcessor",
    "QuantileSketch",
    "SeriesStats",
    "Snapshot",
    "StatsHandle",
    "exponential_histogram_views",
    "install",
    "statistics_views",
    "stats",
]
