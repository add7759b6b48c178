"""The dashboard's extension point: pages and JSON routes that other features (alerts, health, capacity) add.

A feature registers once, at import time of its own module; every router built afterwards
(:func:`infertel.dashboard.router`, :func:`infertel.dashboard.create_app`) takes a copy of the
registry when it is built, so a request handler never reads this module's state.

Threading: registration takes a lock; it is meant for import time. Exceptions: a page whose
``render`` raises gets the dashboard's error page (status 500); the exception is logged on
``infertel.dashboard``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter

    from infertel.dashboard._context import Dashboard

_PATH = re.compile(r"^/([a-z0-9][a-z0-9_\-/{}]*)?$")


@dataclass(frozen=True)
class Page:
    """A page of the dashboard: its path under the prefix, its title, and how it renders.

    Args:
        path: Path under the dashboard's prefix, e.g. ``"/alerts"`` (path parameters allowed:
            ``"/alerts/{rule_id}"``).
        title: Title in the navigation bar and the page's ``<h1>``.
        render: ``render(dashboard, query, path_params) -> str``: the page body as HTML. Build it
            with ``dashboard.render("template.html", **values)`` (autoescaped Jinja2); never
            concatenate unescaped values. ``query`` holds the request's query parameters.
        nav: Whether the page appears in the navigation bar (pages with path parameters do not).
        order: Position in the navigation bar (built-in pages use 10..60).
        templates: Packages whose ``templates/`` folder holds the page's Jinja2 templates.
        css: Extra CSS rules (class selectors) appended to the dashboard's style sheet. The
            Content-Security-Policy allows no ``style=`` attributes and no scripts.
        live_only: Shown only when the dashboard runs inside the serving process.
        refresh: Whether the page reloads itself every ``refresh_s`` (off for pages with forms to fill in).

    Threading and exceptions: ``render`` runs on a worker thread of the server's thread pool, for
    several requests at once; it should read, not block. Raising ``fastapi.HTTPException`` answers
    with its status and message on the dashboard's error page; any other exception is logged on
    ``infertel.dashboard`` and answers 500 (re-raised under the test-suite switch). The token check
    and the security headers apply before and after it.

    Example:
        >>> def render(dashboard, query, params):
        ...     return dashboard.render("alerts.html", rules=[])
        >>> page = Page("/alerts", "Alerts", render, templates=("infertel.alerting",))
    """

    path: str
    title: str
    render: Callable[[Dashboard, Mapping[str, str], Mapping[str, str]], str]
    nav: bool = True
    order: int = 100
    templates: tuple[str, ...] = ()
    css: str = ""
    live_only: bool = False
    refresh: bool = True

    def __post_init__(self) -> None:
        if not _PATH.match(self.path):
            raise ValueError(f"Page path must start with '/' and use [a-z0-9_-/{{}}], got {self.path!r}")


@dataclass(frozen=True)
class Api:
    """JSON routes a feature adds under the dashboard's ``api/`` path.

    Args:
        name: A unique name (the feature's), used to replace an earlier registration.
        build: ``build(dashboard) -> fastapi.APIRouter``; the router's paths are relative to
            ``<prefix>/api``. Create it with ``dashboard.api_router()`` so the token check and
            the security headers apply to its routes.

    Threading and exceptions: ``build`` runs once, when a dashboard router is built. Its routes
    follow FastAPI's rules (``def`` handlers on the thread pool); errors answer JSON
    ``{"detail": ...}`` (``HTTPException``: its status; others: logged, 500).

    Example:
        >>> def build(dashboard):
        ...     api = dashboard.api_router()
        ...     @api.get("/alerts")
        ...     def alerts() -> dict:
        ...         return {"alerts": []}
        ...     return api
        >>> spec = Api("alerts", build)
    """

    name: str
    build: Callable[[Dashboard], APIRouter]


Provider = Callable[[], "tuple[Sequence[Page], Sequence[Api]]"]
"""``provide() -> (pages, apis)``: what a feature adds while it is active (empty when it is not)."""


@dataclass
class _Registry:
    pages: dict[str, Page] = field(default_factory=dict)
    apis: dict[str, Api] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_registry = _Registry()


def register_page(page: Page) -> None:
    """Add ``page`` to every dashboard built from now on (a page at the same path is replaced).

    Example:
        >>> register_page(Page("/example", "Example", lambda d, q, p: "<p>hello</p>"))  # doctest: +SKIP
    """
    if not isinstance(page, Page):
        raise ValueError(f"register_page expects an infertel.dashboard.Page, got {type(page).__name__}")
    with _registry.lock:
        _registry.pages[page.path] = page


def register_api(api: Api) -> None:
    """Add JSON routes to every dashboard built from now on (an earlier ``api.name`` is replaced).

    Example:
        >>> register_api(Api("example", lambda dashboard: dashboard.api_router()))  # doctest: +SKIP
    """
    if not isinstance(api, Api):
        raise ValueError(f"register_api expects an infertel.dashboard.Api, got {type(api).__name__}")
    with _registry.lock:
        _registry.apis[api.name] = api


def unregister(name_or_path: str) -> None:
    """Remove a registered page (by path) or API (by name); unknown names are ignored.

    Example:
        >>> unregister("/example")
    """
    with _registry.lock:
        _registry.pages.pop(name_or_path, None)
        _registry.apis.pop(name_or_path, None)


def register_provider(name: str, provide: Provider) -> None:
    """Add pages and APIs that appear only while a feature is active (an engine runs, a registry is in use).

    ``provide()`` runs each time a dashboard is built and answers ``(pages, apis)``, empty when the
    feature is not active; pages and APIs registered with :func:`register_page` / :func:`register_api`
    replace a provider's at the same path or name. A provider of the same ``name`` is replaced.

    Example:
        >>> register_provider("example", lambda: ([], []))  # doctest: +SKIP
    """
    with _registry.lock:
        _registry.providers[name] = provide


def registered() -> tuple[list[Page], list[Api]]:
    """A copy of the registered pages (by ``order``) and APIs, taken when a dashboard is built."""
    with _registry.lock:
        providers = list(_registry.providers.values())
        explicit_pages, explicit_apis = dict(_registry.pages), dict(_registry.apis)
    pages: dict[str, Page] = {}
    apis: dict[str, Api] = {}
    for provide in providers:  # outside the lock: a provider may import its feature's modules
        found_pages, found_apis = provide()
        pages.update((p.path, p) for p in found_pages)
        apis.update((a.name, a) for a in found_apis)
    pages.update(explicit_pages)
    apis.update(explicit_apis)
    return sorted(pages.values(), key=lambda p: (p.order, p.path)), list(apis.values())
