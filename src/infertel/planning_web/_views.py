"""One dashboard's planning state: its settings, clock and action log, and the computations the routes share."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from infertel._internal.commands._query import iso
from infertel.planning_web import _compute
from infertel.planning_web._actions import ActionLog, actions_path
from infertel.planning_web._settings import PlanningSettings


class Views:
    """The planning data of one dashboard (its store and action log), for the JSON routes and the pages.

    Args:
        dashboard: The ``infertel.dashboard.Dashboard`` whose store is read.
        settings: The planning settings.
        clock: Wall-clock time in Unix nanoseconds (``time.time_ns``; tests pass a fixed one).

    Threading: route handlers run on the server's thread pool; the computations read the store
    (the dashboard's connection serialises) and the action log takes its own lock.

    Example:
        >>> views = Views(dashboard, PlanningSettings(capacity_rps=2.0), clock=time.time_ns)  # doctest: +SKIP
    """

    def __init__(self, dashboard: Any, settings: PlanningSettings, clock: Callable[[], int]) -> None:
        self.dashboard = dashboard
        self.settings = settings
        self.clock = clock
        self.actions = ActionLog(actions_path(dashboard.store_path), keep=settings.keep_actions)

    def _store(self) -> Any:
        store = self.dashboard.store()
        if store is None:
            raise _compute.NotEnoughData(f"no store at {self.dashboard.store_path} yet")
        return store

    def recommendation(self, current: int | None = None) -> dict[str, Any]:
        """The recommendation; current replicas from ``current``, else the last recorded action, else min_replicas."""
        source = "query"
        if current is None:
            last = self.actions.last()
            current, source = (int(last["replicas"]), "recorded-action") if last else (None, "default")
        if current is None or current < 1:
            current = max(self.settings.min_replicas, current or 0)
        return _compute.recommendation(self._store(), self.settings, self.clock(), current, source)

    def predictions(self) -> dict[str, Any]:
        """The request-rate forecast with its interval."""
        return _compute.predictions(self._store(), self.settings, self.clock())

    def capacity_plan(self) -> dict[str, Any]:
        """The growth scenarios (the JSON of ``infertel capacity-plan --json``)."""
        return _compute.capacity_plan(self._store(), self.settings, self.clock())

    def cost(self, range_s: float) -> dict[str, Any]:
        """Cost per service and model over the last ``range_s``."""
        return _compute.cost(self._store(), self.settings, self.clock(), range_s)

    def list_actions(self) -> list[dict[str, Any]]:
        """Recorded actions, newest first."""
        return list(reversed(self.actions.read()))

    def record(self, replicas: int, action: str, desired_replicas: int | None, note: str) -> dict[str, Any]:
        """Record what was done now; returns the stored record."""
        now = self.clock()
        return self.actions.append({
            "time": iso(now), "time_ns": now, "replicas": replicas, "action": action,
            "desired_replicas": desired_replicas, "note": note,
        })  # fmt: skip


class ViewsByDashboard:
    """The :class:`Views` of each dashboard built with these settings (weakly keyed: none outlives its dashboard)."""

    def __init__(self, settings: PlanningSettings, clock: Callable[[], int]) -> None:
        self.settings = settings
        self.clock = clock
        self._views: weakref.WeakKeyDictionary[Any, Views] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, dashboard: Any) -> Views:
        with self._lock:
            views = self._views.get(dashboard)
            if views is None:
                views = self._views[dashboard] = Views(dashboard, self.settings, self.clock)
            return views
