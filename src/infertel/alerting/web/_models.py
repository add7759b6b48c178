"""Pydantic models of ``api/alerts`` and ``api/silences``: they validate input and document the OpenAPI schema.

Times are given twice: RFC 3339 UTC text (``*_at``) and Unix nanoseconds (``*_at_unix_nano``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AckOut(BaseModel):
    """An acknowledgement of a firing alert (it holds until the alert resolves)."""

    by: str
    comment: str
    time: str
    time_unix_nano: int


class AlertOut(BaseModel):
    """One alert instance: a rule and a label set."""

    fingerprint: str = Field(description="16 hex digits identifying the label set")
    name: str
    state: Literal["pending", "firing", "resolved"]
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float | None = Field(description="the expression's value at the last evaluation")
    active_at: str
    active_at_unix_nano: int
    fired_at: str | None
    fired_at_unix_nano: int | None
    resolved_at: str | None
    resolved_at_unix_nano: int | None
    silenced_by: list[str] = Field(description="ids of the active silences muting it")
    acknowledged: AckOut | None


Source = Literal["engine", "store", "none"]


class AlertsOut(BaseModel):
    """``GET api/alerts``: pending, firing and recently resolved alerts."""

    source: Source = Field(description="engine: a running engine; store: the store's tables; none: no alerting data")
    alerts: list[AlertOut]


class HistoryEntryOut(BaseModel):
    """One event of an alert's history (pending, firing, resolved, notified, acknowledged, remediation ...)."""

    time: str
    time_unix_nano: int
    fingerprint: str
    alertname: str
    event: str
    state: str
    labels: dict[str, str]
    value: float | None
    message: str


class HistoryOut(BaseModel):
    """``GET api/alerts/history``: newest first."""

    source: Source
    history: list[HistoryEntryOut]


class SilenceOut(BaseModel):
    """A silence: alerts matching every matcher are not notified between its start and end."""

    id: str
    matchers: list[str] = Field(description='Alertmanager matchers, e.g. alertname="HighP99"')
    starts_at: str
    starts_at_unix_nano: int
    ends_at: str
    ends_at_unix_nano: int
    created_by: str
    comment: str
    state: Literal["pending", "active", "expired"]


class SilencesOut(BaseModel):
    """``GET api/silences``: silences in effect (and, from the store, expired ones)."""

    source: Source
    silences: list[SilenceOut]


class SilenceIn(BaseModel):
    """``POST api/silences``: a new silence starting now."""

    matchers: list[str] = Field(min_length=1, max_length=32, description='e.g. ["alertname=\\"HighP99\\""]')
    duration: str = Field("1h", description="how long: 30m, 2h, 1d ... (at most 30 days)")
    comment: str = Field("", max_length=1000)
    created_by: str = Field("", max_length=200)


class SilenceCreated(BaseModel):
    """The silence created."""

    id: str


class AckIn(BaseModel):
    """``POST api/alerts/{fingerprint}/ack``: who acknowledges and why."""

    by: str = Field("", max_length=200)
    comment: str = Field("", max_length=1000)


class AckDone(BaseModel):
    """The alert acknowledged."""

    fingerprint: str
    acknowledged: bool


class ExpireDone(BaseModel):
    """The silence expired."""

    id: str
    expired: bool


class CsrfOut(BaseModel):
    """``GET api/csrf``: the CSRF token for the credential of this request, for scripts that change state."""

    csrf_token: str
    header: str
    field: str
