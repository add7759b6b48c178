"""With ``opentelemetry-distro`` installed beside infertel, which configurator runs is deterministic.

``opentelemetry-instrument`` takes the first distro/configurator entry point it meets when none is
named, in the file system's order. infertel steps aside unless named (``OTEL_PYTHON_DISTRO`` /
``OTEL_PYTHON_CONFIGURATOR`` = ``infertel``), so the outcome does not depend on that order: the
subprocess tests see the order of this venv, the in-process tests the opposite one (infertel's
entry point met first).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_CONFIGURATOR, OTEL_PYTHON_DISTRO

from infertel._internal import configure as configure_module
from infertel._internal.distro import InfertelConfigurator, InfertelDistro

pytest.importorskip("opentelemetry.distro", reason="opentelemetry-distro is not installed (requirements-dev.txt)")

pytestmark = pytest.mark.usefixtures("fresh_otel")

OPENTELEMETRY_INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")

PROBE = """
import json, os
from opentelemetry import trace
from opentelemetry.instrumentation.auto_instrumentation import _load
from infertel._internal import configure
settings = configure.active_settings()
provider = trace.get_tracer_provider()
processors = getattr(getattr(provider, "_active_span_processor", None), "_span_processors", ())
print(json.dumps({
    "configured_by_infertel": settings is not None,
    "tracer_provider": type(provider).__module__,
    "sdk_processors": [type(p).__name__ for p in processors],
    "traces_exporters": list(settings.traces.exporters) if settings else None,
    "traces_exporter_variable": os.environ.get("OTEL_TRACES_EXPORTER"),
}))
"""


def _run(tmp_path: Path, **env: str) -> dict[str, Any]:
    if not OPENTELEMETRY_INSTRUMENT.exists():
        pytest.skip("opentelemetry-instrument is not installed next to this interpreter")
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_", "PYTHONPATH"))}
    child_env.update(
        INFERTEL_STORE_PATH=str(tmp_path / "telemetry.db"),
        INFERTEL_DURABLE="off",
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="*",
        # Where OTLP is chosen it goes nowhere fast (nothing listens on port 9).
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_TIMEOUT="1",
    )
    child_env.update(env)
    result = subprocess.run(
        [str(OPENTELEMETRY_INSTRUMENT), sys.executable, "-c", PROBE],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


SDK = {
    "configured_by_infertel": False,
    "tracer_provider": "opentelemetry.sdk.trace",
    "sdk_processors": ["BatchSpanProcessor"],  # opentelemetry-distro's OTLP exporter, nothing of ours
    "traces_exporters": None,
    "traces_exporter_variable": "otlp",  # set by opentelemetry-distro's distro
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, SDK),
        ({"OTEL_PYTHON_DISTRO": "distro"}, SDK),
        ({"OTEL_PYTHON_CONFIGURATOR": "configurator"}, SDK),
        (
            {"OTEL_PYTHON_DISTRO": "infertel"},
            {
                "configured_by_infertel": True,
                "tracer_provider": "opentelemetry.sdk.trace",
                "sdk_processors": ["SpanProcessorHub"],
                "traces_exporters": ["otlp"],  # the endpoint variable selects otlp
                "traces_exporter_variable": None,
            },
        ),
        (
            {"OTEL_PYTHON_CONFIGURATOR": "infertel"},
            {
                "configured_by_infertel": True,
                "tracer_provider": "opentelemetry.sdk.trace",
                "sdk_processors": ["SpanProcessorHub"],
                "traces_exporters": ["otlp"],
                "traces_exporter_variable": "otlp",  # opentelemetry-distro's distro ran
            },
        ),
        (
            {"OTEL_PYTHON_DISTRO": "infertel", "OTEL_PYTHON_CONFIGURATOR": "configurator"},
            {**SDK, "sdk_processors": [], "traces_exporter_variable": None},  # no distro default: no exporter
        ),
    ],
    ids=["nothing named", "their distro", "their configurator", "our distro", "our configurator", "mixed"],
)
def test_which_configurator_runs(tmp_path: Path, env: dict[str, str], expected: dict[str, Any]) -> None:
    assert _run(tmp_path, **env) == expected


def _unset(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Unset ``names``; monkeypatch then also removes what the code under test sets there.

    A bare ``delenv`` of an absent variable records nothing to undo.
    """
    for name in names:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_our_configurator_met_first_hands_over_when_not_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _unset(monkeypatch, OTEL_PYTHON_CONFIGURATOR, "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "none")
    InfertelConfigurator().configure(auto_instrumentation_version="test")
    assert configure_module.active_settings() is None
    provider = trace.get_tracer_provider()
    assert type(provider).__module__ == "opentelemetry.sdk.trace"  # the SDK configurator's provider
    assert provider.resource.attributes["telemetry.auto.version"] == "test"


def test_our_configurator_runs_configure_when_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OTEL_PYTHON_CONFIGURATOR, "infertel")
    _unset(monkeypatch, "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION")
    InfertelConfigurator().configure(auto_instrumentation_version="test")
    assert configure_module.active_settings() is not None
    # The contrib logging instrumentor, loaded next, leaves the root logger to configure(export_logs=...).
    assert os.environ["OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION"] == "false"


def test_our_distro_met_first_hands_over_when_not_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _unset(monkeypatch, OTEL_PYTHON_DISTRO, OTEL_PYTHON_CONFIGURATOR, "OTEL_EXPORTER_OTLP_PROTOCOL")
    _unset(monkeypatch, "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER")
    distro = InfertelDistro()
    distro.configure()
    # opentelemetry-distro's _configure ran (its defaults are set) and ours did not name a configurator.
    assert {k: os.environ.get(k) for k in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL")} == {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    assert OTEL_PYTHON_CONFIGURATOR not in os.environ
    assert type(distro._delegate).__name__ == "OpenTelemetryDistro"
