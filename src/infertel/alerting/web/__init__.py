"""The dashboard's alerts and silences pages and the ``api/alerts``, ``api/silences`` JSON routes.

A mounted dashboard (``infertel.dashboard.router(...)``) built while ``configure(alert_rules=...)``
runs an engine shows them by itself; :func:`register` adds them to every dashboard built afterwards
through the dashboard's extension point (``infertel dashboard`` does it; an explicit registration
replaces the automatic one, e.g. to show another ``engine``). Mounted in the serving process, they
show the engine ``configure(alert_rules=...)`` runs (or the ``engine`` given); the standalone
dashboard shows the alerting tables of the store's file, as
the last engine that used it left them. Acknowledgements and silences made on the pages (HTML
forms with a CSRF token) or through the API go through the engine's own API, so the engine
honours them. Needs the ``dashboard`` extra.

Example:
    >>> from fastapi import FastAPI
    >>> import infertel.dashboard
    >>> from infertel.alerting import web
    >>> app = FastAPI()
    >>> app.include_router(infertel.dashboard.router(prefix="/monitoring"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from infertel.alerting.web._routes import AlertsFeature
from infertel.alerting.web._view import LiveAlerts, Snapshot, StoredAlerts


def feature(engine: Any = None) -> AlertsFeature:
    """The alerts pages and API over ``engine`` (``None``: the serving process's engine, else the store).

    Use it to add them to one router only: ``router(pages=f.pages(), apis=[f.api()])``.

    Example:
        >>> f = feature()
        >>> f.api().name
        'alerts'
    """
    return AlertsFeature(engine)


def register(engine: Any = None) -> None:
    """Add the ``/alerts`` and ``/silences`` pages and their API to every dashboard built from now on.

    Example:
        >>> register()  # doctest: +SKIP
    """
    from infertel.dashboard import register_api, register_page

    built = AlertsFeature(engine)
    for page in built.pages():
        register_page(page)
    register_api(built.api())


__all__ = ["AlertsFeature", "LiveAlerts", "Snapshot", "StoredAlerts", "feature", "register"]
