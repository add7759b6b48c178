"""Performance analysis of an inference service from the store.

For a window and a series (service / model): requests per second, the error rate by type, the
percentile table, where the time goes per request (queue wait when the server reports it,
prefill = time to first token, decode = time per output token x tokens, the rest) and which part
dominates the tail, how it changed against a baseline window (the previous hour, the same hour
yesterday), which resource saturates (latency against in-flight requests, CPU and GPU utilisation
and GPU memory, with the coefficients and ranges as evidence), the cost per series, and a regression
report between the two windows with a Mann-Whitney U test so noise is not reported.

``analyze()`` computes a :class:`Report` (plain data, ``as_dict()`` for JSON); ``render_text``
is its terminal view; ``infertel analyze`` prints either; ``register_dashboard()`` adds an Analysis
page and ``api/analysis`` to the dashboard. Only the store is read, never written.
Pure Python: numpy and scipy are not needed.

Example:
    >>> from infertel_exporters.sqlite import SQLiteStore
    >>> from infertel.analysis import analyze, render_text
    >>> with SQLiteStore(":memory:") as store:
    ...     report = analyze(store, since_s=3600, baseline="previous-hour")
    >>> report.series
    []
"""

from __future__ import annotations

from infertel.analysis._breakdown import PARTS, Breakdown, TailBreakdown, breakdown, parts_of
from infertel.analysis._correlate import Correlation, Saturation, saturation
from infertel.analysis._dashboard import register as register_dashboard
from infertel.analysis._regression import ErrorChange, MetricChange, Regression, compare
from infertel.analysis._render import render_text
from infertel.analysis._report import BASELINES, Report, SeriesStats, analyze
from infertel.analysis._samples import MAX_SAMPLES, RequestSample, SampleSet, read_samples
from infertel.analysis._stats import MannWhitney, mann_whitney, quantile, spearman

__all__ = [
    "BASELINES", "MAX_SAMPLES", "PARTS", "Breakdown", "Correlation", "ErrorChange", "MannWhitney", "MetricChange",
    "Regression", "Report", "RequestSample", "SampleSet", "Saturation", "SeriesStats", "TailBreakdown", "analyze",
    "breakdown", "compare", "mann_whitney", "parts_of", "quantile", "read_samples", "register_dashboard",
    "render_text", "saturation", "spearman",
]  # fmt: skip
