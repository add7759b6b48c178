"""The JSON API's response shapes (pydantic), so the OpenAPI schema documents them.

Times are Unix nanoseconds (``*_ns``) or seconds (``*_s``) as named; keys are names, never
positional tuples. Fields are added, never renamed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Percentiles(BaseModel):
    """p50/p95/p99 of a duration in seconds (``null`` where there was no data)."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class OverviewRowModel(BaseModel):
    """One group (service, model, ...) of ``api/overview``."""

    group: dict[str, str]
    requests: int
    errors: int
    requests_per_s: float
    error_rate: float | None
    latency_s: Percentiles
    ttft_s: Percentiles
    tpot_s: Percentiles
    input_tokens_per_s: float
    output_tokens_per_s: float
    in_flight: float | None


class OverviewResponse(BaseModel):
    """``api/overview``: the per-group figures over ``[start_ns, end_ns)``, most requests first."""

    start_ns: int
    end_ns: int
    group_by: list[str]
    rows: list[OverviewRowModel]


class PointModel(BaseModel):
    """One bucket of a series: its start (Unix ns) and value (``null``: no data in the bucket)."""

    time_ns: int
    value: float | None


class SeriesModel(BaseModel):
    """One series of ``api/metrics``: its labels and points."""

    labels: dict[str, str]
    points: list[PointModel]


class MetricsResponse(BaseModel):
    """``api/metrics``: the series of one query."""

    query: str
    start_ns: int
    end_ns: int
    step_s: float
    group_by: list[str]
    where: dict[str, str]
    series: list[SeriesModel]


class TraceSummaryModel(BaseModel):
    """One trace of ``api/traces``."""

    trace_id: str
    root_name: str
    service: str | None
    start_time_ns: int
    end_time_ns: int
    duration_s: float
    span_count: int
    error_count: int
    models: list[str]


class TracesResponse(BaseModel):
    """``api/traces``: newest first; pass ``next_cursor`` back as ``cursor`` for the next (older) page."""

    traces: list[TraceSummaryModel]
    next_cursor: str | None


class EventModel(BaseModel):
    """A span event."""

    name: str
    time_ns: int
    attributes: dict[str, Any]


class LinkModel(BaseModel):
    """A span link."""

    trace_id: str
    span_id: str
    attributes: dict[str, Any]


class SpanModel(BaseModel):
    """One span of ``api/traces/{trace_id}`` (ids are lower-case hex)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_time_ns: int
    end_time_ns: int
    duration_s: float
    status_code: str
    status_message: str | None
    model: str | None
    operation: str | None
    attributes: dict[str, Any]
    events: list[EventModel]
    links: list[LinkModel]
    resource: dict[str, Any]
    scope_name: str | None
    scope_version: str | None


class LogModel(BaseModel):
    """One log record."""

    time_ns: int
    observed_time_ns: int | None
    severity_number: int | None
    severity_text: str | None
    body: Any
    attributes: dict[str, Any]
    event_name: str | None
    trace_id: str | None
    span_id: str | None
    service: str | None
    resource: dict[str, Any]


class TraceResponse(BaseModel):
    """``api/traces/{trace_id}``: the spans by start time and the log records correlated by trace id."""

    trace_id: str
    spans: list[SpanModel]
    logs: list[LogModel]
    external_url: str | None


class LogsResponse(BaseModel):
    """``api/logs``: newest first, with the cursor of the next (older) page."""

    logs: list[LogModel]
    next_cursor: str | None


class LiveSeriesModel(BaseModel):
    """One series of the live statistics over one window (``infertel.stats()``)."""

    model: str | None
    operation: str | None
    attributes: dict[str, Any]
    requests: int
    errors: int
    requests_per_s: float
    error_rate: float
    input_tokens_per_s: float
    output_tokens_per_s: float
    in_flight: int
    latency_s: Percentiles
    ttft_s: Percentiles
    tpot_s: Percentiles


class LiveWindowModel(BaseModel):
    """The live statistics over one window."""

    window_s: float
    series: list[LiveSeriesModel]


class StatsResponse(BaseModel):
    """``api/stats``: live windows when the dashboard runs in the serving process (``live``), else empty."""

    live: bool
    windows: list[LiveWindowModel] = Field(default_factory=list)


class ActiveRequestModel(BaseModel):
    """One request in flight now."""

    span_id: str
    trace_id: str | None
    model: str | None
    operation: str | None
    start_time_ns: int
    age_s: float
    age_exact: bool
    stream: bool
    chunks: int
    output_tokens: int | None


class ActiveResponse(BaseModel):
    """``api/active``: requests in flight in the serving process, oldest first (empty when not ``live``)."""

    live: bool
    requests: list[ActiveRequestModel]
