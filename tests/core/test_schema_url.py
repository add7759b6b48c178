"""A schema URL on every instrumentation scope infertel creates: tracers, meters (both metric paths), loggers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from log_helpers import memory_logs
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import View

import infertel
from infertel import semconv
from infertel._internal.processors import InferenceStats
from infertel._internal.processors._gauges import StatsGauges

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "src", *sorted(ROOT.glob("instrumentation/*/src")), *sorted(ROOT.glob("exporters/*/src"))]
_SCOPE_CALLS = {"get_tracer", "get_meter", "get_logger", "InstrumentationScope"}
_PROBES = {"infertel.compat.probe"}
"""Throw-away scopes of compatibility probes: they never reach an exporter."""


def _scope_calls() -> list[tuple[str, int, ast.Call]]:
    found = []
    for folder in SOURCES:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if name in _SCOPE_CALLS:
                    found.append((str(path.relative_to(ROOT)), node.lineno, node))
    return found


def test_every_scope_created_in_the_sources_has_a_schema_url() -> None:
    calls = _scope_calls()
    assert len(calls) >= 8  # tracer, logger, GenAI meters (2), gauges, system, GPU, status, durable ...
    missing = []
    for where, line, call in calls:
        first = call.args[0] if call.args else None
        if isinstance(first, ast.Constant) and first.value in _PROBES:
            continue
        if isinstance(first, ast.Starred) or any(k.arg is None for k in call.keywords):
            continue  # a pass-through wrapper (*args, **kwargs): the caller's call is checked
        if not any(k.arg == "schema_url" for k in call.keywords) and len(call.args) < 3:
            missing.append(f"{where}:{line}")
    assert missing == []


def test_spans_metrics_and_events_carry_the_schema_url(tracer_provider, span_exporter) -> None:
    aggregated, per_call = InMemoryMetricReader(), InMemoryMetricReader()
    providers = [
        MeterProvider(metric_readers=[aggregated], shutdown_on_exit=False),
        # A View on the GenAI names: per-call Histogram.record on the SDK meter.
        MeterProvider(metric_readers=[per_call], views=[View(instrument_name="gen_ai.*")], shutdown_on_exit=False),
    ]
    logger_provider, log_exporter = memory_logs()
    try:
        for provider in providers:

            @infertel.observe(
                model="m", tracer_provider=tracer_provider, meter_provider=provider, logger_provider=logger_provider
            )
            def fail() -> None:
                raise TimeoutError("slow")

            with pytest.raises(TimeoutError):
                fail()
        StatsGauges(providers[0], InferenceStats(windows_s=(60,)))
        assert {s.instrumentation_scope.schema_url for s in span_exporter.get_finished_spans()} == {semconv.SCHEMA_URL}
        for reader in (aggregated, per_call):
            scopes = {
                (sm.scope.name, sm.scope.schema_url, sm.schema_url)
                for rm in reader.get_metrics_data().resource_metrics
                for sm in rm.scope_metrics
            }
            assert scopes == {("infertel", semconv.SCHEMA_URL, semconv.SCHEMA_URL)}
        events = log_exporter.get_finished_logs()
        assert len(events) == 2
        assert {e.instrumentation_scope.schema_url for e in events} == {semconv.SCHEMA_URL}
    finally:
        for provider in providers:
            provider.shutdown()


def test_the_durable_exporter_spells_the_same_schema_url() -> None:
    from infertel_exporters.durable import _names

    assert _names.SCHEMA_URL == semconv.SCHEMA_URL
