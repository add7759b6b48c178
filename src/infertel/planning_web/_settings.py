"""What the autoscaling and planning views need to know that the store cannot tell: capacity, prices, horizons."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STEP_S = 300.0
"""Forecast bucket: the request history is read in 5-minute buckets (as ``infertel capacity-plan``)."""


@dataclass(frozen=True)
class PlanningSettings:
    """Settings of the autoscaling, capacity-plan and cost views (validated when built).

    Args:
        capacity_rps: Sustainable requests/s of one replica at the SLO (measured, see ``infertel.capacity``),
            or a table {fleet size: per-replica capacity}; None: the recommendation and the capacity
            plan answer 409 naming this setting (the forecast and the cost need no capacity).
        target_running: Running requests per replica to hold (the SLO concurrency).
        max_batch: A replica's batch size (in-flight requests over ``max_batch x replicas`` is the utilization).
        cold_start_s: Replica start-up time; the recommendation looks this far ahead.
        slo_ttft_s: The p95 time-to-first-token objective.
        min_replicas: Lower bound of the recommendation.
        max_replicas: Upper bound of the recommendation.
        horizon_s: Length of ``/autoscaling/predictions`` (default 1 h).
        history_s: Request history read from the store (default 28 days).
        coverage: Prediction interval of the forecast (0.9).
        plan_horizon_days: Capacity plan horizon (30 days).
        growth: Capacity plan growth multiples.
        gpus_per_replica: GPUs per replica.
        price_per_gpu_hour: Price of one GPU-hour for the plan (None: no instance cost).
        price_per_1k_tokens: Price per 1000 tokens for the plan (None: no token cost).
        prices: A price table for the Cost page (anything ``infertel.cost.load_prices`` takes; None:
            the cost recorded on the spans only).
        keep_actions: Recorded actions kept.

    Raises:
        ValueError: A bad value, naming the setting.

    Example:
        >>> PlanningSettings(capacity_rps=2.5).growth
        (1.0, 1.5, 2.0, 3.0)
    """

    capacity_rps: float | Mapping[int, float] | None = None
    target_running: float = 8.0
    max_batch: int = 8
    cold_start_s: float = 600.0
    slo_ttft_s: float = 2.0
    min_replicas: int = 1
    max_replicas: int = 1000
    horizon_s: float = 3600.0
    history_s: float = 28 * 86_400.0
    coverage: float = 0.9
    plan_horizon_days: float = 30.0
    growth: Sequence[float] = (1.0, 1.5, 2.0, 3.0)
    gpus_per_replica: int = 1
    price_per_gpu_hour: float | None = None
    price_per_1k_tokens: float | None = None
    prices: Any = field(default=None, compare=False)
    keep_actions: int = 1000

    def __post_init__(self) -> None:
        table = self.capacity_rps if isinstance(self.capacity_rps, Mapping) else {1: self.capacity_rps}
        if self.capacity_rps is None:
            pass
        elif not table or any(not _positive(v) for v in table.values()) or any(int(k) < 1 for k in table):
            raise ValueError(f"capacity_rps must be a positive number or {{fleet size >= 1: number}}, got "
                             f"{self.capacity_rps!r}")  # fmt: skip
        for name in ("target_running", "cold_start_s", "slo_ttft_s", "horizon_s", "history_s", "plan_horizon_days"):
            if not _positive(getattr(self, name)):
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")
        for name in ("max_batch", "min_replicas", "max_replicas", "gpus_per_replica", "keep_actions"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) must not exceed max_replicas ({self.max_replicas})")
        if not 0 < self.coverage < 1:
            raise ValueError(f"coverage must be in (0, 1), got {self.coverage!r}")
        growth = tuple(float(g) for g in self.growth)
        if not growth or any(not _positive(g) for g in growth):
            raise ValueError(f"growth must be positive multiples like (1, 1.5, 2, 3), got {self.growth!r}")
        object.__setattr__(self, "growth", growth)
        for name in ("price_per_gpu_hour", "price_per_1k_tokens"):
            value = getattr(self, name)
            if value is not None and not _positive(value):
                raise ValueError(f"{name} must be a positive number or None, got {value!r}")
        if self.prices is not None:
            from infertel.cost import load_prices

            object.__setattr__(self, "prices", load_prices(self.prices, setting="prices"))

    def capacity_table(self) -> dict[int, float]:
        """``capacity_rps`` as a {fleet size: per-replica capacity} table.

        Raises:
            LookupError: No capacity is set (answered 409 naming the setting).
        """
        if self.capacity_rps is None:
            raise LookupError(
                "no per-replica capacity set: pass capacity_rps (infertel dashboard --capacity-rps), measured with "
                "infertel.capacity.estimate_capacity or the simulator"
            )
        if isinstance(self.capacity_rps, Mapping):
            return {int(k): float(v) for k, v in self.capacity_rps.items()}
        return {1: float(self.capacity_rps)}


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
