"""Cost of resource metrics: one collection, and the CPU share at a 1 s interval.

1. CPU time of one full collection (``reader.get_metrics_data()``, SDK aggregation included):
   infertel's default system/process set + GPU metrics from 8 canned NVML GPUs (the fake NVML
   of the test suite, so NVML's own driver latency is NOT included), and its parts, and
   infertel's full system/process set, against the upstream
   ``opentelemetry-instrumentation-system-metrics`` with ALL its metrics, measured in the same run.
2. CPU share of collection at a 1 s export interval over ``--duration`` seconds (default 60,
   real time, not extrapolated): each configuration runs in its own subprocess with a
   PeriodicExportingMetricReader (1 s) and an exporter that discards; the figure is the
   subprocess's CPU time (``time.process_time()``) over the period divided by the period; the
   main thread only sleeps. The floor: a subprocess exporting one trivial gauge each second.

Usage: .venv/bin/python benchmarks/resources.py [--collections N] [--duration S]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "resources"))

from fake_nvml import FakeGpu, FakeNvml  # noqa: E402

from infertel._internal.resources import install  # noqa: E402
from infertel._internal.resources.nvml import NvmlSource  # noqa: E402

KINDS = (
    "empty",
    "infertel-default+gpu",
    "infertel-system-default",
    "infertel-system-all",
    "infertel-gpu-8",
    "upstream-all",
)
TARGET_SHARE = 0.005  # 0.5 % of one core


def eight_gpus() -> list[FakeGpu]:
    return [
        FakeGpu(
            uuid=f"GPU-{i:08x}-0000-0000-0000-000000000000",
            bus_id=f"00000000:{0x18 + i:02X}:00.0",
            memory_used=(10 + i) * 2**30,
            utilization=10 * i,
            compute=[(1000 + i, 2**30), (2000 + i, 2 * 2**30)],
        )
        for i in range(8)
    ]


class _Uninstrument:
    def __init__(self, instrumentor: Any) -> None:
        self._instrumentor = instrumentor

    def shutdown(self) -> None:
        self._instrumentor.uninstrument()


def setup(kind: str, provider: MeterProvider) -> Any:
    """Install one configuration on ``provider``; returns something with ``shutdown()`` or None."""
    if kind == "empty":
        # One trivial gauge, so the reader exports each second: the floor every service pays anyway.
        provider.get_meter("floor").create_observable_gauge("floor", [lambda options: [Observation(1)]])
        return None
    if kind == "upstream-all":
        from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor

        # Public API, default config (all its metrics). The instrumentor is a process-wide singleton:
        # each process measures this kind once.
        instrumentor = SystemMetricsInstrumentor()
        instrumentor.instrument(meter_provider=provider)
        return _Uninstrument(instrumentor)
    gpu = kind in ("infertel-default+gpu", "infertel-gpu-8")
    system: Any = "default" if kind in ("infertel-default+gpu", "infertel-system-default") else False
    if kind == "infertel-system-all":
        system = "all"  # the same ground as upstream-all: every metric, connections included
    source = NvmlSource(FakeNvml(eight_gpus())) if gpu else None
    return install(provider, system_metrics=system, gpu=gpu, gpu_source=source)


def one_collection(kind: str, collections: int) -> tuple[float, int, int]:
    """CPU seconds per collection, data points per collection, metric count."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    handle = setup(kind, provider)
    for _ in range(5):
        reader.get_metrics_data()  # warm-up: NVML enumeration, first psutil reads
    data = reader.get_metrics_data()
    metrics = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics] if data else []
    points = sum(len(m.data.data_points) for m in metrics)
    start = time.process_time()
    for _ in range(collections):
        reader.get_metrics_data()
    per = (time.process_time() - start) / collections
    if handle is not None:
        handle.shutdown()
    provider.shutdown()
    return per, points, len(metrics)


class _Discard(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.exports = 0

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        self.exports += 1
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


def child(kind: str, duration: float) -> None:
    exporter = _Discard()
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=1000)
    provider = MeterProvider(metric_readers=[reader])
    handle = setup(kind, provider)
    time.sleep(1.5)  # let the first collections (NVML enumeration, psutil priming) pass
    exports_before, cpu_before, wall_before = exporter.exports, time.process_time(), time.monotonic()
    time.sleep(duration)
    cpu, wall = time.process_time() - cpu_before, time.monotonic() - wall_before
    exports = exporter.exports - exports_before
    if handle is not None:
        handle.shutdown()
    provider.shutdown()
    print(json.dumps({"kind": kind, "cpu_s": cpu, "wall_s": wall, "exports": exports}))


def shares(kinds: Sequence[str], duration: float) -> dict[str, dict[str, float]]:
    procs = {
        kind: subprocess.Popen(
            [sys.executable, __file__, "--child", kind, "--duration", str(duration)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for kind in kinds
    }
    results = {}
    for kind, proc in procs.items():
        out, _ = proc.communicate(timeout=duration + 120)
        results[kind] = json.loads(out.strip().splitlines()[-1])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collections", type=int, default=300)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--child", choices=KINDS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.duration)
        return

    print("== One collection (CPU time per reader.get_metrics_data(), SDK included) ==")
    costs = {}
    for kind in KINDS:
        collections = args.collections if kind != "upstream-all" else max(20, args.collections // 10)
        per, points, metrics = one_collection(kind, collections)
        costs[kind] = per
        print(f"{kind:26s} {per * 1e3:8.3f} ms  {metrics:3d} metrics  {points:4d} points")
    ours, upstream = costs["infertel-default+gpu"], costs["upstream-all"]
    print(f"ratio infertel default+8 GPUs / upstream all: {ours / upstream:.3f}  (upstream is {upstream / ours:.1f}x)")
    print(
        f"share at 1 s, from one collection: infertel {ours * 100:.3f}% of a core, upstream all {upstream * 100:.3f}%"
    )

    kinds = ("empty", "infertel-default+gpu", "upstream-all")
    print(f"\n== CPU share at a 1 s interval, measured over {args.duration:.0f} s (subprocesses in parallel) ==")
    results = shares(kinds, args.duration)
    floor = results["empty"]["cpu_s"] / results["empty"]["wall_s"]
    for kind in kinds:
        r = results[kind]
        share = r["cpu_s"] / r["wall_s"]
        print(
            f"{kind:26s} cpu {r['cpu_s']:7.3f} s over {r['wall_s']:5.1f} s, {int(r['exports'])} exports: "
            f"{share * 100:6.3f}% of a core ({(share - floor) * 100:6.3f}% above the floor)"
        )
    ours_share = results["infertel-default+gpu"]["cpu_s"] / results["infertel-default+gpu"]["wall_s"]
    up_share = results["upstream-all"]["cpu_s"] / results["upstream-all"]["wall_s"]
    verdict = "meets" if ours_share < TARGET_SHARE else "MISSES"
    print(
        f"infertel default+8 GPUs: {ours_share * 100:.3f}% {verdict} the < {TARGET_SHARE * 100:.1f}% target; "
        f"ratio to upstream all {ours_share / up_share:.3f}"
    )

    print("\n== snapshot() ==")
    provider = MeterProvider()
    handle = install(provider, system_metrics=False, gpu_source=NvmlSource(FakeNvml(eight_gpus())))
    handle.snapshot()
    n = 10_000
    start = time.perf_counter()
    for _ in range(n):
        handle.snapshot()
    cached = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for _ in range(200):
        handle.snapshot(max_age_s=0)
    fresh = (time.perf_counter() - start) / 200
    handle.shutdown()
    provider.shutdown()
    print(
        f"cached (within the interval) {cached * 1e6:7.2f} us   fresh reading (host + 8 GPUs) {fresh * 1e6:8.1f} us"
        f"   ratio {fresh / cached:.0f}x"
    )


if __name__ == "__main__":
    main()
