"""The dashboard's security: bearer token, token cookie, response headers and the route class applying them.

Every route of a dashboard router (pages, JSON API, routes added through ``register_api``) is an
instance of the class :func:`secure_route_class` builds, so the token check and the headers
apply even when the router is mounted in the user's app, where no middleware of ours runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable, Coroutine, Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute

from infertel._internal.errors import reraise_enabled

_logger = logging.getLogger("infertel.dashboard")

REQUEST_ROOT: ContextVar[str] = ContextVar("infertel_dashboard_request_root", default="")
"""The ASGI ``root_path`` of the request being answered (set per request by the route class), so links
work when the dashboard is mounted below a path (Starlette ``Mount``, a proxy's ``--root-path``)."""

REQUEST: ContextVar[Request | None] = ContextVar("infertel_dashboard_request", default=None)
"""The request being answered (set per request by the route class), for extension pages that need its
cookies or headers (the alerts page binds its CSRF token to the caller's credential)."""

COOKIE = "infertel_dashboard_token"
"""Name of the HttpOnly, SameSite=Strict cookie that ``?token=`` sets."""


def style_hash(css: str) -> str:
    """The CSP source that allows exactly the inline style sheet ``css``.

    Example:
        >>> style_hash("").startswith("'sha256-")
        True
    """
    digest = hashlib.sha256(css.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def security_headers(css: str) -> dict[str, str]:
    """Headers on every dashboard response: a CSP that forbids scripts, and no sniffing, framing or referrer.

    Example:
        >>> "script-src" in security_headers("")["Content-Security-Policy"]
        False
    """
    # default-src 'none' forbids scripts, fonts, connections and frames; only the one style
    # sheet (by hash: no style attributes either), images from here or data: URIs, forms to here.
    csp = (
        f"default-src 'none'; style-src {style_hash(css)}; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def _matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


class TokenGate:
    """Checks a request's bearer token: ``Authorization: Bearer``, the token cookie, or ``?token=``.

    A valid ``?token=`` on a page answers with a redirect to the same address without it and sets
    the cookie (HttpOnly, SameSite=Strict), so a browser user opens ``/?token=...`` once and the
    token does not stay in the address bar or the history.

    Example:
        >>> gate = TokenGate(None, "/monitoring")
        >>> gate.enabled
        False
    """

    def __init__(self, token: str | None, prefix: str) -> None:
        self._token = token or None
        self._prefix = prefix

    @property
    def enabled(self) -> bool:
        """Whether a token is required."""
        return self._token is not None

    def check(self, request: Request, *, page: bool) -> Response | None:
        """``None`` when the request may go on, else the response to send (401 or the cookie redirect)."""
        token = self._token
        if token is None:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and _matches(value.strip(), token):
            return None
        if _matches(request.cookies.get(COOKIE), token):
            return None
        query = request.query_params
        if _matches(query.get("token"), token):
            if not page:
                return None
            rest = urlencode([(k, v) for k, v in query.multi_items() if k != "token"])
            redirect = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), status_code=303)
            path = (request.scope.get("root_path", "") + self._prefix) or "/"
            redirect.set_cookie(COOKIE, token, httponly=True, samesite="strict", path=path)
            return redirect
        detail = "a valid bearer token is required (Authorization: Bearer, or ?token= once in a browser)"
        headers = {"WWW-Authenticate": "Bearer"}
        if page:
            return HTMLResponse(_UNAUTHORIZED, status_code=401, headers=headers)
        return JSONResponse({"detail": detail}, status_code=401, headers=headers)


_UNAUTHORIZED = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>infertel: token required</title></head>"
    "<body><h1>Token required</h1><p>This dashboard asks for a token: open it once with "
    "<code>?token=&lt;token&gt;</code> (a cookie keeps it), or send <code>Authorization: Bearer</code>.</p>"
    "</body></html>"
)

_Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def secure_route_class(
    gate: TokenGate,
    headers: dict[str, str],
    *,
    page: bool,
    error_page: Callable[[int, str], Response],
    unavailable: tuple[type[BaseException], ...] = (),
) -> type[APIRoute]:
    """An ``APIRoute`` class that checks the token, renders errors and adds ``headers`` to every response.

    An exception of a class in ``unavailable`` (the store cannot be read now) answers 503 with its
    message; any other unexpected exception is logged and answers 500.

    Page routes (``page=True``) answer errors with ``error_page(status, message)``, API routes in
    JSON (``{"detail": ...}``).

    Example:
        >>> gate = TokenGate(None, "")
        >>> route_class = secure_route_class(gate, {}, page=False, error_page=lambda s, m: Response(m, s))
    """

    class SecureRoute(APIRoute):
        def get_route_handler(self) -> _Handler:
            handler = super().get_route_handler()
            is_page = page

            async def secured(request: Request) -> Response:
                REQUEST_ROOT.set(request.scope.get("root_path", ""))  # this request's context only
                REQUEST.set(request)
                response = gate.check(request, page=is_page)
                if response is None:
                    try:
                        response = await handler(request)
                    except HTTPException as exc:
                        response = _error(exc.status_code, str(exc.detail), is_page, exc.headers)
                    except RequestValidationError as exc:
                        response = JSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
                    except unavailable as exc:
                        response = _error(503, f"the store cannot be read: {exc}", is_page, {"Retry-After": "10"})
                    except Exception:  # a bug: one log line with the traceback, a 500, never a crash
                        if reraise_enabled():
                            raise
                        _logger.exception("infertel dashboard: %s %s failed", request.method, request.url.path)
                        response = _error(500, "internal error (see the server's log)", is_page, None)
                response.headers.update(headers)
                return response

            return secured

    def _error(status: int, message: str, is_page: bool, extra: Mapping[str, str] | None) -> Response:
        response = error_page(status, message) if is_page else JSONResponse({"detail": message}, status_code=status)
        if extra:
            response.headers.update(extra)
        return response

    return SecureRoute
