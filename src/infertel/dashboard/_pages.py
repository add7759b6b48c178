"""The built-in pages: overview, resources, traces, one trace, logs and (in-process) active requests.

Each is a :class:`~infertel.dashboard.Page` like the ones other features register, so the
navigation, layout, token check and headers are the same for all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infertel._internal.active import active_requests
from infertel.dashboard._charts import chart, overview_table
from infertel.dashboard._context import Dashboard
from infertel.dashboard._format import SEVERITIES
from infertel.dashboard._registry import Page
from infertel.dashboard._views import axis_ticks, check_trace_id, live_windows, log_filters, trace_filters, waterfall
from infertel.dashboard.panels import panels

_Query = Mapping[str, str]


def _labels(store: Any, key: str) -> list[str]:
    return [] if store is None else store.label_values(key)


def _next_href(d: Dashboard, path: str, query: _Query, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    return d.url(path, **{**{k: v for k, v in query.items() if k != "cursor"}, "cursor": cursor})


def overview(d: Dashboard, query: _Query, _: _Query) -> str:
    """The overview: per service and model table, live statistics, and one chart per overview panel."""
    tr = d.range_of(query)
    store = d.store()
    filters = {"service": query.get("service") or None, "model": query.get("model") or None}
    where = {k: v for k, v in filters.items() if v is not None}
    values: dict[str, Any] = {"tr": tr, "store": store, "filters": filters, "live": d.live}
    if d.live:
        values["live_windows"] = live_windows()
    if store is not None:
        rows = store.overview(tr.start_ns, tr.end_ns, group_by=("service", "model"), where=where or None)
        values["headers"], values["table"] = overview_table(rows)
        values["charts"] = [chart(store, p, tr, where, d.series_cache) for p in panels("overview")]
        values["services"], values["models"] = _labels(store, "service"), _labels(store, "model")
    return d.render("overview.html", **values)


def resources(d: Dashboard, query: _Query, _: _Query) -> str:
    """Host, process and GPU resources: one chart per resources panel ("no data" where none was stored)."""
    tr = d.range_of(query)
    store = d.store()
    charts = [] if store is None else [chart(store, p, tr, {}, d.series_cache) for p in panels("resources")]
    return d.render("resources.html", tr=tr, store=store, charts=charts)


def traces(d: Dashboard, query: _Query, _: _Query) -> str:
    """Recent traces, newest first, filtered and paginated with the store's cursor."""
    f = trace_filters(query)
    store = d.store()
    page = None if store is None else f.search(store)
    params = {k: v for k, v in query.items() if k in ("service", "model", "status", "min_duration", "attribute")}
    return d.render(
        "traces.html", f=f, store=store, page=page, params=params, services=_labels(store, "service"),
        models=_labels(store, "model"), next_href=_next_href(d, "/traces", query, page and page.next_cursor),
    )  # fmt: skip


def trace(d: Dashboard, query: _Query, path: _Query) -> str:
    """One trace: the span waterfall, each span's attributes and events, its log records, an external link."""
    trace_id = check_trace_id(path["trace_id"])
    store = d.store()
    spans = [] if store is None else store.trace(trace_id)
    rows, origin, total = waterfall(spans)
    return d.render(
        "trace.html", trace_id=trace_id, store=store, rows=rows, origin_ns=origin, total_ns=total,
        ticks=axis_ticks(total), logs=store.trace_logs(trace_id) if spans else [],
        external=d.external_trace_url(trace_id),
    )  # fmt: skip


def logs(d: Dashboard, query: _Query, _: _Query) -> str:
    """Log records, newest first: by level, service, text and trace id."""
    f = log_filters(query)
    store = d.store()
    page = None if store is None else f.search(store)
    params = {k: v for k, v in query.items() if k in ("level", "service", "text", "trace_id")}
    return d.render(
        "logs.html", f=f, store=store, page=page, params=params, levels=list(SEVERITIES),
        services=_labels(store, "service"), next_href=_next_href(d, "/logs", query, page and page.next_cursor),
    )  # fmt: skip


def active(d: Dashboard, query: _Query, _: _Query) -> str:
    """Requests in flight in this process now, and the live statistics windows."""
    return d.render("active.html", requests=active_requests(), live_windows=live_windows())


BUILTIN_PAGES: tuple[Page, ...] = (
    Page("/", "Overview", overview, order=10),
    Page("/resources", "Resources", resources, order=20),
    Page("/traces", "Traces", traces, order=30),
    Page("/traces/{trace_id}", "Trace", trace, nav=False, order=31),
    Page("/logs", "Logs", logs, order=40),
    Page("/active", "Active requests", active, order=50, live_only=True),
)
"""The dashboard's own pages (``/active`` only in the serving process)."""
