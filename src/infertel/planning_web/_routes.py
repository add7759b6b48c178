"""The autoscaling JSON routes (FastAPI is imported here only, when a router is built)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query

from infertel.planning_web import _models
from infertel.planning_web._compute import NotEnoughData
from infertel.planning_web._views import Views

RANGES_S = {"15m": 900.0, "1h": 3600.0, "6h": 21_600.0, "24h": 86_400.0, "7d": 604_800.0}
"""Cost ranges, named as the dashboard's."""


def range_seconds(name: str | None) -> float:
    """The cost range ``name`` in seconds (default 24h).

    Raises:
        HTTPException: 422 naming the accepted values.

    Example:
        >>> range_seconds("1h")
        3600.0
    """
    key = name or "24h"
    if key not in RANGES_S:
        raise HTTPException(422, f"range: expected one of {', '.join(RANGES_S)}, got {key!r}")
    return RANGES_S[key]


def _answer(compute: Any) -> Any:
    try:
        return compute()
    except (NotEnoughData, LookupError) as exc:
        raise HTTPException(409, str(exc.args[0]) if exc.args else str(exc)) from None


def build(api: APIRouter, views: Views) -> APIRouter:
    """Add the ``/autoscaling/...`` routes to ``api`` (a ``dashboard.api_router()``: token check and headers apply)."""

    @api.get("/autoscaling/recommendations", response_model=_models.Recommendation)
    def recommendations(
        current_replicas: int | None = Query(None, ge=1, le=100_000, description="replicas running now"),  # noqa: B008
    ) -> Any:
        """Desired replicas now and the inputs behind it, with the last minutes' signals and reasons.

        Current replicas: ``current_replicas``, else the last recorded action's, else ``min_replicas``.
        409 when the store has no data yet.
        """
        return _answer(lambda: views.recommendation(current_replicas))

    @api.get("/autoscaling/predictions", response_model=_models.Predictions)
    def predictions() -> Any:
        """The request-rate forecast (Holt-Winters on 5-minute buckets) with its prediction interval."""
        return _answer(views.predictions)

    @api.get("/autoscaling/capacity-plan", response_model=_models.CapacityPlan)
    def capacity_plan() -> Any:
        """Growth scenarios: the same JSON as ``infertel capacity-plan --json`` (409 under 2 days of history)."""
        return _answer(views.capacity_plan)

    @api.get("/autoscaling/cost", response_model=_models.Cost)
    def cost(range: str = "24h") -> Any:  # noqa: A002 - the dashboard's query name
        """Cost per service and model (``infertel.analysis``) over ``range`` (15m, 1h, 6h, 24h, 7d)."""
        seconds = range_seconds(range)
        return _answer(lambda: views.cost(seconds))

    @api.get("/autoscaling/actions", response_model=_models.Actions)
    def actions() -> Any:
        """The recorded actions, newest first."""
        return {"actions": views.list_actions()}

    @api.post("/autoscaling/record-action", response_model=_models.Action, status_code=201)
    def record_action(body: _models.ActionIn) -> Any:
        """Record what was done (bounded JSON-lines file next to the store); 422 on a bad body."""
        return views.record(body.replicas, body.action, body.desired_replicas, body.note)

    return api
