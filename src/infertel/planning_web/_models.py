"""The documented JSON shapes of the autoscaling routes (pydantic models: validation and the OpenAPI schema)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class Inputs(BaseModel):
    """What the policy's last decision was made of (``infertel.autoscaling.Recommendation``)."""

    forecast_rps: Optional[float]  # noqa: UP045 - pydantic evaluates annotations on Python 3.10
    forecast_upper_rps: Optional[float]  # noqa: UP045
    capacity_rps: float
    target_running: float
    from_forecast: int
    from_load: int
    from_rate: int
    from_ttft: int
    from_kv_cache: int


class Signal(BaseModel):
    """One replayed decision: the minute's signals and what the policy asked for, with the reason."""

    time: str
    time_ns: int
    arrivals: int
    requests_per_s: float
    in_flight: float
    ttft_p95_s: Optional[float]  # noqa: UP045
    desired_replicas: int
    reason: str


class Recommendation(BaseModel):
    """``GET /autoscaling/recommendations``."""

    time: str
    time_ns: int
    desired_replicas: int
    current_replicas: int
    current_replicas_source: Literal["query", "recorded-action", "default"]
    reason: str
    inputs: Inputs
    forecast_origin_ns: int
    history_buckets: int
    signals: list[Signal]


class PredictionPoint(BaseModel):
    """One forecast step: the mean request rate and its prediction interval."""

    time: str
    time_ns: int
    mean_rps: float
    lower_rps: float
    upper_rps: float


class Predictions(BaseModel):
    """``GET /autoscaling/predictions``."""

    origin: str
    origin_ns: int
    step_s: float
    coverage: float
    horizon_s: float
    history_buckets: int
    points: list[PredictionPoint]


class Scenario(BaseModel):
    """One growth scenario (``infertel.capacity.Scenario``)."""

    growth: float
    peak_rps: float
    peak_upper_rps: float
    replicas: int
    gpus: int
    gpu_hours: float
    cost: Optional[float]  # noqa: UP045
    breach_probability: float
    risk: Literal["low", "medium", "high"]
    reason: str


class CapacityPlan(BaseModel):
    """``GET /autoscaling/capacity-plan``: the JSON of ``infertel capacity-plan --json``."""

    horizon_days: float
    capacity_rps_per_replica: float
    coverage: float
    history_days: float
    scenarios: list[Scenario]


ACTIONS = ("scale_up", "scale_down", "hold", "manual")


class ActionIn(BaseModel):
    """``POST /autoscaling/record-action``: what was done (unknown keys are refused)."""

    model_config = ConfigDict(extra="forbid")

    replicas: int = Field(ge=0, le=100_000, description="replicas running after the action")
    action: Literal["scale_up", "scale_down", "hold", "manual"] = "manual"
    desired_replicas: Optional[int] = Field(default=None, ge=0, le=100_000)  # noqa: UP045
    note: str = Field(default="", max_length=500)


class Action(BaseModel):
    """A recorded action (format version ``v``)."""

    v: int
    time: str
    time_ns: int
    replicas: int
    action: str
    desired_replicas: Optional[int]  # noqa: UP045
    note: str


class Actions(BaseModel):
    """``GET /autoscaling/actions``: the recorded actions, newest first."""

    actions: list[Action]


class CostRow(BaseModel):
    """Cost of one (service, model) series in USD (None: unpriced)."""

    service: Optional[str]  # noqa: UP045
    model: Optional[str]  # noqa: UP045
    requests: int
    token_cost_usd: Optional[float]  # noqa: UP045
    instance_cost_usd: Optional[float]  # noqa: UP045
    total_cost_usd: Optional[float]  # noqa: UP045
    cost_per_request_usd: Optional[float]  # noqa: UP045


class ModelTotal(BaseModel):
    """Cost of one model, all services."""

    model: Optional[str]  # noqa: UP045
    requests: int
    total_cost_usd: Optional[float]  # noqa: UP045


class ServiceTotal(BaseModel):
    """Cost of one service, all models."""

    service: Optional[str]  # noqa: UP045
    requests: int
    total_cost_usd: Optional[float]  # noqa: UP045


class Cost(BaseModel):
    """``GET /autoscaling/cost``: cost per service and model over the range."""

    start: str
    start_ns: int
    end: str
    end_ns: int
    series: list[CostRow]
    total_cost_usd: Optional[float]  # noqa: UP045
    by_model: list[ModelTotal]
    by_service: list[ServiceTotal]
