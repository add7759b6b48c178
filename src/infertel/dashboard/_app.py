"""``router()`` (mount the dashboard in your FastAPI/Starlette app) and ``create_app()`` (the standalone server)."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from infertel.dashboard import _api
from infertel.dashboard._context import Dashboard
from infertel.dashboard._pages import BUILTIN_PAGES
from infertel.dashboard._registry import Api, Page, registered
from infertel.environment_variables import INFERTEL_DASHBOARD_TOKEN

_logger = logging.getLogger("infertel.dashboard")


def _page_handler(d: Dashboard, page: Page) -> Callable[[Request], Response]:
    page_id = page.path.strip("/").split("/")[0] or "overview"
    if "{" in page.path:
        page_id = page_id.rstrip("s")  # /traces/{trace_id} -> "trace"

    def handler(request: Request) -> Response:
        body = page.render(d, dict(request.query_params), dict(request.path_params))
        return d.page(page.title, body, active=page.path, page_id=page_id, refresh=page.refresh)

    handler.__name__ = f"page_{page_id}"
    return handler


def _build(
    store: Any, *, prefix: str, token: str | None, refresh_s: int, trace_url: str | None, live: bool,
    pages: Sequence[Page], apis: Sequence[Api],
) -> tuple[APIRouter, Dashboard]:  # fmt: skip
    extra_pages, extra_apis = registered()
    by_path = {p.path: p for p in (*BUILTIN_PAGES, *extra_pages, *pages)}
    apis_by_name = {a.name: a for a in (*extra_apis, *apis)}
    resolved_token = token if token is not None else (os.environ.get(INFERTEL_DASHBOARD_TOKEN, "").strip() or None)
    d = Dashboard(
        store, prefix=prefix, token=resolved_token, refresh_s=refresh_s, trace_url=trace_url, live=live,
        pages=sorted(by_path.values(), key=lambda p: (p.order, p.path)), apis=list(apis_by_name.values()),
    )  # fmt: skip
    router = APIRouter(prefix=prefix, route_class=d.route_class)
    for page in d.pages:
        router.add_api_route(
            page.path, _page_handler(d, page), methods=["GET"], include_in_schema=False, response_class=Response
        )
    router.include_router(_api.build(d), prefix="/api", tags=["infertel dashboard"])
    for extension in d.apis:
        built = extension.build(d)
        unguarded = [getattr(r, "path", "?") for r in built.routes if not isinstance(r, d.api_route_class)]
        if unguarded:  # a route without the token check and the headers would be a hole in the dashboard
            raise ValueError(
                f"Api {extension.name!r}: routes {unguarded} do not come from dashboard.api_router() "
                "(its token check and security headers must apply)"
            )
        router.include_router(built, prefix="/api", tags=[f"infertel {extension.name}"])
    return router, d


def router(
    store: Any = None,
    *,
    prefix: str = "/monitoring",
    token: str | None = None,
    refresh_s: int = 10,
    trace_url: str | None = None,
    live: bool = True,
    pages: Sequence[Page] = (),
    apis: Sequence[Api] = (),
) -> APIRouter:
    """The dashboard as a FastAPI router to mount in the serving app: pages at ``prefix + "/"``, JSON at ``api/``.

    Mounted in the serving process, the dashboard also shows the live ``infertel.stats()`` windows
    and the requests in flight (``/active``, ``api/active``). The store is opened read-only on the
    first request that needs it (the file may not exist until ``configure()`` has exported).

    Args:
        store: The store: a path, an open ``SQLiteStore``, or ``None`` for the default
            (``$INFERTEL_STORE_PATH`` or ``~/.local/share/infertel/infertel.db``), the one
            ``configure()`` writes.
        prefix: Where the pages live (``"/monitoring"``); ``""`` for the root.
        token: Bearer token every route requires (default ``$INFERTEL_DASHBOARD_TOKEN``; none if unset).
            Browsers open ``?token=...`` once; an HttpOnly, SameSite=Strict cookie keeps it.
        refresh_s: Seconds between automatic page reloads (``<meta http-equiv="refresh">``; 0: never).
        trace_url: Link template to a trace in another UI, e.g. ``"http://127.0.0.1:16686/trace/{trace_id}"``.
        live: Whether this runs in the serving process (live statistics and active requests).
        pages: Extra pages for this router only (see :func:`register_page` for every router).
        apis: Extra JSON routes for this router only.

    Raises:
        ValueError: A bad ``prefix``, ``refresh_s`` or ``trace_url``, naming it.

    Example:
        >>> from fastapi import FastAPI
        >>> import infertel.dashboard
        >>> app = FastAPI()
        >>> app.include_router(infertel.dashboard.router(prefix="/monitoring"))
    """
    built, _ = _build(
        store, prefix=prefix, token=token, refresh_s=refresh_s, trace_url=trace_url, live=live, pages=pages, apis=apis
    )
    return built


def create_app(
    store: Any = None,
    *,
    token: str | None = None,
    refresh_s: int = 10,
    trace_url: str | None = None,
    live: bool = False,
    pages: Sequence[Page] = (),
    apis: Sequence[Api] = (),
    allowed_hosts: Sequence[str] | None = None,
) -> FastAPI:
    """The standalone dashboard (``infertel dashboard``): pages at ``/``, JSON at ``/api``, ``/openapi.json``.

    Arguments as for :func:`router`; ``live`` defaults to ``False`` (a separate process sees no
    live statistics). No interactive API docs: they load scripts from elsewhere.
    ``allowed_hosts``: the only ``Host`` headers answered (others get 400), e.g. the loopback names
    when serving 127.0.0.1 without a token, so a web page whose domain an attacker re-points at
    127.0.0.1 (DNS rebinding) cannot read the dashboard.

    Example:
        >>> import uvicorn
        >>> app = create_app("/tmp/telemetry.db", refresh_s=10)
        >>> uvicorn.run(app, host="127.0.0.1", port=8686)  # doctest: +SKIP
    """
    from infertel.version import __version__

    built, d = _build(
        store, prefix="", token=token, refresh_s=refresh_s, trace_url=trace_url, live=live, pages=pages, apis=apis
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        d.close()

    app = FastAPI(
        title="infertel dashboard", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
        description="Read-only JSON API over infertel's local telemetry store.", lifespan=lifespan,
    )  # fmt: skip
    app.include_router(built)
    schema = APIRouter(route_class=d.route_class)

    @schema.get("/api/openapi.json", include_in_schema=False)
    def openapi_alias() -> JSONResponse:
        return JSONResponse(app.openapi())

    @schema.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    app.include_router(schema)
    if allowed_hosts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    return app
