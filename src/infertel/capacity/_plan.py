"""Capacity planning: growth scenarios over a horizon, priced, with the risk of breaching the SLO."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from infertel.forecast import HoltWinters


@dataclass(frozen=True)
class Scenario:
    """One growth scenario of a plan.

    Attributes:
        growth: traffic multiple reached at the end of the horizon (ramping linearly from 1).
        peak_rps: the mean forecast (x growth) at the peak: the step whose upper bound is highest.
        peak_upper_rps: the upper prediction bound there (what the fleet is sized for).
        replicas: the fleet planned for the peak (sized for ``peak_upper_rps``).
        gpus: ``replicas * gpus_per_replica``.
        gpu_hours: GPU-hours over the horizon for a fleet that follows the forecast (autoscaled).
        cost: ``gpu_hours * price_per_gpu_hour`` plus tokens priced per 1k (None without prices).
        breach_probability: chance that the load at the peak exceeds the planned fleet's capacity,
            from the forecast's error distribution.
        risk: "low" (< 5%), "medium" (< 20%) or "high".
        reason: why, in one sentence.

    Example:
        >>> Scenario(2.0, 10.0, 12.0, 4, 4, 2000.0, None, 0.03, "low", "").replicas
        4
    """

    growth: float
    peak_rps: float
    peak_upper_rps: float
    replicas: int
    gpus: int
    gpu_hours: float
    cost: float | None
    breach_probability: float
    risk: str
    reason: str


@dataclass(frozen=True)
class CapacityPlan:
    """Scenarios over a horizon; :meth:`to_json` is the documented JSON shape (``scenarios`` list).

    Example:
        >>> CapacityPlan(30.0, 2.5, 0.9, []).to_json()["horizon_days"]
        30.0
    """

    horizon_days: float
    capacity_rps: float
    coverage: float
    scenarios: list[Scenario]

    def to_json(self) -> dict[str, object]:
        """Plain data: ``{"horizon_days", "capacity_rps_per_replica", "coverage", "scenarios": [...]}``."""
        return {
            "horizon_days": self.horizon_days,
            "capacity_rps_per_replica": self.capacity_rps,
            "coverage": self.coverage,
            "scenarios": [asdict(s) for s in self.scenarios],
        }


def _risk(p: float) -> str:
    return "low" if p < 0.05 else "medium" if p < 0.2 else "high"


def plan_capacity(
    history: Sequence[float],
    *,
    step_s: float,
    capacity_rps: float,
    horizon_days: float = 30.0,
    growth: Sequence[float] = (1.0, 1.5, 2.0, 3.0),
    gpus_per_replica: int = 1,
    price_per_gpu_hour: float | None = None,
    price_per_1k_tokens: float | None = None,
    tokens_per_request: float | None = None,
    coverage: float = 0.9,
    headroom_replicas: Mapping[float, int] | None = None,
) -> CapacityPlan:
    """Plan replicas, GPU-hours, cost and SLO risk per growth scenario from a request-rate history.

    Args:
        history: requests per ``step_s`` bucket, oldest first (at least two days for a daily season,
            two weeks for a weekly one).
        step_s: bucket length in seconds.
        capacity_rps: sustainable requests/s per replica at the SLO (measured).
        horizon_days: planning horizon (30+ days).
        growth: traffic multiples reached at the horizon's end.
        gpus_per_replica: GPUs per replica.
        price_per_gpu_hour: price of one GPU-hour (None: no instance cost).
        price_per_1k_tokens: price per 1000 tokens (None: no token cost).
        tokens_per_request: mean tokens per request (for the token cost).
        coverage: the prediction interval the fleet is sized for.
        headroom_replicas: extra replicas per growth value (what-if), default none.

    Example:
        >>> import math
        >>> hist = [600 + 300 * math.sin(2 * math.pi * i / 288) for i in range(288 * 3)]
        >>> plan = plan_capacity(hist, step_s=300.0, capacity_rps=1.0, horizon_days=2, growth=(1.0, 2.0))
        >>> [s.replicas for s in plan.scenarios][0] < [s.replicas for s in plan.scenarios][1]
        True
    """
    if not capacity_rps > 0:
        raise ValueError(f"capacity_rps must be > 0, got {capacity_rps!r}")
    if not horizon_days > 0:
        raise ValueError(f"horizon_days must be > 0, got {horizon_days!r}")
    if not growth or any(not g > 0 for g in growth):
        raise ValueError(f"growth must be positive multiples, got {list(growth)!r}")
    steps = max(1, round(horizon_days * 86_400.0 / step_s))
    model = HoltWinters(step_s=step_s).fit(history)
    forecast = model.forecast(steps, coverage=coverage)
    scenarios = []
    for g in growth:
        factors = [1.0 + (g - 1.0) * (i + 1) / steps for i in range(steps)]
        mean = [m * f / step_s for m, f in zip(forecast.mean, factors, strict=True)]
        upper = [u * f / step_s for u, f in zip(forecast.upper, factors, strict=True)]
        # the step whose upper bound is highest: what the planned fleet must carry
        peak_i = max(range(steps), key=lambda i: upper[i])
        extra = (headroom_replicas or {}).get(g, 0)
        replicas = max(1, math.ceil(upper[peak_i] / capacity_rps)) + extra
        replica_hours = sum(max(1, math.ceil(r / capacity_rps)) for r in upper) * step_s / 3600.0
        gpu_hours = replica_hours * gpus_per_replica
        cost = None
        if price_per_gpu_hour is not None or price_per_1k_tokens is not None:
            cost = gpu_hours * (price_per_gpu_hour or 0.0)
            if price_per_1k_tokens is not None and tokens_per_request is not None:
                cost += sum(mean) * step_s * tokens_per_request / 1000.0 * price_per_1k_tokens
        breach = _breach_probability(model, peak_i + 1, replicas * capacity_rps * step_s / factors[peak_i])
        risk = _risk(breach)
        reason = (
            f"peak {mean[peak_i]:.1f} req/s (upper {upper[peak_i]:.1f}) on day {peak_i * step_s / 86_400:.0f}; "
            f"{replicas} replicas carry {replicas * capacity_rps:.1f} req/s; P(load above it) = {breach:.1%}"
        )
        scenarios.append(
            Scenario(
                g,
                mean[peak_i],
                upper[peak_i],
                replicas,
                replicas * gpus_per_replica,
                gpu_hours,
                cost,
                breach,
                risk,
                reason,
            )  # fmt: skip
        )
    return CapacityPlan(horizon_days, capacity_rps, coverage, scenarios)


def _breach_probability(model: HoltWinters, steps: int, capacity_per_step: float) -> float:
    """P(value at ``steps`` ahead > capacity), by bisection over the interval's coverage."""
    mean, _, upper = model.forecast_step(steps, coverage=0.998)
    if capacity_per_step >= upper:
        return 0.001
    if capacity_per_step <= mean:
        return 0.5
    low, high = 0.0, 0.998
    for _ in range(30):
        mid = (low + high) / 2
        _, _, hi = model.forecast_step(steps, coverage=mid)
        if hi < capacity_per_step:
            low = mid
        else:
            high = mid
    return (1.0 - low) / 2.0
