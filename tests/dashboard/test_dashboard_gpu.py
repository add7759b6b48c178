"""The Resources page with real NVML readings stored: every GPU panel draws a chart. Skipped without a GPU."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx  # noqa: E402
from dashboard_support import Served  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402

import infertel  # noqa: E402
from infertel._internal.resources.nvml import NvmlSource  # noqa: E402
from infertel.dashboard import create_app  # noqa: E402
from infertel.dashboard.panels import panels  # noqa: E402
from infertel_exporters.sqlite import SQLiteMetricExporter  # noqa: E402


@pytest.mark.gpu
@pytest.mark.integration
def test_gpu_panels_draw_real_readings(tmp_path: Path) -> None:
    source = NvmlSource()
    if not source.devices():
        source.close()
        pytest.skip(f"no NVIDIA GPU here: {source.unavailable_reason}")
    path = tmp_path / "store.db"
    reader = PeriodicExportingMetricReader(SQLiteMetricExporter(path), export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "gpu-host"}), metric_readers=[reader])
    handle = infertel.start_resource_metrics(meter_provider=provider, gpu_source=source, interval_s=0.2)
    try:
        for _ in range(3):
            provider.force_flush()
            time.sleep(0.3)
    finally:
        handle.shutdown()
        provider.shutdown()
        source.close()
    with Served(create_app(path, refresh_s=0)) as served:
        text = httpx.get(f"{served.url}/resources", params={"range": "15m"}, timeout=30).text
    sections = {p.id: re.findall(rf'id="chart-{p.id}".*?</section>', text, re.S)[0] for p in panels("resources")}
    drawn = {panel_id for panel_id, section in sections.items() if '<svg class="chart"' in section}
    # GPU memory per process needs a process using the GPU; the device-level panels always have readings.
    assert {"gpu_utilization", "gpu_memory_utilization", "gpu_power", "gpu_temperature"} <= drawn
