"""The alerts and silences pages and the ``api/alerts``, ``api/silences`` and ``api/csrf`` routes.

One :class:`AlertsFeature` serves every dashboard built with its pages and API. State-changing routes
(``POST``/``DELETE``) take a JSON body or an HTML form (``application/x-www-form-urlencoded``);
a form is answered with a 303 redirect back to its page (with ``done`` or ``error`` in the query).
The dashboard's route class refuses cross-site requests before they run (its CSRF check,
:class:`infertel.dashboard._security.Csrf`); the pages put that check's token in their forms.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from infertel.alerting.web._view import HISTORY_LIMIT, MAX_HISTORY, LiveAlerts, StoredAlerts

MAX_BODY = 64 * 1024
"""Largest request body a state-changing route reads."""
MAX_SILENCE_S = 30 * 86400.0
_BACK = {"alerts": "/alerts", "silences": "/silences"}

CSS = (
    "p.notice{padding:.35rem .6rem;border:1px solid var(--line);border-radius:4px;background:var(--okbg)}"
    "p.notice.error{background:var(--critbg);color:var(--crit);border-color:var(--crit)}"
    "tr.alert-row.firing td:first-child{border-left:3px solid var(--crit)}"
    "tr.alert-row.pending td:first-child{border-left:3px solid var(--warn)}"
    "tr.alert-row.silenced td:first-child,tr.alert-row.resolved td:first-child{border-left:3px solid var(--line)}"
    ".badge.muted{color:var(--muted)}ul.labels{list-style:none;margin:0;padding:0}"
    "ul.labels li{display:inline-block;margin:0 .3rem .15rem 0;padding:0 .3rem;border:1px solid var(--line);"
    "border-radius:3px;font-size:.85em;word-break:break-all}"
    "form.inline{display:flex;flex-wrap:wrap;gap:.3rem;align-items:center;margin:0}"
    "form.inline input{width:8rem}form.stack{display:grid;gap:.5rem;max-width:40rem;margin:.3rem 0 1rem}"
    "form.stack label{display:flex;flex-direction:column;font-size:.85em;color:var(--muted)}"
    "textarea{font:inherit;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;padding:.3rem;"
    "border:1px solid var(--line);border-radius:4px;background:var(--bg);color:var(--fg)}"
    "dl.annotations{margin:0}dl.annotations dt{color:var(--muted);font-size:.85em}dl.annotations dd{margin:0 0 .2rem}"
)


def silence_matchers(alert: Mapping[str, Any]) -> str:
    """The matchers of a silence of exactly ``alert`` (every label), one per line, for the form.

    Example:
        >>> print(silence_matchers({"labels": {"alertname": "A", "model": "m"}}))
        alertname="A"
        model="m"
    """
    from infertel.alerting._routing import Matcher

    return "\n".join(str(Matcher(k, "=", v)) for k, v in sorted(alert["labels"].items()))


def form_matchers(text: str) -> list[str]:
    r"""The matchers of the silences form's textarea: one per line (only ``\n`` ends a line; a CR before it goes).

    The reverse of :func:`silence_matchers`: a label value's newline is escaped there, and other
    line separators (``\u2028``, form feeds) stay inside the quoted value.

    Example:
        >>> form_matchers('a="1"\r\n\r\n b="2" ')
        ['a="1"', 'b="2"']
    """
    lines = (line.removesuffix("\r").strip(" \t") for line in text.split("\n"))
    return [line for line in lines if line]


class AlertsFeature:
    """The pages and routes over one engine (``None``: the serving process's, else the store's tables).

    Example:
        >>> feature = AlertsFeature()
        >>> [p.path for p in feature.pages()]
        ['/alerts', '/silences']
    """

    def __init__(self, engine: Any = None) -> None:
        self._engine = engine

    # -- per dashboard ------------------------------------------------------------------------
    @staticmethod
    def csrf(d: Any) -> Any:
        """The CSRF check of dashboard ``d`` (its token gate's, shared by every state-changing route)."""
        return d.gate.csrf

    def source(self, d: Any) -> LiveAlerts | StoredAlerts:
        """Where ``d`` reads alerts now: the given engine, the serving process's (mounted), or the store."""
        engine = self._engine
        if engine is None and d.live:
            from infertel.alerting._configure import current_engine

            engine = current_engine()
        if engine is not None:
            return LiveAlerts(lambda: engine)
        return StoredAlerts(d.store_path)

    # -- pages --------------------------------------------------------------------------------
    def pages(self) -> list[Any]:
        """The ``/alerts`` and ``/silences`` pages."""
        from infertel.dashboard import Page

        templates = ("infertel.alerting.web",)
        return [
            Page("/alerts", "Alerts", self._render_alerts, order=70, templates=templates, css=CSS),
            # No self-reload on the page with the form: it would wipe what the user is typing.
            Page("/silences", "Silences", self._render_silences, order=71, templates=templates, refresh=False),
        ]

    def _common(self, d: Any, query: Mapping[str, str]) -> dict[str, Any]:
        from infertel.dashboard._security import CSRF_FIELD, REQUEST

        return {"csrf_field": CSRF_FIELD, "csrf_token": self.csrf(d).token(REQUEST.get()),
                "error": query.get("error", "")[:500], "done": query.get("done", "")[:500]}  # fmt: skip

    def _render_alerts(self, d: Any, query: Mapping[str, str], params: Mapping[str, str]) -> str:
        snapshot = self.source(d).snapshot(HISTORY_LIMIT)
        return d.render("alerts.html", snap=snapshot, silence_matchers=silence_matchers, **self._common(d, query))

    def _render_silences(self, d: Any, query: Mapping[str, str], params: Mapping[str, str]) -> str:
        snapshot = self.source(d).snapshot(0)
        prefill = query.get("matchers", "")[:2000]
        return d.render("silences.html", snap=snapshot, prefill=prefill, **self._common(d, query))

    # -- API ----------------------------------------------------------------------------------
    def api(self) -> Any:
        """The ``alerts`` API (``api/alerts``, ``api/silences``, ``api/csrf``)."""
        from infertel.dashboard import Api

        return Api("alerts", self._build)

    def _build(self, d: Any) -> Any:
        from infertel.alerting.web import _handlers

        return _handlers.build(self, d)


async def read_body(request: Any) -> tuple[dict[str, Any], bool]:
    """The request's fields (JSON object or form) and whether it came from a form; ``ValueError`` if unreadable."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise ValueError(f"the body is larger than {MAX_BODY} bytes")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ValueError(f"the body is larger than {MAX_BODY} bytes")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in fields.items()}, True
    if not raw.strip():
        return {}, False
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValueError("the body is neither JSON nor an HTML form") from None
    if not isinstance(data, dict):
        raise ValueError("the JSON body must be an object")
    return data, False


def back_to(d: Any, fields: Mapping[str, Any], default: str) -> Callable[..., str]:
    """The page a form returns to (``back`` field: alerts or silences), with ``done`` or ``error``."""
    path = _BACK.get(str(fields.get("back", "")), default)
    return lambda **query: d.url(path, **query)


__all__ = ["CSS", "MAX_HISTORY", "AlertsFeature", "back_to", "read_body"]
