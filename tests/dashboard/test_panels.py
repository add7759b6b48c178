"""The panel model: its invariants, status_of, format_value, and GPU metric names from the real exporter."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from infertel._internal.resources.gpu import GpuCollector
from infertel._internal.resources.nvml import GpuDevice, GpuProcess, GpuReading
from infertel._internal.resources.snapshot import ResourceSampler
from infertel.dashboard.panels import (
    PAGES,
    PANELS,
    STATUSES,
    UNITS,
    Panel,
    Threshold,
    format_unit,
    format_value,
    panel,
    panels,
    prometheus_label,
    promql,
    status_of,
)

GENAI_ROLLUPS = {
    "requests_per_s", "error_rate", "latency_p50", "latency_p95", "latency_p99", "ttft_p50", "ttft_p95", "ttft_p99",
    "tpot_p50", "tpot_p95", "tpot_p99", "input_tokens_per_s", "output_tokens_per_s", "in_flight",
}  # fmt: skip
"""The store's GenAI rollup queries (CONTRACT13 section 1, ROLLUP_QUERIES)."""
STATS = {"avg", "min", "max", "last", "sum", "rate", "p50", "p95", "p99"}

METRIC_NAME = re.compile(r"([a-z][a-z0-9_]*)(?=\{|\[| \*)")
"""A metric name in the panels' PromQL: followed by a selector, a range or the service join."""


def metric_names(expression: str) -> set[str]:
    return set(METRIC_NAME.findall(expression))


def test_every_panel_is_complete_and_consistent() -> None:
    assert len({p.id for p in PANELS}) == len(PANELS)
    assert [p.page for p in PANELS] == sorted((p.page for p in PANELS), key=PAGES.index)  # overview first
    for p in PANELS:
        assert p.unit in UNITS, p.id
        assert p.page in PAGES, p.id
        assert p.title and p.description, p.id
        if p.store_query.startswith("metric:"):
            _, name, *stat = p.store_query.split(":")
            assert stat and stat[0] in STATS, p.id
            assert not p.group_by or all(key == "service" or "." in key for key in p.group_by), p.id
        else:
            assert p.store_query in GENAI_ROLLUPS, p.id
            assert p.group_by == ("model",), p.id
        # thresholds: warn before crit in the panel's direction
        if p.thresholds:
            assert [t.status for t in p.thresholds] == ["warn", "crit"], p.id
            warn, crit = (t.value for t in p.thresholds)
            assert warn < crit if p.higher_is_worse else warn > crit, p.id
        # every grouping label appears in the PromQL's aggregation, the variables are used
        for label in p.prometheus_group_by:
            assert re.search(rf"by \([^)]*\b{label}\b", p.promql), (p.id, label)
        assert 'service_name=~"$service"' in p.promql, p.id
        assert ('=~"$model"' in p.promql) == (p.page == "overview"), p.id
        assert ("$__rate_interval" in p.promql) == ("rate(" in p.promql), p.id
    assert [p.id for p in panels("overview")] == [
        "requests_per_s", "error_rate", "latency_p50", "latency_p95", "latency_p99", "ttft_p50", "ttft_p95",
        "tpot_p50", "tpot_p95", "input_tokens_per_s", "output_tokens_per_s", "in_flight",
    ]  # fmt: skip
    assert [p.id for p in panels("resources")] == [
        "cpu_utilization", "process_cpu", "memory_utilization", "process_memory", "disk_io", "network_io",
        "gpu_utilization", "gpu_memory_utilization", "gpu_power", "gpu_temperature", "gpu_process_memory",
    ]  # fmt: skip
    assert {p.id for p in PANELS if p.requires_gpu} == {p.id for p in PANELS if p.id.startswith("gpu_")}


def test_promql_names_follow_the_prometheus_exporter_and_both_sides_of_genai() -> None:
    assert metric_names(panel("latency_p95").promql) == {
        "gen_ai_server_request_duration_seconds_bucket", "gen_ai_client_operation_duration_seconds_bucket",
        "target_info",
    }  # fmt: skip
    assert metric_names(panel("ttft_p50").promql) == {
        "gen_ai_server_time_to_first_token_seconds_bucket",
        "gen_ai_client_operation_time_to_first_chunk_seconds_bucket", "target_info",
    }  # fmt: skip
    assert metric_names(panel("error_rate").promql) == {
        "gen_ai_server_request_duration_seconds_count", "gen_ai_client_operation_duration_seconds_count",
        "target_info",
    }  # fmt: skip
    assert metric_names(panel("output_tokens_per_s").promql) == {"gen_ai_client_token_usage_sum", "target_info"}
    assert metric_names(panel("process_cpu").promql) == {"process_cpu_time_seconds_total", "target_info"}
    assert promql(panel("latency_p95"), service="svc", model="m1|m2", rate_interval="30s") == (
        "histogram_quantile(0.95, sum by (le, gen_ai_request_model) (rate(gen_ai_server_request_duration_seconds_bucket"
        '{gen_ai_request_model=~"m1|m2"}[30s]) * on (job, instance) group_left (service_name) '
        'target_info{service_name=~"svc"})) or histogram_quantile(0.95, sum by (le, gen_ai_request_model) '
        '(rate(gen_ai_client_operation_duration_seconds_bucket{gen_ai_request_model=~"m1|m2"}[30s]) '
        '* on (job, instance) group_left (service_name) target_info{service_name=~"svc"}))'
    )


def test_pages_and_ids_are_checked() -> None:
    with pytest.raises(ValueError, match="page must be one of overview, resources, got 'traces'"):
        panels("traces")
    with pytest.raises(ValueError, match="panel must be one of requests_per_s, error_rate, .*got 'nope'"):
        panel("nope")
    assert prometheus_label("model") == "gen_ai_request_model"
    assert prometheus_label("service") == "service_name"
    assert prometheus_label("hw.gpu.task") == "hw_gpu_task"


def test_status_of_higher_and_lower_is_worse() -> None:
    error_rate = panel("error_rate")  # warn 1%, crit 5%
    assert [status_of(error_rate, v) for v in (0.0, 0.0099, 0.01, 0.049, 0.05, 1.0, None, float("nan"))] == [
        "ok", "ok", "warn", "warn", "crit", "crit", "none", "none",
    ]  # fmt: skip
    speed = Panel(
        id="decode_speed", title="Decode speed", unit="tok/s", page="overview", store_query="output_tokens_per_s",
        group_by=("model",), promql="x", thresholds=(Threshold(20.0, "warn"), Threshold(5.0, "crit")),
        higher_is_worse=False,
    )  # fmt: skip
    assert [status_of(speed, v) for v in (100.0, 20.01, 20.0, 6.0, 5.0, 0.0)] == [
        "ok", "ok", "warn", "warn", "crit", "crit",
    ]  # fmt: skip
    assert status_of(panel("requests_per_s"), 1e9) == "ok"  # no thresholds
    assert set(STATUSES) == {"ok", "warn", "crit", "none"}


def test_format_value_per_unit() -> None:
    cases = [
        ("requests_per_s", 12.34, "12.3 req/s"),
        ("requests_per_s", 0.0, "0 req/s"),
        ("requests_per_s", 1234.5, "1,234 req/s"),
        ("latency_p95", 0.42, "420 ms"),
        ("latency_p95", 2.5, "2.5 s"),
        ("latency_p95", 0.00025, "250 µs"),
        ("latency_p95", 0.0, "0 s"),
        ("latency_p95", 0.99996, "1 s"),
        ("latency_p95", 0.9994, "999 ms"),
        ("latency_p95", 0.0009994, "999 µs"),
        ("in_flight", 999.96, "1,000"),
        ("error_rate", 0.031, "3.1%"),
        ("error_rate", 0.0, "0%"),
        ("error_rate", 0.00042, "0.042%"),
        ("error_rate", 1.0, "100.0%"),
        ("input_tokens_per_s", 1523.7, "1,524 tok/s"),
        ("in_flight", 3.0, "3"),
        ("in_flight", 2.5, "2.5"),
        ("process_memory", 512.0, "512 B"),
        ("process_memory", 1.5 * 2**30, "1.50 GiB"),
        ("process_memory", 3 * 2**40, "3.00 TiB"),
        ("disk_io", 2048.0, "2.00 KiB/s"),
        ("gpu_power", 287.4, "287 W"),
        ("gpu_temperature", 64.0, "64 °C"),
        ("process_cpu", 1.25, "1.25 cores"),
        ("latency_p95", None, "—"),
        ("error_rate", float("nan"), "—"),
        ("latency_p95", float("inf"), "∞"),
    ]
    assert [(i, v, format_value(panel(i), v)) for i, v, _ in cases] == cases
    assert format_unit("percent", 45.0) == "45.0%"
    assert format_unit("count", 0.00001) == "1.00e-05"


def test_panels_are_frozen_data() -> None:
    p = panel("latency_p99")
    with pytest.raises(AttributeError):
        p.title = "x"  # type: ignore[misc]
    assert replace(p, title="Tail latency").promql == p.promql


class _CannedGpus:
    """Two GPUs with every reading, and processes on them (what NVML would report)."""

    devices_ = (
        GpuDevice(index=0, uuid="GPU-aaaa", name="gpu0", model="NVIDIA H100 80GB HBM3", pci_bus_id="00000000:3B:00.0"),
        GpuDevice(index=1, uuid="GPU-bbbb", name="gpu1", model="NVIDIA H100 80GB HBM3", pci_bus_id="00000000:5E:00.0"),
    )

    def devices(self) -> tuple[GpuDevice, ...]:
        return self.devices_

    def read(self, device: GpuDevice) -> GpuReading:
        return GpuReading(
            device, utilization=0.5, memory_used_bytes=40 * 2**30, memory_total_bytes=80 * 2**30, power_watts=300.0,
            energy_joules=1e6, temperature_celsius=60.0, errors_corrected=0, errors_uncorrected=0,
            processes=(GpuProcess(pid=4242, memory_bytes=2**30), GpuProcess(pid=4343, memory_bytes=2**31)),
        )  # fmt: skip

    def close(self) -> None:
        pass


def test_gpu_panels_name_what_the_real_prometheus_exporter_exposes() -> None:
    """GPU panels read NVML metrics, absent here: the real collector on canned readings, the real exporter."""
    pytest.importorskip("opentelemetry.exporter.prometheus")
    from prometheus_client import generate_latest

    from infertel._internal.compat import prometheus_reader

    reader, registry = prometheus_reader()
    provider = MeterProvider(metric_readers=[reader])
    collector = GpuCollector(provider, ResourceSampler(gpu_source=_CannedGpus(), host_source=None), pid=4242)
    try:
        exposition = generate_latest(registry).decode()
    finally:
        collector.shutdown()
        provider.shutdown()
    series: dict[str, list[dict[str, str]]] = {}
    for line in exposition.splitlines():
        found = re.match(r"^([a-z_0-9]+)\{(.*)\} ", line)
        if found:
            labels = dict(re.findall(r'([a-z_0-9]+)="([^"]*)"', found.group(2)))
            series.setdefault(found.group(1), []).append(labels)
    for p in PANELS:
        if not p.requires_gpu:
            continue
        (name,) = metric_names(p.promql) - {"target_info"}
        assert name in series, (p.id, name, sorted(series))
        # the labels the panel groups by and filters on are on the series, with the filtered value
        wanted = {prometheus_label(k): v for k, v in p.where}
        matching = [s for s in series[name] if all(s.get(k) == v for k, v in wanted.items())]
        assert matching, (p.id, wanted)
        for labels in matching:
            assert all(label in labels for label in p.prometheus_group_by), (p.id, labels)
    assert {s["hw_name"] for s in series["hw_gpu_utilization"]} == {"gpu0", "gpu1"}
    assert {s["process_pid"] for s in series["infertel_gpu_process_memory_usage_bytes"]} == {"4242", "4343"}
