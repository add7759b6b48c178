"""The libraries this instrumentation applies to (checked by ``opentelemetry-instrument``)."""

from __future__ import annotations

_instruments = ("fastapi >= 0.100",)
