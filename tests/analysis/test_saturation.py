"""The saturating resource named from real resource metrics in the store (written with known values)."""

from __future__ import annotations

import random

from analysis_fill import Req, S, hour_start, write
from opentelemetry.sdk.metrics.export import Gauge, Metric, MetricsData, NumberDataPoint, ResourceMetrics, ScopeMetrics
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from infertel import semconv
from infertel.analysis import analyze
from infertel_exporters.sqlite import SQLiteMetricExporter


def _gauges(path, series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[int, float]]]) -> None:
    metrics = [
        Metric(name=name, description="", unit="1", data=Gauge(data_points=[
            NumberDataPoint(attributes=dict(attrs), start_time_unix_nano=0, time_unix_nano=t, value=v)
            for t, v in points
        ]))
        for (name, attrs), points in series.items()
    ]  # fmt: skip
    data = MetricsData(resource_metrics=[ResourceMetrics(
        resource=Resource.create({"service.name": "chat-api"}),
        scope_metrics=[ScopeMetrics(scope=InstrumentationScope("tests"), metrics=metrics, schema_url="")],
        schema_url="",
    )])  # fmt: skip
    exporter = SQLiteMetricExporter(path, retention=None)
    exporter.export(data)
    exporter.shutdown()


def test_gpu_utilisation_near_its_limit_is_named_with_the_evidence(store_path) -> None:
    start = hour_start(1)
    rng = random.Random(11)
    gpu, cpu, memory, reqs = [], [], [], []
    for i in range(60):  # 10 minutes of 10 s buckets; one request at a time (no concurrency signal)
        bucket = start + i * 10 * S
        u = rng.uniform(0.3, 0.99)
        gpu.append((bucket + 5 * S, u))
        cpu.append((bucket + 5 * S, rng.uniform(0.1, 0.3)))
        memory.append((bucket + 5 * S, 0.5))
        # Decoding slows down once the GPU is busy: 20 ms per token, up to 3x near 100%.
        tpot = 0.02 * (1 + 5 * max(0.0, u - 0.6))
        reqs += [Req(bucket + k * 4 * S, ttft=0.1, tpot=tpot, output=60) for k in range(2)]
    write(store_path, reqs)
    _gauges(store_path, {
        (semconv.HW_GPU_UTILIZATION, (("hw.id", "0"), (semconv.HW_GPU_TASK, semconv.HW_GPU_TASK_GENERAL))): gpu,
        (semconv.PROCESS_CPU_UTILIZATION, ()): cpu,
        (semconv.HW_GPU_MEMORY_UTILIZATION, (("hw.id", "0"),)): memory,
    })  # fmt: skip
    report = analyze(store_path, start_ns=start, end_ns=start + 600 * S, baseline="none")
    sat = report.saturation
    assert sat.resource == "gpu"
    by_name = {c.resource: c for c in sat.correlations}
    assert set(by_name) == {"gpu", "cpu"}  # in-flight and GPU memory never varied: no evidence either way
    g = by_name["gpu"]
    assert (g.points, g.saturated) == (60, True)
    assert g.spearman > 0.8 and 0.97 <= g.high <= 0.99 and g.low >= 0.3
    assert by_name["cpu"].saturated is False and abs(by_name["cpu"].spearman) < 0.4
    assert sat.reason.startswith("latency grows with gpu and it reached 9")
    assert report.breakdown.tail("p95").dominant == "decode"


def test_a_busy_resource_that_latency_ignores_is_not_named(store_path) -> None:
    start = hour_start(1)
    rng = random.Random(12)
    cpu, reqs = [], []
    for i in range(30):
        bucket = start + i * 10 * S
        cpu.append((bucket + 5 * S, rng.uniform(0.85, 1.0)))  # pegged, but latency does not follow it
        reqs.append(Req(bucket, ttft=rng.uniform(0.1, 0.2), tpot=0.02, output=30))
    write(store_path, reqs)
    _gauges(store_path, {(semconv.PROCESS_CPU_UTILIZATION, ()): cpu})
    sat = analyze(store_path, start_ns=start, end_ns=start + 300 * S, baseline="none").saturation
    assert sat.resource is None
    [c] = sat.correlations
    assert c.resource == "cpu" and c.points == 30 and not c.saturated
