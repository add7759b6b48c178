"""infertel's dashboard: server-rendered pages, a JSON API and a Grafana dashboard over the local store.

``router()`` mounts the pages and the JSON API in your FastAPI/Starlette app; ``create_app()`` is
the standalone server behind ``infertel dashboard``. Features add their pages and routes with
``register_page`` / ``register_api``. Needs the ``dashboard`` extra (FastAPI, uvicorn, Jinja2);
``infertel.dashboard.panels`` and ``infertel.dashboard.grafana`` do not.

Example:
    >>> from fastapi import FastAPI
    >>> import infertel.dashboard
    >>> app = FastAPI()
    >>> app.include_router(infertel.dashboard.router(prefix="/monitoring"))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infertel.dashboard._app import create_app, router
    from infertel.dashboard._context import Dashboard
    from infertel.dashboard._registry import Api, Page, register_api, register_page, unregister

_NAMES: dict[str, str] = {
    "router": "infertel.dashboard._app",
    "create_app": "infertel.dashboard._app",
    "Dashboard": "infertel.dashboard._context",
    "Api": "infertel.dashboard._registry",
    "Page": "infertel.dashboard._registry",
    "register_api": "infertel.dashboard._registry",
    "register_page": "infertel.dashboard._registry",
    "unregister": "infertel.dashboard._registry",
}
"""Each public name and its module; imported on first use, so ``panels`` works without the extra."""

_NEEDS_EXTRA = frozenset({"fastapi", "jinja2", "markupsafe", "uvicorn", "starlette", "pydantic"})

__all__ = ["Api", "Dashboard", "Page", "create_app", "register_api", "register_page", "router", "unregister"]


def __getattr__(name: str) -> Any:
    module_name = _NAMES.get(name)
    if module_name is None:
        raise AttributeError(f"module 'infertel.dashboard' has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name in _NEEDS_EXTRA:
            raise ImportError(f"infertel.dashboard.{name} needs {exc.name}: pip install 'infertel[dashboard]'") from exc
        raise
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
