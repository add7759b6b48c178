"""The JSON API under ``<prefix>/api``: metrics, overview, traces, one trace, logs, live stats, active requests.

Every route reads the store through the :class:`Dashboard` it was built with; query parameters are
validated the same way as the pages' (422 with ``{"detail": "<parameter>: expected ..., got ..."}``).

The store routes answer JSON built from plain dicts and lists, serialised in one call by
pydantic's serialiser (:func:`_json`): the same bytes the response models below would give
(``_models``; they still document the shapes in the OpenAPI schema, and a test checks every answer
against them), without building and re-validating a model object per point, span or log record
(about half a millisecond for a chart's 600 points) and without FastAPI's second hop to the thread
pool for that validation. Model fields typed ``float`` get ``float(...)`` here, as the models would.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import TypeAdapter

from infertel._internal.active import active_requests
from infertel.dashboard import _models as m
from infertel.dashboard._context import Dashboard, TimeRange, time_range
from infertel.dashboard._views import check_trace_id, live_windows, log_filters, trace_filters

_RESERVED = frozenset({"query", "start", "end", "step", "group_by", "range", "token"})
_GROUP_KEYS = ("service", "model", "operation", "error_type")


def _time(name: str, raw: str) -> int:
    """A time parameter: Unix nanoseconds (an integer) or ISO 8601 (with a time zone, else UTC)."""
    from datetime import datetime, timezone

    try:
        return int(raw)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"{name}: expected Unix nanoseconds or ISO 8601, got {raw!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1e9)


def _range(request: Request, default_step: bool = True) -> TimeRange:
    """``start``/``end`` (both, or ``start`` to now) when given, else the named ``range`` (default 1h)."""
    q = request.query_params
    tr = time_range(q.get("range"))
    if q.get("start"):
        start = _time("start", q["start"])
        end = _time("end", q["end"]) if q.get("end") else tr.end_ns
        if end <= start:
            raise HTTPException(422, f"end: expected a time after start, got {q.get('end')!r}")
        step = max(10, int((end - start) / 1e9 / 60))
        return TimeRange("custom", start, end, step)
    return tr


_ANY = TypeAdapter(Any)


def _json(content: Any) -> Response:
    """``content`` (dicts, lists, str, numbers, None) as a JSON response, serialised like the response models.

    The serialiser is the one ``model_dump_json`` uses, with the same defaults (NaN and infinities as
    ``null``, tuples as arrays, non-ASCII text as UTF-8).
    """
    return Response(_ANY.dump_json(content), media_type="application/json")


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _percentiles(values: Any) -> dict[str, float | None]:
    return {"p50": _float(values.get("p50")), "p95": _float(values.get("p95")), "p99": _float(values.get("p99"))}


def _dist(d: Any) -> m.Percentiles:
    return m.Percentiles(p50=d.p50, p95=d.p95, p99=d.p99)


def _log(log: Any) -> dict[str, Any]:
    return {
        "time_ns": log.time_ns, "observed_time_ns": log.observed_time_ns, "severity_number": log.severity_number,
        "severity_text": log.severity_text, "body": log.body, "attributes": log.attributes,
        "event_name": log.event_name, "trace_id": log.trace_id, "span_id": log.span_id,
        "service": getattr(log, "service", None), "resource": log.resource,
    }  # fmt: skip


def _span(s: Any) -> dict[str, Any]:
    return {
        "trace_id": s.trace_id, "span_id": s.span_id, "parent_span_id": s.parent_span_id, "name": s.name,
        "kind": s.kind, "start_time_ns": s.start_time_ns, "end_time_ns": s.end_time_ns,
        "duration_s": float(s.duration_s), "status_code": s.status_code, "status_message": s.status_message,
        "model": s.model, "operation": s.operation, "attributes": s.attributes,
        "events": [{"name": e.name, "time_ns": e.timestamp_ns, "attributes": e.attributes} for e in s.events],
        "links": [{"trace_id": x.trace_id, "span_id": x.span_id, "attributes": x.attributes} for x in s.links],
        "resource": s.resource, "scope_name": s.scope_name, "scope_version": s.scope_version,
    }  # fmt: skip


def _overview_row(r: Any) -> dict[str, Any]:
    return {
        "group": r.group, "requests": r.requests, "errors": r.errors, "requests_per_s": float(r.requests_per_s),
        "error_rate": _float(r.error_rate), "latency_s": _percentiles(r.latency_s),
        "ttft_s": _percentiles(r.ttft_s), "tpot_s": _percentiles(r.tpot_s),
        "input_tokens_per_s": float(r.input_tokens_per_s), "output_tokens_per_s": float(r.output_tokens_per_s),
        "in_flight": _float(r.in_flight),
    }  # fmt: skip


def _trace_summary(t: Any) -> dict[str, Any]:
    return {
        "trace_id": t.trace_id, "root_name": t.root_name, "service": t.service, "start_time_ns": t.start_time_ns,
        "end_time_ns": t.end_time_ns, "duration_s": float(t.duration_s), "span_count": t.span_count,
        "error_count": t.error_count, "models": list(t.models),
    }  # fmt: skip


def _store(d: Dashboard) -> Any:
    store = d.store()
    if store is None:
        raise HTTPException(404, f"no store at {d.store_path} yet")
    return store


def _group_by(raw: str | None, default: tuple[str, ...]) -> list[str]:
    if raw is None:
        return list(default)
    return [k.strip() for k in raw.split(",") if k.strip()]


def build(d: Dashboard) -> APIRouter:
    """The API router of dashboard ``d`` (paths relative to ``<prefix>/api``)."""
    api = d.api_router()

    @api.get("/metrics", response_model=m.MetricsResponse, summary="Series of one store query")
    def metrics(
        request: Request,
        query: str = Query(..., description="A rollup (requests_per_s, latency_p95, ...) or metric:<name>[:<stat>]"),
        step: float | None = Query(None, description="Seconds per point (rounded up to the rollup bucket)"),
        group_by: str | None = Query(None, description="Comma-separated labels (default: model)"),
    ) -> Response:
        """Any other query parameter is an exact label match (``?model=llama-3-8b``)."""
        tr = _range(request)
        step_s = tr.step_s if step is None else step
        if not (math.isfinite(step_s) and step_s > 0):
            raise HTTPException(422, f"step: expected a positive number of seconds, got {step!r}")
        where = {k: v for k, v in request.query_params.items() if k not in _RESERVED}
        keys = _group_by(group_by, ("model",))
        try:
            found = _store(d).timeseries(query, tr.start_ns, tr.end_ns, step_s, group_by=keys, where=where or None)
        except ValueError as exc:
            raise HTTPException(422, f"query: {exc}") from None
        series = [
            {
                "labels": s.labels,
                "points": [{"time_ns": t, "value": None if v is None else float(v)} for t, v in s.points],
            }
            for s in found
        ]
        return _json({
            "query": query, "start_ns": tr.start_ns, "end_ns": tr.end_ns, "step_s": float(step_s), "group_by": keys,
            "where": where, "series": series,
        })  # fmt: skip

    @api.get("/overview", response_model=m.OverviewResponse, summary="Per-group request figures over a range")
    def overview(
        request: Request,
        group_by: str | None = Query(None, description="Comma-separated: service, model, operation, error_type"),
    ) -> Response:
        """``?service=`` / ``?model=`` / ``?operation=`` / ``?error_type=`` filter exactly."""
        tr = _range(request)
        keys = _group_by(group_by, ("service", "model"))
        where = {k: v for k, v in request.query_params.items() if k in _GROUP_KEYS and v}
        try:
            rows = _store(d).overview(tr.start_ns, tr.end_ns, group_by=keys, where=where or None)
        except ValueError as exc:
            raise HTTPException(422, f"group_by: {exc}") from None
        return _json(
            {"start_ns": tr.start_ns, "end_ns": tr.end_ns, "group_by": keys, "rows": [_overview_row(r) for r in rows]}
        )

    @api.get("/traces", response_model=m.TracesResponse, summary="Traces, newest first, paginated")
    def traces(request: Request) -> Response:
        """Filters: range, service, model, status (ok|error), min_duration (s), attribute (k=v), limit, cursor."""
        page = trace_filters(request.query_params).search(_store(d))
        return _json({"traces": [_trace_summary(t) for t in page.traces], "next_cursor": page.next_cursor})

    @api.get("/traces/{trace_id}", response_model=m.TraceResponse, summary="One trace: spans and logs")
    def trace(trace_id: str) -> Response:
        """404 when the store has no span of the trace."""
        tid = check_trace_id(trace_id)
        store = _store(d)
        spans = store.trace(tid)
        if not spans:
            raise HTTPException(404, f"trace {tid} is not in the store")
        return _json({
            "trace_id": tid, "spans": [_span(s) for s in spans], "logs": [_log(x) for x in store.trace_logs(tid)],
            "external_url": d.external_trace_url(tid),
        })  # fmt: skip

    @api.get("/logs", response_model=m.LogsResponse, summary="Log records, newest first, paginated")
    def logs(request: Request) -> Response:
        """Filters: range, level (trace|debug|info|warn|error|fatal: at least), service, text, trace_id, cursor."""
        page = log_filters(request.query_params).search(_store(d))
        return _json({"logs": [_log(x) for x in page.logs], "next_cursor": page.next_cursor})

    @api.get("/stats", response_model=m.StatsResponse, summary="Live infertel.stats() windows (in-process)")
    def stats() -> m.StatsResponse:
        """Empty (``live: false``) in the standalone server."""
        if not d.live:
            return m.StatsResponse(live=False)
        windows = [
            m.LiveWindowModel(
                window_s=window_s,
                series=[
                    m.LiveSeriesModel(
                        model=None if s.model is None else str(s.model),
                        operation=None if s.operation is None else str(s.operation),
                        attributes=dict(s.attributes), requests=s.requests, errors=s.errors,
                        requests_per_s=s.requests_per_s, error_rate=s.error_rate,
                        input_tokens_per_s=s.input_tokens_per_s, output_tokens_per_s=s.output_tokens_per_s,
                        in_flight=s.in_flight, latency_s=_dist(s.latency), ttft_s=_dist(s.ttft), tpot_s=_dist(s.tpot),
                    )
                    for s in series
                ],
            )
            for window_s, series in live_windows()
        ]  # fmt: skip
        return m.StatsResponse(live=True, windows=windows)

    @api.get("/active", response_model=m.ActiveResponse, summary="Requests in flight now (in-process)")
    def active() -> m.ActiveResponse:
        """Oldest first; empty (``live: false``) in the standalone server."""
        if not d.live:
            return m.ActiveResponse(live=False, requests=[])
        return m.ActiveResponse(live=True, requests=[m.ActiveRequestModel(**vars(r)) for r in active_requests()])

    return api
