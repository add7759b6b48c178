"""CSRF protection of the dashboard's state-changing routes (acknowledge, silence, expire).

Two checks, both on every ``POST`` and ``DELETE``:

* a token: ``HMAC-SHA256(per-dashboard secret, the caller's credential)``, where the credential is
  the bearer token, else the dashboard's token cookie (HttpOnly, SameSite=Strict), else the fixed
  word ``anonymous`` (a dashboard without a token, which answers loopback ``Host`` names only). Pages
  put it in a hidden ``csrf_token`` field; scripts send it as ``X-CSRF-Token`` (``GET api/csrf``).
  Another site's page cannot read it (no CORS) and cannot compute it (the secret never leaves the
  server);
* same origin: an ``Origin`` header other than ``null`` must name this host, and so must a
  ``Referer``. The dashboard sends ``Referrer-Policy: no-referrer``, under which browsers send
  ``Origin: null`` and no ``Referer`` with their own form posts, so those two absent or ``null``
  leave the decision to the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

FIELD = "csrf_token"
"""Name of the hidden form field."""
HEADER = "X-CSRF-Token"
"""Name of the header scripts send."""


def _credential(request: Any) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return "bearer:" + value.strip()
    from infertel.dashboard._security import COOKIE

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


class Csrf:
    """The CSRF secret of one dashboard and the checks that use it.

    Example:
        >>> from starlette.requests import Request
        >>> csrf = Csrf()
        >>> request = Request({"type": "http", "method": "POST", "headers": [(b"host", b"127.0.0.1")],
        ...                    "query_string": b""})
        >>> csrf.check(request, csrf.token(request)) is None
        True
        >>> csrf.check(request, "forged")
        'the CSRF token is missing or wrong (reload the page and try again)'
    """

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def token(self, request: Any) -> str:
        """The token for the credential ``request`` carries (``anonymous`` without a request)."""
        credential = "anonymous" if request is None else _credential(request)
        return hmac.new(self._secret, credential.encode(), hashlib.sha256).hexdigest()

    def check(self, request: Any, supplied: str | None) -> str | None:
        """``None`` when ``request`` may change state, else why not (answered 403)."""
        host = request.headers.get("host", "")
        origin = request.headers.get("origin")
        if origin is not None and origin != "null" and not _same_host(origin, host):
            return f"cross-origin request refused (Origin {origin!r} is not this dashboard)"
        referer = request.headers.get("referer")
        if referer and not _same_host(referer, host):
            return "cross-origin request refused (the Referer is not this dashboard)"
        if not supplied or not hmac.compare_digest(supplied.encode(), self.token(request).encode()):
            return "the CSRF token is missing or wrong (reload the page and try again)"
        return None
