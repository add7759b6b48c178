"""Live inference statistics from GenAI spans: span processor, sliding windows, gauges, ``stats()``.

``configure()`` calls :func:`install`; ``infertel.stats()`` is :func:`stats`.
"""

from __future__ import annotations

from infertel._internal.processors._gauges import StatsGauges
from infertel._internal.processors._install import (
    StatsHandle,
    current,
    install,
    options_from_env,
    stats,
    uninstall_all,
)
from infertel._internal.processors._processor import InferenceStatsSpanProcessor
from infertel._internal.processors._snapshot import OVERFLOW_KEY, Distribution, SeriesStats, Snapshot
from infertel._internal.processors._stats import InferenceStats
from infertel._internal.processors._views import GEN_AI_HISTOGRAMS, exponential_histogram_views, statistics_views

__all__ = [
    "GEN_AI_HISTOGRAMS",
    "OVERFLOW_KEY",
    "Distribution",
    "InferenceStats",
    "InferenceStatsSpanProcessor",
    "SeriesStats",
    "Snapshot",
    "StatsGauges",
    "StatsHandle",
    "current",
    "exponential_histogram_views",
    "install",
    "options_from_env",
    "statistics_views",
    "stats",
    "uninstall_all",
]
