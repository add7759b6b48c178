"""``opentelemetry-instrument`` with infertel installed: our distro, configurator and instrumentors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_CONFIGURATOR

from infertel._internal.distro import ENTRY_POINT_NAME, InfertelDistro, excluded_asgi_spans

OPENTELEMETRY_INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")

PROBE = """
import json
import fastapi, wrapt
from fastapi.applications import FastAPI
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.auto_instrumentation import _load
from infertel._internal import configure, state

proxy = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)
provider = trace.get_tracer_provider()
print(json.dumps({
    "configured_by_infertel": configure.active_settings() is not None,
    "tracer_provider": type(provider).__module__,
    "service_name": getattr(provider, "resource", None) and provider.resource.attributes.get("service.name"),
    "meter_provider": type(metrics.get_meter_provider()).__module__,
    "runtime_generation": state.current().generation,
    "infertel_fastapi": isinstance(FastAPI.__dict__["build_middleware_stack"], proxy),
    "contrib_fastapi": fastapi.FastAPI is not FastAPI,
    "exclude_spans": getattr(fastapi.FastAPI, "_instrument_kwargs", {}).get("exclude_spans"),
}))
"""


# Importing transformers takes seconds: runs that are not about it leave its instrumentor out.
QUICK = "infertel_transformers"


def _run(tmp_path: Path, **env: str) -> dict[str, Any]:
    if not OPENTELEMETRY_INSTRUMENT.exists():
        pytest.skip("opentelemetry-instrument is not installed next to this interpreter")
    pytest.importorskip("fastapi")
    pytest.importorskip("infertel_instrumentation.fastapi")
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHONPATH"))}
    child_env.update(
        # opentelemetry-distro is installed beside infertel: name ours (see test_configurator_choice.py).
        OTEL_PYTHON_DISTRO=ENTRY_POINT_NAME,
        OTEL_SERVICE_NAME="distro-test",
        INFERTEL_STORE_PATH=str(tmp_path / "telemetry.db"),
        OTEL_METRIC_EXPORT_INTERVAL="600000",
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


def test_opentelemetry_instrument_configures_infertel_and_loads_our_instrumentor(tmp_path: Path) -> None:
    report = _run(tmp_path)
    assert report == {
        "configured_by_infertel": True,
        "tracer_provider": "opentelemetry.sdk.trace",
        "service_name": "distro-test",
        "meter_provider": "opentelemetry.sdk.metrics._internal",
        "runtime_generation": report["runtime_generation"],
        "infertel_fastapi": True,
        "contrib_fastapi": True,
        "exclude_spans": ["send", "receive"],
    }
    assert report["runtime_generation"] >= 1


def test_disabled_instrumentations_disable_ours_by_name(tmp_path: Path) -> None:
    report = _run(tmp_path, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=f"infertel_fastapi,{QUICK}")
    assert (report["configured_by_infertel"], report["infertel_fastapi"], report["contrib_fastapi"]) == (
        True,
        False,
        True,
    )
    report = _run(tmp_path, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=f"fastapi, {QUICK}")
    assert (report["infertel_fastapi"], report["contrib_fastapi"]) == (True, False)


def test_explicit_distro_and_configurator_names_select_ours(tmp_path: Path) -> None:
    report = _run(
        tmp_path,
        OTEL_PYTHON_DISTRO=ENTRY_POINT_NAME,
        OTEL_PYTHON_CONFIGURATOR=ENTRY_POINT_NAME,
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=QUICK,
        INFERTEL_FASTAPI_EXCLUDE_SPANS="none",
    )
    assert report["configured_by_infertel"] is True
    assert report["exclude_spans"] is None  # contrib's per-message spans kept, as asked


def test_excluded_asgi_spans() -> None:
    assert excluded_asgi_spans("send, receive") == ["send", "receive"]
    assert excluded_asgi_spans("RECEIVE") == ["receive"]
    assert excluded_asgi_spans("none") == []
    assert excluded_asgi_spans("") == []
    with pytest.raises(ValueError, match="INFERTEL_FASTAPI_EXCLUDE_SPANS: 'body' is not one of"):
        excluded_asgi_spans("send,body")


def test_another_configurator_named_leaves_the_sdk_alone(tmp_path: Path) -> None:
    report = _run(tmp_path, OTEL_PYTHON_CONFIGURATOR="someone-else", OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=QUICK)
    assert report["configured_by_infertel"] is False
    assert report["tracer_provider"] == "opentelemetry.trace"  # the API's proxy provider: nothing configured
    assert report["infertel_fastapi"] is True  # instrumentors load regardless


def test_distro_selects_our_configurator_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISTRO", ENTRY_POINT_NAME)
    monkeypatch.setenv(OTEL_PYTHON_CONFIGURATOR, "")  # recorded, so the value the distro sets is undone
    monkeypatch.delenv(OTEL_PYTHON_CONFIGURATOR)
    InfertelDistro().configure()
    assert os.environ[OTEL_PYTHON_CONFIGURATOR] == ENTRY_POINT_NAME
    monkeypatch.setenv(OTEL_PYTHON_CONFIGURATOR, "other")
    InfertelDistro().configure()
    assert os.environ[OTEL_PYTHON_CONFIGURATOR] == "other"
