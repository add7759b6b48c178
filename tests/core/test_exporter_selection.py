"""OTEL_{TRACES,METRICS,LOGS}_EXPORTER: the same pipeline under ``configure()`` and ``opentelemetry-instrument``.

Each case runs two real child processes with the same environment: ``python pipeline_description.py
--configure`` (``infertel.configure()``) and ``opentelemetry-instrument python pipeline_description.py``
(infertel's distro and configurator). Both print the installed pipeline as plain data; the test
asserts they are identical and equal to the pipeline the rule in
:mod:`infertel._internal.exporter_names` calls for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from core.pipeline_description import MARKER, describe_batch_processor

from infertel._internal import exporter_names
from infertel._internal.config import resolve

pytestmark = pytest.mark.usefixtures("fresh_otel")

OPENTELEMETRY_INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")
DESCRIBE = Path(__file__).with_name("pipeline_description.py")

BSP = "opentelemetry.sdk.trace.export.BatchSpanProcessor"
BLRP = "opentelemetry.sdk._logs._internal.export.BatchLogRecordProcessor"
PERIODIC = "opentelemetry.sdk.metrics._internal.export.PeriodicExportingMetricReader"
STATS = {"processor": "infertel._internal.processors._processor.InferenceStatsSpanProcessor"}
DURABLE_BSP = "infertel_exporters.durable._processor.DurableBatchSpanProcessor"
STORE = {
    "traces": "infertel_exporters.sqlite._exporters.SQLiteSpanExporter",
    "metrics": "infertel_exporters.sqlite._exporters.SQLiteMetricExporter",
    "logs": "infertel_exporters.sqlite._exporters.SQLiteLogExporter",
}
CONSOLE = {
    "traces": "opentelemetry.sdk.trace.export.ConsoleSpanExporter",
    "metrics": "opentelemetry.sdk.metrics._internal.export.ConsoleMetricExporter",
    # ConsoleLogExporter before SDK 1.39: the release's own class, found through infertel's compat names.
    "logs": describe_batch_processor("logs")["exporter"]["class"],
}
OTLP_HTTP = {
    "traces": "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter",
    "metrics": "opentelemetry.exporter.otlp.proto.http.metric_exporter.OTLPMetricExporter",
    "logs": "opentelemetry.exporter.otlp.proto.http._log_exporter.OTLPLogExporter",
}
DURABLE = {
    "traces": "infertel_exporters.durable._exporter.DurableSpanExporter",
    "metrics": "infertel_exporters.durable._exporter.DurableMetricExporter",
    "logs": "infertel_exporters.durable._exporter.DurableLogExporter",
}
SDK_BATCH = {"max_queue_size": 2048, "max_export_batch_size": 512, "export_timeout_millis": 30000}
# The log processor's default delay is the SDK release's own (5000 ms on 1.37, the spec's 1000 ms later).
BLRP_DELAY = describe_batch_processor("logs")["schedule_delay_millis"]


def _run(tmp_path: Path, env: dict[str, str], *, instrument: bool) -> dict[str, Any]:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_", "PYTHONPATH"))}
    child_env.update(
        INFERTEL_STORE_PATH=str(tmp_path / "store.db"),
        INFERTEL_SPOOL_DIR=str(tmp_path / "spool"),
        OTEL_PYTHON_DISTRO="infertel",  # opentelemetry-distro is installed beside infertel in this venv
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="infertel_transformers",  # importing transformers takes seconds
        **env,
    )
    command = [sys.executable, str(DESCRIBE)]
    command = [str(OPENTELEMETRY_INSTRUMENT), *command] if instrument else [*command, "--configure"]
    result = subprocess.run(command, env=child_env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith(MARKER)]
    description = dict(json.loads(line.removeprefix(MARKER)))
    description["stderr"] = result.stderr
    return description


def _both(tmp_path: Path, env: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    if not OPENTELEMETRY_INSTRUMENT.exists():
        pytest.skip("opentelemetry-instrument is not installed next to this interpreter")
    configured = _run(tmp_path, env, instrument=False)
    instrumented = _run(tmp_path, env, instrument=True)
    return configured, instrumented


def _span(exporter: dict[str, str], **batch: int) -> dict[str, Any]:
    return {"processor": BSP, "exporter": exporter, **SDK_BATCH, "schedule_delay_millis": 5000, **batch}


def _log(exporter: dict[str, str], **batch: int) -> dict[str, Any]:
    return {"processor": BLRP, "exporter": exporter, **SDK_BATCH, "schedule_delay_millis": BLRP_DELAY, **batch}


def _reader(exporter: dict[str, str], interval: int, timeout: float = 30000.0) -> dict[str, Any]:
    return {"reader": PERIODIC, "exporter": exporter, "interval_millis": interval, "timeout_millis": timeout}


def _pipeline(spans: list[Any], logs: list[Any], readers: list[Any]) -> dict[str, Any]:
    return {
        "tracer_provider": "opentelemetry.sdk.trace.TracerProvider",
        "meter_provider": "opentelemetry.sdk.metrics._internal.MeterProvider",
        "logger_provider": "opentelemetry.sdk._logs._internal.LoggerProvider",
        "span_processors": [*spans, STATS],
        "log_processors": logs,
        "metric_readers": sorted(readers, key=json.dumps),
        "root_handlers": [],
    }


def _otlp_durable(signal: str) -> dict[str, str]:
    return {"class": DURABLE[signal], "inner": OTLP_HTTP[signal]}


ALL_STORE = _pipeline(
    [_span({"class": STORE["traces"]})],
    [_log({"class": STORE["logs"]})],
    [_reader({"class": STORE["metrics"]}, 10_000)],
)

CASES: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "unset": ({}, ALL_STORE),
    "infertel_store": (
        {f"OTEL_{s.upper()}_EXPORTER": "infertel_store" for s in exporter_names.SIGNALS},
        ALL_STORE,
    ),
    "none": ({f"OTEL_{s.upper()}_EXPORTER": "none" for s in exporter_names.SIGNALS}, _pipeline([], [], [])),
    "console with the SDK's batch and interval variables": (
        {
            **{f"OTEL_{s.upper()}_EXPORTER": "console" for s in exporter_names.SIGNALS},
            "OTEL_BSP_SCHEDULE_DELAY": "1234",
            "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "64",
            "OTEL_METRIC_EXPORT_INTERVAL": "7000",
            "OTEL_METRIC_EXPORT_TIMEOUT": "3000",
        },
        _pipeline(
            [_span({"class": CONSOLE["traces"]}, schedule_delay_millis=1234, max_queue_size=4096)],
            [_log({"class": CONSOLE["logs"]}, max_export_batch_size=64)],
            [_reader({"class": CONSOLE["metrics"]}, 7000, 3000.0)],
        ),
    ),
    "traces console only: the others take the OpenTelemetry default, otlp": (
        {"OTEL_TRACES_EXPORTER": "console", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
        _pipeline(
            [_span({"class": CONSOLE["traces"]})],
            [_log({"class": OTLP_HTTP["logs"]})],
            [_reader({"class": OTLP_HTTP["metrics"]}, 60_000)],
        ),
    ),
    "console,otlp through the durable spool": (
        {
            **{f"OTEL_{s.upper()}_EXPORTER": "console,otlp" for s in exporter_names.SIGNALS},
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "INFERTEL_DURABLE": "on",
            "OTEL_BSP_SCHEDULE_DELAY": "250",
        },
        _pipeline(
            [
                _span({"class": CONSOLE["traces"]}, schedule_delay_millis=250),
                {
                    "processor": DURABLE_BSP,
                    "exporter": _otlp_durable("traces"),
                    # The spool's own defaults where OTEL_BSP_* are unset (it is sized never to drop).
                    "max_queue_size": 65536,
                    "max_export_batch_size": 4096,
                    "schedule_delay_millis": 250,
                },
            ],
            [_log({"class": CONSOLE["logs"]}), _log(_otlp_durable("logs"))],
            [_reader({"class": CONSOLE["metrics"]}, 60_000), _reader(_otlp_durable("metrics"), 60_000)],
        ),
    ),
    "log export asked for with the standard variable": (
        {"OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true"},
        {**ALL_STORE, "root_handlers": ["infertel._internal.logs._exporting_handler_class.<locals>.ExportingHandler"]},
    ),
    "an exporter registered under the entry point (a pull reader)": (
        {
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "prometheus",  # opentelemetry-exporter-prometheus's entry point
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_EXPORTER_PROMETHEUS_PORT": "0",
        },
        _pipeline([], [], [{"reader": "opentelemetry.exporter.prometheus._AutoPrometheusMetricReader"}]),
    ),
    "an endpoint alone means otlp": (
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
        _pipeline(
            [_span({"class": OTLP_HTTP["traces"]})],
            [_log({"class": OTLP_HTTP["logs"]})],
            [_reader({"class": OTLP_HTTP["metrics"]}, 60_000)],
        ),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_same_pipeline_under_configure_and_opentelemetry_instrument(tmp_path: Path, case: str) -> None:
    env, expected = CASES[case]
    env = {"INFERTEL_DURABLE": "off", **env}
    configured, instrumented = _both(tmp_path, env)
    configured.pop("stderr")
    instrumented.pop("stderr")
    assert configured == instrumented
    assert configured == expected


@pytest.mark.slow
def test_unknown_exporter_fails_the_same_way_under_both(tmp_path: Path) -> None:
    configured, instrumented = _both(tmp_path, {"OTEL_METRICS_EXPORTER": "console,bogus"})
    accepted = ", ".join(exporter_names.accepted("metrics"))
    message = f"OTEL_METRICS_EXPORTER: unknown exporter 'bogus' (accepted, comma-separated: {accepted})"
    assert configured["error"] == message
    assert instrumented["error"] == "not configured"
    assert message in instrumented["stderr"]  # opentelemetry-instrument logs the configurator's ValueError


def test_accepted_names_include_registered_entry_points() -> None:
    accepted = exporter_names.accepted("traces")
    assert accepted[:6] == ("none", "otlp", "otlp_proto_grpc", "otlp_proto_http", "console", "infertel_store")
    # The SDK's own registrations come from the installed distributions, not from a list of ours.
    assert set(exporter_names.registered("traces")) <= set(accepted)
    assert "infertel_store" in exporter_names.registered("traces")  # infertel-exporter-sqlite's entry point


def test_parse_lists_and_none() -> None:
    assert exporter_names.parse("logs", " Console , otlp,console ") == ("console", "otlp")
    assert exporter_names.parse("logs", "none") == ()
    assert exporter_names.parse("logs", "none,console") == ("console",)
    with pytest.raises(ValueError, match=r"^OTEL_LOGS_EXPORTER: unknown exporter 'zipkin' \(accepted, comma-sep"):
        exporter_names.parse("logs", "zipkin")


def test_selection_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [resolve().export(s).exporters for s in exporter_names.SIGNALS] == [("infertel_store",)] * 3
    # A signal's own endpoint selects otlp for that signal only; the others keep the store.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces")
    assert [resolve().export(s).exporters for s in exporter_names.SIGNALS] == [
        ("otlp",),
        ("infertel_store",),
        ("infertel_store",),
    ]
    # Any exporter variable: the store is no longer anyone's default.
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "console")
    assert [resolve().export(s).exporters for s in exporter_names.SIGNALS] == [("otlp",), ("otlp",), ("console",)]
    # An endpoint argument of configure() beats the signal's variable (arguments beat the environment).
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert resolve().traces.exporters == ()
    assert resolve(traces_endpoint="http://127.0.0.1:4317").traces.exporters == ("otlp",)
    # The variable is validated even then.
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "nope")
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER: unknown exporter 'nope'"):
        resolve(endpoint="http://127.0.0.1:4317")
