"""A second ``configure()`` keeps one service identity across traces, metrics and logs.

A TracerProvider's resource is fixed when it is built, so a later ``service_name`` (or version, or
resource attribute) that differs is applied to no signal, with a warning; before, metrics took
the new name and spans kept the old one, splitting one service in two.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import _logs as otel_logs
from opentelemetry import trace
from opentelemetry._logs import LogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import infertel
from infertel import semconv
from infertel_exporters.sqlite import SQLiteStore

pytestmark = pytest.mark.usefixtures("fresh_otel")


def _identities(store: Path) -> dict[str, set[tuple[Any, Any]]]:
    with SQLiteStore(str(store)) as db:
        spans = db.spans(0, 2**63 - 1)
        points = db.metric_series(semconv.INFERTEL_GEN_AI_REQUESTS_PER_SECOND)
        records = db.logs(0, 2**63 - 1)
    assert spans and points and records

    def of(items: list[Any]) -> set[tuple[Any, Any]]:
        return {(i.resource.get("service.name"), i.resource.get("deployment.environment")) for i in items}

    return {"traces": of(spans), "metrics": of(points), "logs": of(records)}


def _emit_log(body: str) -> None:
    otel_logs.get_logger_provider().get_logger("test.reconfigure").emit(LogRecord(body=body))


def _infertel_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("infertel") and r.levelno >= logging.WARNING]


def test_a_second_service_name_is_applied_to_no_signal_and_said_so(
    fresh_otel: Path, caplog: pytest.LogCaptureFixture
) -> None:
    infertel.configure(
        service_name="first", resource_attributes={"deployment.environment": "prod"}, resource_metrics=False
    )
    with caplog.at_level(logging.WARNING, logger="infertel"):
        infertel.configure(
            service_name="second",
            resource_attributes={"deployment.environment": "staging"},
            resource_metrics=False,
            metric_export_interval_millis=60_000,  # another metric setting: the MeterProvider is rebuilt
        )
    (line,) = [w for w in _infertel_warnings(caplog) if "cannot be applied" in w]
    assert line.startswith("infertel: service.name='second', deployment.environment='staging' cannot be applied")
    assert "keep service.name='first', deployment.environment='prod'" in line
    infertel.observe(model="m", operation="chat")(lambda: "ok")()
    _emit_log("after the second configure()")
    assert infertel.shutdown(timeout_millis=10_000) is True
    assert _identities(fresh_otel) == {
        "traces": {("first", "prod")},
        "metrics": {("first", "prod")},
        "logs": {("first", "prod")},
    }


def test_the_same_identity_again_is_quiet(fresh_otel: Path, caplog: pytest.LogCaptureFixture) -> None:
    infertel.configure(service_name="svc", resource_metrics=False)
    with caplog.at_level(logging.WARNING, logger="infertel"):
        infertel.configure(service_name="svc", resource_metrics=False, capture_content=True)
    assert _infertel_warnings(caplog) == []


def test_an_installed_tracer_provider_gives_its_identity_to_every_signal(
    fresh_otel: Path, caplog: pytest.LogCaptureFixture
) -> None:
    installed = TracerProvider(resource=Resource({"service.name": "installed-by-the-app"}))
    trace.set_tracer_provider(installed)
    with caplog.at_level(logging.WARNING, logger="infertel"):
        infertel.configure(service_name="asked-for", store_path=str(fresh_otel), resource_metrics=False)
    (line,) = _infertel_warnings(caplog)
    assert "service.name='asked-for' cannot be applied" in line
    infertel.observe(model="m", operation="chat")(lambda: "ok")()
    _emit_log("with the application's TracerProvider")
    assert infertel.shutdown(timeout_millis=10_000) is True
    assert _identities(fresh_otel) == {
        "traces": {("installed-by-the-app", None)},
        "metrics": {("installed-by-the-app", None)},
        "logs": {("installed-by-the-app", None)},
    }
