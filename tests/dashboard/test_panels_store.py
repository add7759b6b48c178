"""Every panel's store query answers from a real store: the pages draw what the Grafana panels draw.

A subprocess runs the demo's models (streams, errors, four models) with resource metrics under
``configure()`` into a fresh store; GPU panels read a store the real GPU collector wrote from canned
NVML readings (there is no GPU here).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from test_panels import _CannedGpus

from infertel._internal.demo.engine import MODELS
from infertel._internal.resources.gpu import GpuCollector
from infertel._internal.resources.snapshot import ResourceSampler
from infertel.dashboard.panels import PANELS, Panel
from infertel_exporters.sqlite import SQLiteMetricExporter, SQLiteStore

WORKLOAD = """
import asyncio, sys
import infertel
from infertel._internal.demo.engine import Engine, make_plans

infertel.configure(service_name="panels-store-test", store_path=sys.argv[1], resource_metrics=True,
                   metric_export_interval_millis=500)
engine = Engine()

async def main():
    for seed in (1, 2, 3):  # a few rounds, so counters have several points to rate
        await asyncio.gather(*(engine.run(p) for p in make_plans(24, seed=seed, error_rate=0.2)))
        await asyncio.sleep(0.6)

asyncio.run(main())
sys.exit(0 if infertel.shutdown(timeout_millis=10_000) else 1)
"""


def _check(store: SQLiteStore, item: Panel, start_ns: int, end_ns: int) -> list[dict[str, str]]:
    series = store.timeseries(item.store_query, start_ns, end_ns, 10, group_by=item.group_by, where=dict(item.where))
    assert series, item.id
    for one in series:
        assert set(one.labels) == set(item.group_by), (item.id, one.labels)
        values = [v for _, v in one.points if v is not None]
        assert values and all(v >= 0 for v in values), (item.id, one)
    return [one.labels for one in series]


@pytest.mark.slow
def test_every_non_gpu_panel_has_data_in_a_store_written_by_configure(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    env["INFERTEL_DURABLE"] = "off"
    start_ns = time.time_ns() - 60 * 10**9
    result = subprocess.run([sys.executable, "-c", WORKLOAD, str(db)], capture_output=True, text=True, env=env,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    end_ns = time.time_ns() + 60 * 10**9
    with SQLiteStore(db, read_only=True) as store:
        for item in PANELS:
            if item.requires_gpu:
                continue
            labels = _check(store, item, start_ns, end_ns)
            if item.page == "overview":
                assert sorted(label["model"] for label in labels) == sorted(m.name for m in MODELS), item.id
            elif "service" in item.group_by:
                assert labels == [{"service": "panels-store-test"}], item.id


def test_gpu_panels_have_data_in_a_store_written_by_the_gpu_collector(tmp_path: Path) -> None:
    db = tmp_path / "gpu.db"
    reader = PeriodicExportingMetricReader(SQLiteMetricExporter(db), export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    collector = GpuCollector(provider, ResourceSampler(gpu_source=_CannedGpus(), host_source=None), pid=4242)
    start_ns = time.time_ns() - 60 * 10**9
    try:
        assert provider.force_flush()
    finally:
        collector.shutdown()
        provider.shutdown()
    with SQLiteStore(db, read_only=True) as store:
        for item in PANELS:
            if not item.requires_gpu:
                continue
            labels = _check(store, item, start_ns, time.time_ns() + 60 * 10**9)
            if item.id == "gpu_process_memory":
                assert sorted(labels, key=lambda x: sorted(x.items())) == [
                    {"hw.name": name, "process.pid": pid} for name in ("gpu0", "gpu1") for pid in ("4242", "4343")
                ]
            else:
                assert sorted(labels, key=lambda x: x["hw.name"]) == [
                    {"hw.name": "gpu0", "hw.id": "GPU-aaaa"}, {"hw.name": "gpu1", "hw.id": "GPU-bbbb"},
                ], item.id  # fmt: skip
