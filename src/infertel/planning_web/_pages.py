"""The Autoscaling, Capacity plan and Cost pages: thin views of the data the JSON routes answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from infertel.planning_web._compute import NotEnoughData
from infertel.planning_web._svg import forecast_chart
from infertel.planning_web._views import Views

CSS = (
    ".chart .band{fill:currentColor;opacity:.15;stroke:none}"
    ".planning-figures{display:flex;gap:2rem}"
    ".planning-figures .figure{font-size:2rem;font-weight:bold}"
)
"""Extra rules for the dashboard's style sheet (classes only: the CSP allows no style attributes)."""

_Render = Callable[[Any, Mapping[str, str], Mapping[str, str]], str]


def _attempt(compute: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return compute(), None
    except (NotEnoughData, LookupError) as exc:
        return None, str(exc)


def autoscaling_page(views_of: Callable[[Any], Views]) -> _Render:
    """The Autoscaling page: desired vs current replicas, the forecast chart and table, signals, actions."""

    def render(d: Any, query: Mapping[str, str], params: Mapping[str, str]) -> str:
        views = views_of(d)
        rec, rec_error = _attempt(views.recommendation)
        pred, pred_error = _attempt(views.predictions)
        return d.render(
            "planning_autoscaling.html", rec=rec, rec_error=rec_error, pred=pred, pred_error=pred_error,
            chart=forecast_chart(pred["points"]) if pred else "", actions=views.list_actions()[:20],
        )  # fmt: skip

    return render


def capacity_page(views_of: Callable[[Any], Views]) -> _Render:
    """The Capacity plan page: the scenarios table."""

    def render(d: Any, query: Mapping[str, str], params: Mapping[str, str]) -> str:
        plan, error = _attempt(views_of(d).capacity_plan)
        return d.render("planning_capacity.html", plan=plan, error=error)

    return render


def cost_page(views_of: Callable[[Any], Views]) -> _Render:
    """The Cost page: cost per service and model over the range (``?range=``)."""

    def render(d: Any, query: Mapping[str, str], params: Mapping[str, str]) -> str:
        from infertel.planning_web._routes import RANGES_S, range_seconds

        name = query.get("range") or "24h"
        seconds = range_seconds(name)
        data, error = _attempt(lambda: views_of(d).cost(seconds))
        return d.render("planning_cost.html", cost=data, error=error, range=name, cost_ranges=list(RANGES_S))

    return render
