"""The dashboard's security: bearer token, token cookie, CSRF, response headers and the route class applying them.

Every route of a dashboard router (pages, JSON API, routes added through ``register_api``) is an
instance of the class :func:`secure_route_class` builds, so the token check, the cross-site check of
state-changing requests (:class:`Csrf`) and the headers apply even when the router is mounted in the
user's app, where no middleware of ours runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Coroutine, Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

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
CSRF_FIELD = "csrf_token"
"""Name of the hidden form field that carries the CSRF token."""
CSRF_HEADER = "X-CSRF-Token"
"""Name of the header that carries the CSRF token (scripts using the cookie)."""
BAD_CSRF = "the CSRF token is missing or wrong (reload the page and try again; scripts send Authorization: Bearer)"
"""The 403 answer's ``detail`` when a state-changing request carries neither credential nor a valid CSRF token."""
MAX_FORM_BYTES = 64 * 1024
"""Largest form body read for its CSRF field."""
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
        self.csrf = Csrf(self._token)
        """The CSRF check of the state-changing routes."""

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


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _credential(request: Any) -> str:
    bearer = _bearer(request)
    if bearer:
        return "bearer:" + bearer
    cookie = request.cookies.get(COOKIE)
    if cookie:
        return "cookie:" + cookie
    query = request.query_params.get("token")
    if query:
        return "query:" + query
    return "anonymous"


def _same_host(url: str, host: str) -> bool:
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == host.lower()


def _cross_site(request: Any) -> str | None:
    """Why the browser's own headers say another site sent ``request`` (``None``: they do not)."""
    headers = request.headers
    site = headers.get("sec-fetch-site")
    if site is not None:  # the browser's own verdict (Fetch Metadata): it knows the origin, whatever Host a proxy sets
        return None if site in ("same-origin", "none") else f"cross-site request refused (Sec-Fetch-Site: {site})"
    host = headers.get("host", "")
    origin = headers.get("origin")
    if origin is not None and origin != "null" and not _same_host(origin, host):
        return f"cross-origin request refused (Origin {origin!r} is not this dashboard)"
    referer = headers.get("referer")
    if referer and not _same_host(referer, host):
        return "cross-origin request refused (the Referer is not this dashboard)"
    return None


class Csrf:
    """The cross-site check of a dashboard's state-changing requests (``POST``, ``PUT``, ``DELETE``, ``PATCH``).

    A request may change state when it

    1. carries the dashboard's token in ``Authorization: Bearer`` (API clients: a browser cannot add
       that header to another site's request without a CORS preflight, which the dashboard never grants);
    2. else, comes from no other site by the browser's headers (``Sec-Fetch-Site`` other than
       ``same-origin``/``none``, an ``Origin`` or ``Referer`` naming another host: refused) and
       carries the CSRF token, ``HMAC-SHA256(secret, the caller's credential)``, in the
       ``csrf_token`` form field or the ``X-CSRF-Token`` header. Pages put it in their forms;
       another site can neither read it (no CORS) nor compute it. The credential is the bearer
       token, else the token cookie, else ``?token=``, else the word ``anonymous``;
    3. else, on a dashboard without a token (it answers loopback names only), passes the same-origin
       check on its own: ``Sec-Fetch-Site: same-origin``, or an ``Origin`` naming this host, or
       neither header (not a browser: curl, ``infertel profile start``), as Go's
       ``net/http.CrossOriginProtection`` decides. ``Origin: null`` without ``Sec-Fetch-Site``
       (an old browser, or a page that hides its origin) needs the token.

    Anything else is refused (403). With a token the secret is derived from it, so every worker of a
    prefork server that shares the token accepts the others' page tokens; without one it is random
    per process (rule 3 then covers the browser's own forms).

    Example:
        >>> from starlette.requests import Request
        >>> csrf = Csrf(None)
        >>> post = Request({"type": "http", "method": "POST", "headers": [(b"host", b"127.0.0.1"),
        ...                 (b"sec-fetch-site", b"cross-site")], "query_string": b""})
        >>> csrf.check(post, None)
        'cross-site request refused (Sec-Fetch-Site: cross-site)'
    """

    def __init__(self, token: str | None) -> None:
        self._token = token or None
        if self._token is not None:
            self._secret = hmac.new(self._token.encode(), b"infertel dashboard csrf v1", hashlib.sha256).digest()
        else:
            self._secret = secrets.token_bytes(32)

    def token(self, request: Any) -> str:
        """The CSRF token for the credential ``request`` carries (``anonymous`` without a request)."""
        credential = "anonymous" if request is None else _credential(request)
        return hmac.new(self._secret, credential.encode(), hashlib.sha256).hexdigest()

    def check(self, request: Any, supplied: str | None) -> str | None:
        """``None`` when ``request`` may change state, else why not (answered 403)."""
        if self._token is not None and _matches(_bearer(request), self._token):
            return None
        refused = _cross_site(request)
        if refused is not None:
            return refused
        if supplied and hmac.compare_digest(supplied.encode(), self.token(request).encode()):
            return None
        headers = request.headers
        # No token: same origin by the browser's headers (the cross-site ones were refused above), or no
        # browser at all (neither Origin nor Sec-Fetch-Site). "Origin: null" alone proves nothing.
        if self._token is None and ("sec-fetch-site" in headers or headers.get("origin") != "null"):
            return None
        return BAD_CSRF

    async def supplied(self, request: Request) -> str | None:
        """The CSRF token ``request`` carries: the header, else the form field (forms up to 64 KiB are read)."""
        header = request.headers.get(CSRF_HEADER)
        if header:
            return header
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        length = request.headers.get("content-length", "")
        if kind != "application/x-www-form-urlencoded" or not length.isdigit() or int(length) > MAX_FORM_BYTES:
            return None
        values = parse_qs((await request.body()).decode("utf-8", "replace")).get(CSRF_FIELD)
        return values[-1] if values else None


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
    """An ``APIRoute`` class that checks the token and CSRF, renders errors and adds ``headers`` to every response.

    A state-changing request (any method but ``GET``, ``HEAD``, ``OPTIONS``) must also pass
    ``gate.csrf`` (:class:`Csrf`), else it is answered 403 with the reason, before its handler runs.

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
                if response is None and request.method not in _SAFE_METHODS:
                    refused = gate.csrf.check(request, await gate.csrf.supplied(request))
                    if refused is not None:
                        response = _error(403, refused, is_page, None)
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
