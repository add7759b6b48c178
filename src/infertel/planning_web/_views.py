"""One dashboard's planning state: its settings, clock and action log, and the computations the routes share."""

from __future__ import annotations

import copy
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from infertel._internal.commands._query import iso
from infertel.planning_web import _compute
from infertel.planning_web._actions import ActionLog, actions_path
from infertel.planning_web._settings import PlanningSettings


class Memo:
    """The newest ``size`` results by key (a forecast fitted at a 5-minute origin is reused until the next one).

    Example:
        >>> memo = Memo(2)
        >>> memo.get("a", lambda: 1), memo.get("a", lambda: 2)
        (1, 1)
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The result for ``key``, built (outside the lock) when not kept."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


class Views:
    """The planning data of one dashboard (its store and action log), for the JSON routes and the pages.

    Args:
        dashboard: The ``infertel.dashboard.Dashboard`` whose store is read.
        settings: The planning settings.
        clock: Wall-clock time in Unix nanoseconds (``time.time_ns``; tests pass a fixed one).

    Threading: route handlers run on the server's thread pool; the computations read the store
    (the dashboard's connection serialises) and the action log takes its own lock. Forecasts fitted
    at a 5-minute origin, the predictions and the capacity plan are kept until the next origin
    (fitting weeks of history takes about half a second).

    Example:
        >>> views = Views(dashboard, PlanningSettings(capacity_rps=2.0), clock=time.time_ns)  # doctest: +SKIP
    """

    def __init__(self, dashboard: Any, settings: PlanningSettings, clock: Callable[[], int]) -> None:
        self.dashboard = dashboard
        self.settings = settings
        self.clock = clock
        self.actions = ActionLog(actions_path(dashboard.store_path), keep=settings.keep_actions)
        self.memo = Memo(8)

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
        return _compute.recommendation(self._store(), self.settings, self.clock(), current, source, self._fitted)

    def _fitted(self, store: Any, settings: PlanningSettings, origin_ns: int) -> tuple[list[float], Any]:
        values, model = self.memo.get(("fit", origin_ns), lambda: _compute.fit_history(store, settings, origin_ns))
        return values, copy.deepcopy(model)  # the replay updates its forecaster

    def _bucket(self) -> tuple[int, int]:
        now = self.clock()
        return now, now // int(_compute.STEP_S * 1e9)

    def predictions(self) -> dict[str, Any]:
        """The request-rate forecast with its interval."""
        now, bucket = self._bucket()
        return self.memo.get(("predictions", bucket), lambda: _compute.predictions(self._store(), self.settings, now))

    def capacity_plan(self) -> dict[str, Any]:
        """The growth scenarios (the JSON of ``infertel capacity-plan --json``)."""
        now, bucket = self._bucket()
        return self.memo.get(("plan", bucket), lambda: _compute.capacity_plan(self._store(), self.settings, now))

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
