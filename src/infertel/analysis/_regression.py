"""Regression report: two windows compared with the Mann-Whitney U test, so noise is not reported.

Why Mann-Whitney with the normal approximation: latency is skewed and heavy-tailed, so a t-test's
normality assumption fails; the rank test needs none and is robust to outliers. With at least
``MIN_SAMPLES`` (20) requests per side the normal approximation (with tie correction) is accurate
to well under the significance levels used, and it is O(n log n) in pure Python (no scipy). A
bootstrap would need thousands of resamples in pure Python for the same answer. Three metrics are
tested, so each uses ``alpha / 3`` (Bonferroni); a change is also required to be practically
relevant (``min_change``, 5% of the median by default) before it is called a regression.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from infertel.analysis._samples import RequestSample
from infertel.analysis._stats import MIN_SAMPLES, mann_whitney, quantile

ALPHA = 0.01
"""Family-wise significance level of a regression report."""

MIN_CHANGE = 0.05
"""Smallest relative change of the median reported as a regression or an improvement."""

METRICS = ("latency", "ttft", "tpot")


@dataclass(frozen=True)
class MetricChange:
    """One metric compared between the baseline and the current window.

    ``verdict``: ``"regression"``, ``"improvement"``, ``"no significant change"`` or
    ``"insufficient data"`` (fewer than 20 values on a side).
    """

    metric: str
    baseline_n: int
    current_n: int
    baseline_p50: float | None
    current_p50: float | None
    baseline_p95: float | None
    current_p95: float | None
    change: float | None
    p_value: float | None
    prob_slower: float | None
    verdict: str


@dataclass(frozen=True)
class ErrorChange:
    """The error rate compared with a two-proportion z-test (same ``alpha`` share as the metrics)."""

    baseline_rate: float | None
    current_rate: float | None
    p_value: float | None
    verdict: str


@dataclass(frozen=True)
class Regression:
    """The comparison of two windows; ``regressed``: any metric or the error rate got significantly worse."""

    alpha: float
    min_change: float
    metrics: list[MetricChange]
    errors: ErrorChange
    regressed: bool


def _values(samples: Sequence[RequestSample], metric: str) -> list[float]:
    ok = [s for s in samples if s.error_type is None]
    if metric == "latency":
        return [s.duration_s for s in ok]
    if metric == "ttft":
        return [s.ttft_s for s in ok if s.ttft_s is not None]
    return [s.tpot_s for s in ok if s.tpot_s is not None]


def _metric(metric: str, a: list[float], b: list[float], alpha: float, min_change: float) -> MetricChange:
    a50, b50 = quantile(a, 0.5), quantile(b, 0.5)
    change = (b50 - a50) / a50 if a50 and b50 is not None else None
    enough = len(a) >= MIN_SAMPLES and len(b) >= MIN_SAMPLES
    test = mann_whitney(a, b) if enough else None
    if test is None:  # too few values, or every value the same (no rank information: no change)
        verdict = "no significant change" if enough else "insufficient data"
    elif test.p_value < alpha and change is not None and abs(change) >= min_change:
        verdict = "regression" if change > 0 else "improvement"
    else:
        verdict = "no significant change"
    return MetricChange(
        metric, len(a), len(b), a50, b50, quantile(a, 0.95), quantile(b, 0.95), change,
        None if test is None else test.p_value, None if test is None else test.prob_greater, verdict,
    )  # fmt: skip


def _errors(baseline: Sequence[RequestSample], current: Sequence[RequestSample], alpha: float) -> ErrorChange:
    n1, n2 = len(baseline), len(current)
    if n1 < MIN_SAMPLES or n2 < MIN_SAMPLES:
        return ErrorChange(None if not n1 else 0.0, None if not n2 else 0.0, None, "insufficient data")
    e1 = sum(1 for s in baseline if s.error_type is not None)
    e2 = sum(1 for s in current if s.error_type is not None)
    r1, r2 = e1 / n1, e2 / n2
    pooled = (e1 + e2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return ErrorChange(r1, r2, 1.0, "no significant change")
    p = math.erfc(abs(r2 - r1) / math.sqrt(var) / math.sqrt(2))
    verdict = "no significant change" if p >= alpha else ("regression" if r2 > r1 else "improvement")
    return ErrorChange(r1, r2, p, verdict)


def compare(
    baseline: Sequence[RequestSample],
    current: Sequence[RequestSample],
    *,
    alpha: float = ALPHA,
    min_change: float = MIN_CHANGE,
) -> Regression:
    """Compare latency, TTFT, TPOT and the error rate of two windows' requests.

    Args:
        baseline: The requests of the reference window.
        current: The requests of the window under study.
        alpha: Family-wise significance level, shared by the four tests (Bonferroni).
        min_change: Smallest relative change of a median worth reporting.

    Example:
        >>> compare([], []).regressed
        False
    """
    if not (0 < alpha < 1) or min_change < 0:
        raise ValueError(f"alpha must be in (0, 1) and min_change >= 0, got alpha={alpha!r}, min_change={min_change!r}")
    share = alpha / (len(METRICS) + 1)
    metrics = [_metric(m, _values(baseline, m), _values(current, m), share, min_change) for m in METRICS]
    errors = _errors(baseline, current, share)
    regressed = any(m.verdict == "regression" for m in metrics) or errors.verdict == "regression"
    return Regression(alpha, min_change, metrics, errors, regressed)
