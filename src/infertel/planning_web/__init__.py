"""Autoscaling, capacity-plan and cost views over the store: JSON routes and dashboard pages.

``register_dashboard(settings)`` adds the Autoscaling, Capacity plan and Cost pages and the JSON
routes under ``<prefix>/api/autoscaling/...`` to every dashboard built afterwards (through the
dashboard's extension point, so its bearer token, cookie and security headers apply).
``router(store, settings=...)`` is the same JSON at ``/autoscaling/...`` for an app of your own,
guarded by the same token gate (``token=`` or ``$INFERTEL_DASHBOARD_TOKEN``).

Routes (JSON; times are ISO 8601 UTC ``time`` and Unix nanoseconds ``*_ns``):

- ``GET autoscaling/recommendations[?current_replicas=N]``: desired replicas, the inputs behind
  them and the reason (infertel's ``PredictiveAutoscaler`` replayed over the last minutes of the store).
- ``GET autoscaling/predictions``: the request-rate forecast with its prediction interval.
- ``GET autoscaling/capacity-plan``: the ``scenarios`` of ``infertel capacity-plan --json``.
- ``GET autoscaling/cost[?range=24h]``: cost per service and model (``infertel.analysis``).
- ``POST autoscaling/record-action`` ``{"replicas", "action", "desired_replicas", "note"}``: records
  what was done in ``<store>.autoscaling-actions.jsonl`` (bounded; 422 on a bad body);
  ``GET autoscaling/actions`` lists them.

Needs the ``dashboard`` extra.

Example:
    >>> from infertel.planning_web import PlanningSettings, register_dashboard
    >>> register_dashboard(PlanningSettings(capacity_rps=2.5, price_per_gpu_hour=2.1))  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infertel.planning_web._actions import VERSION as ACTIONS_VERSION
from infertel.planning_web._actions import actions_path
from infertel.planning_web._settings import PlanningSettings

if TYPE_CHECKING:
    from fastapi import APIRouter

__all__ = [
    "ACTIONS_VERSION", "PlanningSettings", "actions_path", "register_dashboard", "router", "unregister_dashboard",
]  # fmt: skip

_PAGES = ("/autoscaling", "/capacity", "/cost")


def register_dashboard(settings: PlanningSettings, *, clock: Callable[[], int] = time.time_ns) -> None:
    """Add the Autoscaling, Capacity plan and Cost pages and ``api/autoscaling/...`` to every dashboard built next.

    Args:
        settings: Capacity, prices and horizons (see :class:`PlanningSettings`).
        clock: Wall-clock time in Unix nanoseconds (tests pass a fixed one).

    Example:
        >>> register_dashboard(PlanningSettings(capacity_rps=2.5))  # doctest: +SKIP
    """
    from infertel.dashboard import Api, Page, register_api, register_page
    from infertel.planning_web import _pages
    from infertel.planning_web._views import ViewsByDashboard

    if not isinstance(settings, PlanningSettings):
        raise ValueError(f"settings must be an infertel.planning_web.PlanningSettings, got {type(settings).__name__}")
    views_of = ViewsByDashboard(settings, clock)
    pkg = ("infertel.planning_web",)
    register_page(Page("/autoscaling", "Autoscaling", _pages.autoscaling_page(views_of), order=70, templates=pkg,
                       css=_pages.CSS))  # fmt: skip
    register_page(Page("/capacity", "Capacity plan", _pages.capacity_page(views_of), order=71, templates=pkg))
    register_page(Page("/cost", "Cost", _pages.cost_page(views_of), order=72, templates=pkg))

    def build(dashboard: Any) -> APIRouter:
        from infertel.planning_web._routes import build as build_routes

        return build_routes(dashboard.api_router(), views_of(dashboard))

    register_api(Api("autoscaling", build))


def unregister_dashboard() -> None:
    """Remove what :func:`register_dashboard` added (dashboards built earlier keep theirs).

    Example:
        >>> unregister_dashboard()  # doctest: +SKIP
    """
    from infertel.dashboard import unregister

    for name in (*_PAGES, "autoscaling"):
        unregister(name)


def router(
    store: Any = None,
    *,
    settings: PlanningSettings,
    token: str | None = None,
    prefix: str = "",
    clock: Callable[[], int] = time.time_ns,
) -> APIRouter:
    """The JSON routes at ``<prefix>/autoscaling/...`` for your FastAPI app, guarded like the dashboard.

    Args:
        store: The store: a path, an open ``SQLiteStore`` or ``None`` (``$INFERTEL_STORE_PATH`` or the default).
        settings: Capacity, prices and horizons.
        token: Bearer token every route requires (default ``$INFERTEL_DASHBOARD_TOKEN``; none if unset).
        prefix: Where the routes live ("" for the root).
        clock: Wall-clock time in Unix nanoseconds.

    Raises:
        ValueError: A bad prefix or settings, naming them.

    Example:
        >>> from fastapi import FastAPI
        >>> app = FastAPI()
        >>> app.include_router(router("/tmp/t.db", settings=PlanningSettings(capacity_rps=2.0)))  # doctest: +SKIP
    """
    from fastapi import APIRouter

    from infertel.dashboard import Dashboard
    from infertel.environment_variables import INFERTEL_DASHBOARD_TOKEN
    from infertel.planning_web._routes import build
    from infertel.planning_web._views import Views

    if not isinstance(settings, PlanningSettings):
        raise ValueError(f"settings must be an infertel.planning_web.PlanningSettings, got {type(settings).__name__}")
    resolved = token if token is not None else (os.environ.get(INFERTEL_DASHBOARD_TOKEN, "").strip() or None)
    d = Dashboard(store, prefix=prefix, token=resolved, refresh_s=0, trace_url=None, live=False, pages=[], apis=[])
    outer = APIRouter(prefix=prefix)
    outer.include_router(build(d.api_router(), Views(d, settings, clock)), tags=["infertel autoscaling"])
    return outer
