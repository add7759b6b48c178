"""Which resource saturates: latency against in-flight requests, CPU, GPU utilisation and GPU memory."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infertel import semconv
from infertel.analysis._samples import RequestSample
from infertel.analysis._stats import pearson, slope, spearman

_logger = logging.getLogger(__name__)

STRONG = 0.5
"""Spearman's rho from which latency is said to grow with a resource."""

SATURATED = 0.85
"""A utilisation (0..1) at or above which, in the window, a resource counts as near its limit."""

MIN_POINTS = 5
"""Fewest paired points (requests or time buckets) before a correlation is reported."""

RESOURCES: tuple[tuple[str, str, dict[str, str] | None, bool], ...] = (
    ("cpu", f"metric:{semconv.PROCESS_CPU_UTILIZATION}:avg", None, True),
    ("gpu", f"metric:{semconv.HW_GPU_UTILIZATION}:max", {semconv.HW_GPU_TASK: semconv.HW_GPU_TASK_GENERAL}, True),
    ("gpu", f"metric:{semconv.HW_GPU_UTILIZATION}:max", None, True),
    ("gpu_memory", f"metric:{semconv.HW_GPU_MEMORY_UTILIZATION}:max", None, True),
)
"""(name, store query, where, is a 0..1 utilisation); the first query of a name that has data wins."""


@dataclass(frozen=True)
class Correlation:
    """How latency moved with one resource in the window.

    ``spearman``/``pearson``: the coefficients; ``slope``: seconds of latency per unit of the
    resource (per request in flight, per 1.0 of utilisation); ``low``/``high``: the range the
    resource covered; ``points``: paired observations (requests for ``in_flight``, time buckets
    for the others); ``saturated``: latency grows with it and, for a utilisation, it came near 1.
    """

    resource: str
    points: int
    spearman: float | None
    pearson: float | None
    slope: float | None
    low: float
    high: float
    saturated: bool


@dataclass(frozen=True)
class Saturation:
    """The resource named as saturating (None: latency did not grow with load) and why."""

    resource: str | None
    reason: str
    correlations: list[Correlation]


def _correlation(name: str, xs: Sequence[float], ys: Sequence[float], utilisation: bool) -> Correlation | None:
    if len(xs) < MIN_POINTS or max(xs) == min(xs):
        return None
    rho = spearman(xs, ys)
    grows = rho is not None and rho >= STRONG
    saturated = grows and (not utilisation or max(xs) >= SATURATED)
    return Correlation(name, len(xs), rho, pearson(xs, ys), slope(xs, ys), min(xs), max(xs), saturated)


def _buckets(samples: Sequence[RequestSample], start_ns: int, step_ns: int) -> dict[int, float]:
    sums: dict[int, list[float]] = {}
    for s in samples:
        b = start_ns + (s.start_ns - start_ns) // step_ns * step_ns
        acc = sums.setdefault(b, [0.0, 0.0])
        acc[0] += s.duration_s
        acc[1] += 1
    return {b: total / n for b, (total, n) in sums.items()}


def saturation(
    store: Any, samples: Sequence[RequestSample], start_ns: int, end_ns: int, *, service: str | None = None
) -> Saturation:
    """Correlate latency with in-flight requests (per request) and resource metrics (per time bucket).

    Example:
        >>> from infertel_exporters.sqlite import SQLiteStore
        >>> with SQLiteStore(":memory:") as store:
        ...     saturation(store, [], 0, 60 * 10**9).resource is None
        True
    """
    ok = [s for s in samples if s.error_type is None]
    found: list[Correlation] = []
    c = _correlation("in_flight", [float(s.in_flight) for s in ok], [s.duration_s for s in ok], False)
    if c is not None:
        found.append(c)
    # Buckets: at least 10 s, about 60 of them over the window.
    step_s = max(10, int((end_ns - start_ns) / 1e9 / 60) // 10 * 10)
    step_ns = step_s * 10**9
    latency = _buckets(ok, start_ns - start_ns % step_ns, step_ns)
    seen: set[str] = set()
    for name, query, where, utilisation in RESOURCES:
        if name in seen or store is None:
            continue
        if service is not None:
            where = {**(where or {}), "service": service}
        try:
            series = store.timeseries(query, start_ns, end_ns, step_s, group_by=(), where=where)
        except ValueError as exc:  # a metric of another kind under that name: not ours to read
            _logger.debug("analysis: %s unreadable: %s", query, exc)
            continue
        pairs = [(v, latency[b]) for sr in series for b, v in sr.points if v is not None and b in latency]
        if not pairs:
            continue
        seen.add(name)
        c = _correlation(name, [x for x, _ in pairs], [y for _, y in pairs], utilisation)
        if c is not None:
            found.append(c)
    return Saturation(*_verdict(found), found)


def _verdict(found: Sequence[Correlation]) -> tuple[str | None, str]:
    def fmt(c: Correlation) -> str:
        unit = " requests" if c.resource == "in_flight" else ""
        rho = "n/a" if c.spearman is None else f"{c.spearman:.2f}"
        per = "n/a" if c.slope is None else f"{c.slope:.3g}"
        span = f"{c.low:.3g}..{c.high:.3g}{unit}"
        return f"{c.resource}: Spearman rho {rho} over {c.points} points, range {span}, slope {per} s per unit"

    limited = sorted((c for c in found if c.saturated and c.resource != "in_flight"), key=lambda c: -(c.spearman or 0))
    if limited:
        top = limited[0]
        return top.resource, f"latency grows with {top.resource} and it reached {top.high:.0%} ({fmt(top)})"
    queue = next((c for c in found if c.resource == "in_flight" and c.saturated), None)
    if queue is not None:
        return "concurrency", (
            f"latency grows with the requests in flight while no measured resource is near its limit ({fmt(queue)}):"
            " the server's batch or queue is the bottleneck"
        )
    if not found:
        return None, "not enough data to correlate latency with load"
    return None, "latency does not grow with load in this window (" + "; ".join(fmt(c) for c in found) + ")"
