"""What every page and API route of one dashboard shares: its store, settings, templates and time ranges.

One :class:`Dashboard` is built per router; request handlers reach it through their closure,
never through module state.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from infertel.dashboard import _format
from infertel.dashboard._cache import SeriesCache
from infertel.dashboard._registry import Api, Page
from infertel.dashboard._security import REQUEST_ROOT, TokenGate, secure_route_class, security_headers
from infertel.dashboard._style import CSS

_logger = logging.getLogger("infertel.dashboard")

RANGES: dict[str, tuple[int, int]] = {
    "15m": (900, 20),
    "1h": (3600, 60),
    "6h": (6 * 3600, 360),
    "24h": (24 * 3600, 1800),
    "7d": (7 * 24 * 3600, 10800),
}
"""Range name -> (length, chart step) in seconds: about 60 points, multiples of the 10 s/1 min/1 h rollups."""

DEFAULT_RANGE = "1h"


@dataclass(frozen=True)
class TimeRange:
    """A time range of a page or API call.

    Example:
        >>> TimeRange("1h", 0, 3_600_000_000_000, 60).seconds
        3600.0
    """

    name: str
    start_ns: int
    end_ns: int
    step_s: int

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return (self.end_ns - self.start_ns) / 1e9


def time_range(name: str | None, *, now_ns: int | None = None) -> TimeRange:
    """The range ``name`` (``15m``, ``1h``, ``6h``, ``24h``, ``7d``; default 1h) ending now.

    Raises:
        HTTPException: 422 naming the accepted values.

    Example:
        >>> time_range("15m", now_ns=10**12).step_s
        20
    """
    key = name or DEFAULT_RANGE
    if key not in RANGES:
        raise HTTPException(422, f"range: expected one of {', '.join(RANGES)}, got {key!r}")
    seconds, step = RANGES[key]
    end = time.time_ns() if now_ns is None else now_ns
    return TimeRange(key, end - seconds * 1_000_000_000, end, step)


def _open(path: Path) -> Any:
    from infertel_exporters.sqlite import SQLiteStore

    return SQLiteStore(path, read_only=True)


class Dashboard:
    """One dashboard's shared state: the read-only store, settings, templates, style sheet and pages.

    Args:
        store: A path, an open ``SQLiteStore``, or ``None`` for the default store
            (``$INFERTEL_STORE_PATH`` or ``~/.local/share/infertel/infertel.db``).
        prefix: Where the router is mounted ("" for the standalone server).
        token: Bearer token required by every route (``None``: none).
        refresh_s: Seconds between the pages' automatic reloads (0: never).
        trace_url: Template of a link to a trace in another UI, with ``{trace_id}``.
        live: Whether the dashboard runs in the serving process (live statistics, active requests).
        pages: Extension pages; apis: extension APIs.

    Example:
        >>> d = Dashboard("/tmp/none.db", prefix="", token=None, refresh_s=0, trace_url=None, live=False,
        ...               pages=[], apis=[])  # doctest: +SKIP
    """

    def __init__(
        self,
        store: Any,
        *,
        prefix: str,
        token: str | None,
        refresh_s: int,
        trace_url: str | None,
        live: bool,
        pages: Sequence[Page],
        apis: Sequence[Api],
    ) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"dashboard prefix must start with '/' and not end with '/', got {prefix!r}")
        if not isinstance(refresh_s, int) or refresh_s < 0:
            raise ValueError(f"dashboard refresh_s must be an integer >= 0, got {refresh_s!r}")
        if trace_url is not None and "{trace_id}" not in trace_url:
            raise ValueError(f"dashboard trace_url must contain '{{trace_id}}', got {trace_url!r}")
        self.prefix = prefix
        self.refresh_s = refresh_s
        self.trace_url = trace_url
        self.live = live
        self.pages = [p for p in pages if live or not p.live_only]
        self.apis = list(apis)
        self._store_lock = threading.Lock()
        if store is None or isinstance(store, (str, os.PathLike)):
            from infertel_exporters.sqlite import default_path

            self.store_path = Path(default_path() if store is None else store).expanduser()
            self._store: Any = None
            self._owns_store = True
        else:
            self.store_path = Path(store.path)
            self._store = store
            self._owns_store = False  # the caller's: the caller closes it
        self.css = CSS + "".join(p.css for p in self.pages)
        self.headers = security_headers(self.css)
        self.gate = TokenGate(token, prefix)
        packages = ["infertel.dashboard"] + [pkg for p in self.pages for pkg in p.templates]
        self.env = Environment(
            loader=ChoiceLoader([PackageLoader(pkg, "templates") for pkg in dict.fromkeys(packages)]),
            autoescape=select_autoescape(default=True, default_for_string=True),
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(_format.FILTERS)
        self.env.globals.update(dashboard=self, ranges=list(RANGES), url=self.url)
        for name in self.env.list_templates(filter_func=lambda n: n.endswith(".html")):
            self.env.get_template(name)  # compile every template once, now
        self.series_cache = SeriesCache()
        from infertel_exporters.sqlite import StoreError

        unavailable = (StoreError, TimeoutError)  # a file from a newer release, a writer holding the lock too long
        self.route_class = secure_route_class(
            self.gate, self.headers, page=True, error_page=self._error_page, unavailable=unavailable
        )
        self.api_route_class = secure_route_class(
            self.gate, self.headers, page=False, error_page=self._error_page, unavailable=unavailable
        )

    # --- store -----------------------------------------------------------------------------------

    def store(self) -> Any:
        """The read-only store, opened on first use; ``None`` while its file does not exist."""
        if self._store is not None:
            return self._store
        with self._store_lock:
            if self._store is None and self.store_path.exists():
                self._store = _open(self.store_path)
            return self._store

    def close(self) -> None:
        """Close the store if this dashboard opened it."""
        with self._store_lock:
            if self._store is not None and self._owns_store:
                self._store.close()
                self._store = None

    # --- rendering -------------------------------------------------------------------------------

    def render(self, template: str, **values: Any) -> str:
        """Render ``template`` (autoescaped) with ``values``.

        Example:
            >>> dashboard.render("empty.html", message="<b>")  # doctest: +SKIP
            '<p class="empty">&lt;b&gt;</p>'
        """
        return self.env.get_template(template).render(**values)

    def page(self, title: str, body: str, *, active: str, page_id: str, status: int = 200, refresh: bool = True) -> Any:
        """The full HTML response of a page: the layout (navigation, style, auto-refresh) around ``body``."""
        from fastapi.responses import HTMLResponse

        nav = [(p.title, self.url(p.path), p.path == active) for p in self.pages if p.nav]
        html = self.render(
            "layout.html", title=title, body=Markup(body), nav=nav, css=Markup(self.css), page_id=page_id,
            refresh=self.refresh_s if refresh else 0,
        )  # fmt: skip
        return HTMLResponse(html, status_code=status)

    def _error_page(self, status: int, message: str) -> Any:
        body = self.render("error.html", status=status, message=message)
        return self.page(f"Error {status}", body, active="", page_id="error", status=status)

    def url(self, path: str, **query: Any) -> str:
        """The address of ``path`` under the prefix (and the request's root path), with the non-empty ``query``.

        Example:
            >>> dashboard.url("/traces", model="m", status=None)  # doctest: +SKIP
            '/monitoring/traces?model=m'
        """
        items = [(k, v) for k, v in query.items() if v not in (None, "")]
        return (REQUEST_ROOT.get() + self.prefix + path) + (f"?{urlencode(items)}" if items else "")

    def external_trace_url(self, trace_id: str) -> str | None:
        """The link to ``trace_id`` in the external UI of ``trace_url``, if one is set."""
        if self.trace_url is None:
            return None
        return self.trace_url.replace("{trace_id}", quote(trace_id, safe=""))

    def api_router(self) -> APIRouter:
        """A router for extension APIs: the token check and the security headers apply to its routes."""
        return APIRouter(route_class=self.api_route_class)

    def range_of(self, query: Mapping[str, str]) -> TimeRange:
        """The ``range`` query parameter as a :class:`TimeRange` ending now."""
        return time_range(query.get("range"))
