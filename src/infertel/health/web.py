"""The dashboard's health page and ``api/health`` (the ``application/health+json`` body of a probe).

A mounted dashboard built while the application's registry is in use (made by
``health.default_registry()`` or served by ``health.router()`` / ``health_app()`` / ``lifespan()``,
and not stopped) shows them by itself, over that registry. :func:`register` adds them to every
dashboard built afterwards, through the dashboard's extension point, replacing the automatic page:
``register(registry)`` for another registry; without one (and in the standalone ``infertel
dashboard``, which also serves ``/livez`` ``/readyz`` ``/startupz`` over it) each dashboard runs a
small registry of its own in the background: the store's file readable, memory and the store's
disk. The page reads the cached results only, as the probes do: nothing runs per request. Needs
the ``dashboard`` extra.

Example:
    >>> from infertel import health
    >>> from infertel.health import web
    >>> registry = health.default_registry(gpu=False)
    >>> web.register(registry)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from infertel.health._model import PROBES, READYZ, Check, CheckResult
from infertel.health._registry import HealthRegistry
from infertel.health._render import HEALTH_JSON, iso_time

CSS = "td.none{color:var(--muted)}table.probes td.num{font-weight:600}"
_COLOURS = {"pass": "ok", "warn": "warn", "fail": "crit"}


def store_readable_check(path: str | os.PathLike[str], *, period_s: float = 10.0) -> Check:
    """``store:readable``: the store's file opens read-only and answers; observed value its size in bytes.

    Example:
        >>> store_readable_check("/nonexistent.db").fn().status
        'fail'
    """
    where = Path(path)

    def run() -> CheckResult:
        if not where.is_file():
            return CheckResult("fail", f"no store at {where}", component_type="datastore")
        conn = sqlite3.connect(f"{where.resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
        try:
            tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        except sqlite3.Error as exc:
            return CheckResult("fail", f"{where}: {exc}", component_type="datastore")
        finally:
            conn.close()
        return CheckResult("pass", f"{tables} tables", where.stat().st_size, "By", "datastore")

    return Check("store:readable", run, period_s=period_s, critical=True)


def dashboard_registry(store_path: str | os.PathLike[str]) -> HealthRegistry:
    """The standalone dashboard's own checks: the store's file readable (critical), memory, the store's disk.

    Example:
        >>> sorted(dashboard_registry("/tmp/store.db").observations())
        ['disk:utilization', 'memory:utilization', 'store:readable']
    """
    from infertel.health._builtin import disk_check, memory_check

    store_path = Path(store_path)
    folder = store_path.parent if store_path.parent.exists() else Path(os.sep)
    return HealthRegistry(checks=[store_readable_check(store_path), memory_check(), disk_check(folder)],
                          max_workers=2)  # fmt: skip


class _InUse:
    """The application's health registry, weakly held, until it is stopped.

    The last one made by ``default_registry()`` or served by ``router()`` / ``health_app()`` / ``lifespan()``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ref: weakref.ref[HealthRegistry] | None = None

    def mark(self, registry: HealthRegistry) -> None:
        with self._lock:
            self._ref = weakref.ref(registry)

    def get(self) -> HealthRegistry | None:
        with self._lock:
            registry = self._ref() if self._ref is not None else None
        return None if registry is None or registry.stopped else registry


_IN_USE = _InUse()


def use(registry: HealthRegistry) -> None:
    """Mark ``registry`` as the application's: mounted dashboards built from now on show its health page.

    ``default_registry()``, ``router()``, ``health_app()`` and ``lifespan()`` call it; a registry that
    is stopped (or garbage-collected) is no longer shown. An explicit :func:`register` replaces it.

    Example:
        >>> registry = HealthRegistry()
        >>> use(registry)
        >>> in_use() is registry
        True
    """
    _IN_USE.mark(registry)
    from infertel.dashboard._registry import register_provider

    register_provider("health", dashboard_features)


def in_use() -> HealthRegistry | None:
    """The registry last marked by :func:`use`, unless it was stopped since (``None``: none).

    Example:
        >>> in_use() is None or not in_use().stopped
        True
    """
    return _IN_USE.get()


def dashboard_features() -> tuple[list[Any], list[Any]]:
    """The health page and ``api/health`` over :func:`in_use`'s registry, else nothing (asked per router built).

    Example:
        >>> pages, apis = dashboard_features()
        >>> len(pages) == len(apis) and len(pages) in (0, 1)
        True
    """
    registry = in_use()
    if registry is None:
        return [], []
    built = HealthFeature(registry)
    return built.pages(), [built.api()]


class HealthFeature:
    """The health page and API over ``registry`` (``None``: one small registry per dashboard).

    ``own``: whether the page says the checks are the dashboard process's own rather than the
    application's (default: when ``registry`` is ``None``).

    Example:
        >>> [p.path for p in HealthFeature().pages()]
        ['/health']
    """

    def __init__(self, registry: HealthRegistry | None = None, *, own: bool | None = None) -> None:
        self._registry = registry
        self._own_checks = registry is None if own is None else own  # the page says whose checks these are
        self._lock = threading.Lock()
        self._own: weakref.WeakKeyDictionary[Any, HealthRegistry] = weakref.WeakKeyDictionary()

    def registry(self, d: Any) -> HealthRegistry:
        """The registry dashboard ``d`` shows (its own is started on first use, in the background)."""
        if self._registry is not None:
            return self._registry
        with self._lock:
            found = self._own.get(d)
            if found is None:
                found = self._own[d] = dashboard_registry(d.store_path)
        found.start()  # idempotent; checks run on the registry's threads, never on this request
        return found

    def view(self, d: Any) -> dict[str, Any]:
        """What the page shows: each probe's verdict and each check's latest observation."""
        registry = self.registry(d)
        probes = {p: registry.report(p) for p in PROBES}
        rows = []
        for name, obs in sorted(registry.observations().items()):
            result = obs.result
            status = "none" if result is None else result.status
            rows.append({
                "name": name, "status": status, "colour": _COLOURS.get(status, "none"),
                "critical": obs.check.critical, "message": "not run yet" if result is None else result.output,
                "value": None if result is None else result.observed_value,
                "unit": None if result is None else result.observed_unit,
                "last_run": iso_time(obs.time_unix_nano) if obs.time_unix_nano else None,
                "last_run_unix_nano": obs.time_unix_nano or None, "duration_s": obs.duration_s,
                "period_s": obs.check.period_s, "timeout_millis": obs.check.timeout_millis,
                "probes": sorted(obs.check.probes),
            })  # fmt: skip
        gates = {
            k[5:]: v[0]["status"] for k, v in probes[READYZ].document.get("checks", {}).items() if k.startswith("gate:")
        }
        return {"probes": [{"probe": p, "status": r.status, "colour": _COLOURS[r.status], "http_status": r.http_status}
                           for p, r in probes.items()], "checks": rows, "gates": gates}  # fmt: skip

    def pages(self) -> list[Any]:
        """The ``/health`` page."""
        from infertel.dashboard import Page

        return [Page("/health", "Health", self._render, order=75, templates=("infertel.health",), css=CSS)]

    def _render(self, d: Any, query: Mapping[str, str], params: Mapping[str, str]) -> str:
        return d.render("health.html", own=self._own_checks, **self.view(d))

    def api(self) -> Any:
        """The ``health`` API: ``GET api/health?probe=readyz``."""
        from infertel.dashboard import Api

        return Api("health", self._build)

    def _build(self, d: Any) -> Any:
        from fastapi import Query
        from fastapi.responses import Response

        from infertel.health._web_models import HealthOut

        self.registry(d)  # its own registry starts now, when the router is built, so the first page has results
        api = d.api_router()
        doc = {"model": HealthOut, "content": {HEALTH_JSON: {"schema": {"$ref": "#/components/schemas/HealthOut"}}}}

        def health(probe: str = Query(READYZ)) -> Response:
            """A probe's verdict as ``application/health+json`` (status 503 when it fails); cached, nothing runs."""
            report = self.registry(d).report(probe)
            return Response(report.body, report.http_status, media_type=HEALTH_JSON)

        # FastAPI resolves annotations in this module's globals, where Response is not imported.
        health.__annotations__ = {"probe": Literal["livez", "readyz", "startupz"], "return": Response}
        api.add_api_route(
            "/health",
            health,
            methods=["GET"],
            response_class=Response,
            responses={200: {**doc, "description": "pass or warn"}, 503: {**doc, "description": "fail"}},
        )

        return api


def feature(registry: HealthRegistry | None = None, *, own: bool | None = None) -> HealthFeature:
    """The health page and API over ``registry``, to add to one router: ``router(pages=f.pages(), apis=[f.api()])``.

    Example:
        >>> feature().api().name
        'health'
    """
    return HealthFeature(registry, own=own)


def register(registry: HealthRegistry | None = None, *, own: bool | None = None) -> None:
    """Add the ``/health`` page and ``api/health`` to every dashboard built from now on.

    Example:
        >>> register()  # doctest: +SKIP
    """
    from infertel.dashboard import register_api, register_page

    built = HealthFeature(registry, own=own)
    for page in built.pages():
        register_page(page)
    register_api(built.api())


__all__ = [
    "HealthFeature",
    "dashboard_features",
    "dashboard_registry",
    "feature",
    "in_use",
    "register",
    "store_readable_check",
    "use",
]
