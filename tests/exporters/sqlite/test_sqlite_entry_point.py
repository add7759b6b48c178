"""``infertel_store`` by name, built by the OpenTelemetry SDK's own configurator (no path given).

With ``opentelemetry-distro`` chosen, the SDK builds each exporter named in
``OTEL_{TRACES,METRICS,LOGS}_EXPORTER`` with no arguments: the store's exporters then write to
``$INFERTEL_STORE_PATH`` (or the XDG default), the same file ``infertel.configure()`` uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infertel._internal.config import default_store_path
from infertel_exporters.sqlite import SQLiteSpanExporter, SQLiteStore, default_path

pytest.importorskip("opentelemetry.distro", reason="opentelemetry-distro is not installed (requirements-dev.txt)")

OPENTELEMETRY_INSTRUMENT = Path(sys.executable).with_name("opentelemetry-instrument")

CHILD = """
from opentelemetry import trace
with trace.get_tracer("probe").start_as_current_span("probe-span", attributes={"gen_ai.request.model": "m1"}):
    pass
"""


def test_the_sdk_configurator_builds_infertel_store_by_name(tmp_path: Path) -> None:
    store_path = tmp_path / "sdk.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    env.update(
        OTEL_PYTHON_DISTRO="distro",
        OTEL_PYTHON_CONFIGURATOR="configurator",
        OTEL_TRACES_EXPORTER="infertel_store",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="*",
        OTEL_SERVICE_NAME="sdk-configured",
        INFERTEL_STORE_PATH=str(store_path),
    )
    result = subprocess.run(
        [str(OPENTELEMETRY_INSTRUMENT), sys.executable, "-c", CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    with SQLiteStore(store_path) as store:
        spans = store.spans()
    assert [(s.name, s.model) for s in spans] == [("probe-span", "m1")]


def test_without_a_path_the_exporter_writes_where_configure_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFERTEL_STORE_PATH", str(tmp_path / "nested" / "store.db"))
    assert default_path() == default_store_path() == tmp_path / "nested" / "store.db"
    exporter = SQLiteSpanExporter()
    try:
        assert Path(exporter.store.path) == (tmp_path / "nested" / "store.db").resolve()
    finally:
        exporter.shutdown()
    monkeypatch.delenv("INFERTEL_STORE_PATH")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_path() == default_store_path() == tmp_path / "xdg" / "infertel" / "infertel.db"
