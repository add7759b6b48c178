"""Pydantic models documenting ``api/health``'s ``application/health+json`` body in the OpenAPI schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class HealthCheckEntry(BaseModel):
    """One entry of the ``checks`` map (draft-inadarei-api-health-check); absent fields are omitted."""

    model_config = ConfigDict(extra="allow")

    status: Literal["pass", "warn", "fail"]
    componentType: str | None = None  # noqa: N815 - the draft's field name
    observedValue: float | int | str | bool | None = None  # noqa: N815
    observedUnit: str | None = None  # noqa: N815
    output: str | None = None
    time: str | None = Field(None, description="ISO 8601 UTC of the result")


class HealthOut(BaseModel):
    """The ``application/health+json`` body of a probe."""

    status: Literal["pass", "warn", "fail"]
    description: str = Field(description="the probe: livez, readyz or startupz")
    version: str | None = None
    releaseId: str | None = None  # noqa: N815
    serviceId: str | None = None  # noqa: N815
    checks: dict[str, list[HealthCheckEntry]] = Field(description="component:measurement -> its entries")
