"""A capacity model from measurements: the concurrency at which one replica still meets the SLO.

Fitted on per-request samples (concurrency at admission, TTFT, TPOT, latency) of one replica: the
tail (p95 by default) of TTFT and of TPOT at each observed concurrency level, a least-squares line
through those tails (weighted by the samples behind each), and the concurrency where the line meets
the SLO. Throughput per replica follows from Little's law at that concurrency. The answer states
its evidence and refuses to extrapolate far beyond the observed range.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_MIN_PER_LEVEL = 20


@dataclass(frozen=True)
class CapacityEstimate:
    """What one replica sustains within the SLO, and how sure the estimate is.

    Attributes:
        slo_concurrency: the highest running-request count that meets the SLO (None: not even the
            lowest observed level meets it).
        throughput_rps: requests/s one replica completes at ``slo_concurrency`` (Little's law).
        limited_by: "ttft", "tpot" or "observed range" (the SLO would allow more than was seen).
        samples: requests the estimate rests on.
        levels: concurrency levels with enough samples (>= 20) to estimate a tail.
        observed_max_concurrency: the highest such level.
        confidence: "high" (>= 5 levels, >= 1000 samples, no extrapolation), "medium" or "low".
        reason: one sentence with the evidence.

    Example:
        >>> CapacityEstimate(6.0, 3.0, "ttft", 2000, 8, 8, "high", "").throughput_rps
        3.0
    """

    slo_concurrency: float | None
    throughput_rps: float
    limited_by: str
    samples: int
    levels: int
    observed_max_concurrency: int
    confidence: str
    reason: str


def _quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]


def _line(points: Sequence[tuple[float, float, int]]) -> tuple[float, float]:
    """Weighted least squares ``y = a + b x`` through (x, y, weight)."""
    total = sum(w for _, _, w in points)
    mx = sum(x * w for x, _, w in points) / total
    my = sum(y * w for _, y, w in points) / total
    sxx = sum(w * (x - mx) ** 2 for x, _, w in points)
    sxy = sum(w * (x - mx) * (y - my) for x, y, w in points)
    b = sxy / sxx if sxx > 0 else 0.0
    return my - b * mx, b


def _crossing(a: float, b: float, slo: float) -> float:
    if b <= 0:
        return math.inf if a <= slo else -math.inf
    return (slo - a) / b


def estimate_capacity(
    samples: Iterable[tuple[int, float, float | None, float]],
    *,
    slo_ttft_s: float = 2.0,
    slo_tpot_s: float = 0.1,
    quantile: float = 0.95,
    max_extrapolation: float = 1.25,
) -> CapacityEstimate:
    """Estimate the SLO concurrency and throughput of one replica from per-request samples.

    Args:
        samples: ``(concurrency at admission, TTFT s, TPOT s or None, latency s)`` per request.
        slo_ttft_s: the TTFT objective at ``quantile``.
        slo_tpot_s: the TPOT objective at ``quantile``.
        quantile: the tail the SLO is stated at.
        max_extrapolation: never answer above this multiple of the highest observed level.

    Raises:
        ValueError: with fewer than two concurrency levels of 20 samples each.

    Example:
        >>> data = [(c, 0.2 * c, 0.01 * c, 1.0 + 0.1 * c) for c in range(1, 9) for _ in range(30)]
        >>> est = estimate_capacity(data, slo_ttft_s=1.0)
        >>> est.slo_concurrency, est.limited_by
        (5.0, 'ttft')
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    by_level: dict[int, list[tuple[float, float | None, float]]] = defaultdict(list)
    count = 0
    for concurrency, ttft, tpot, latency in samples:
        by_level[int(concurrency)].append((ttft, tpot, latency))
        count += 1
    levels = sorted(c for c, rows in by_level.items() if len(rows) >= _MIN_PER_LEVEL)
    if len(levels) < 2:
        raise ValueError(
            f"need at least two concurrency levels with {_MIN_PER_LEVEL}+ requests each, got {len(levels)} "
            f"({count} samples); record under more varied load"
        )
    ttft_pts, tpot_pts, lat_pts = [], [], []
    for c in levels:
        rows = by_level[c]
        ttft_pts.append((float(c), _quantile([r[0] for r in rows], quantile), len(rows)))
        tpots = [r[1] for r in rows if r[1] is not None]
        if len(tpots) >= _MIN_PER_LEVEL:
            tpot_pts.append((float(c), _quantile(tpots, quantile), len(tpots)))
        lat_pts.append((float(c), sum(r[2] for r in rows) / len(rows), len(rows)))
    limits = {"ttft": _crossing(*_line(ttft_pts), slo_ttft_s)}
    if len(tpot_pts) >= 2:
        limits["tpot"] = _crossing(*_line(tpot_pts), slo_tpot_s)
    limited_by = min(limits, key=lambda k: limits[k])
    top = levels[-1]
    ceiling = max_extrapolation * top
    value = limits[limited_by]
    if value > ceiling:
        value, limited_by = ceiling, "observed range"
    extrapolated = value > top
    if value < 1:
        return CapacityEstimate(
            None, 0.0, limited_by, count, len(levels), top, "low",
            f"the {limited_by} SLO is broken already at the lowest observed concurrency ({levels[0]})",
        )  # fmt: skip
    a, b = _line(lat_pts)
    latency = max(a + b * value, 1e-9)
    confidence = "high" if len(levels) >= 5 and count >= 1000 and not extrapolated else "medium"
    if len(levels) < 3 or count < 200 or limited_by == "observed range":
        confidence = "low"
    what = "TTFT/TPOT" if limited_by == "observed range" else limited_by.upper()
    notes = "; extrapolated" if extrapolated else ""
    if limited_by == "observed range":
        notes += f"; capped at {max_extrapolation:g}x the highest observed level"
    reason = (
        f"p{round(quantile * 100)} {what} reaches the SLO at {value:.1f} running requests "
        f"({count} requests over concurrency {levels[0]}-{top}{notes})"
    )
    return CapacityEstimate(round(value, 2), value / latency, limited_by, count, len(levels), top, confidence, reason)
