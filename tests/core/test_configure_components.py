"""configure() installs the statistics processor, its gauges and the resource metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

import infertel
from infertel import semconv
from infertel._internal import state

pytestmark = pytest.mark.usefixtures("fresh_otel")


def metric_names(reader: InMemoryMetricReader) -> set[str]:
    data = reader.get_metrics_data()
    if data is None:  # nothing at all was recorded
        return set()
    return {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def test_configure_wires_stats_gauges_and_resource_metrics(tmp_path: Path) -> None:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    tracer_provider = TracerProvider()
    infertel.configure(
        store_path=str(tmp_path / "t.db"), tracer_provider=tracer_provider, meter_provider=meter_provider
    )

    @infertel.observe(model="m-1", operation="chat")
    def generate() -> dict[str, object]:
        return {"usage": {"prompt_tokens": 3, "completion_tokens": 5}}

    generate()
    generate()
    series = infertel.stats(window_s=60)[("m-1", "chat")]
    assert (series.requests, series.errors, series.input_tokens, series.output_tokens) == (2, 0, 6, 10)
    names = metric_names(reader)
    assert {semconv.INFERTEL_GEN_AI_LATENCY, semconv.GEN_AI_SERVER_REQUEST_DURATION} <= names
    assert {"system.cpu.utilization", "system.memory.usage", "process.memory.usage"} <= names
    handle = state.current().extras["resource_metrics"]

    # Same settings again: nothing is duplicated, statistics recorded so far are kept.
    infertel.configure(
        store_path=str(tmp_path / "t.db"), tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    assert state.current().extras["resource_metrics"] is handle
    assert infertel.stats(window_s=60)[("m-1", "chat")].requests == 2

    assert infertel.shutdown() is True
    assert len(infertel.stats(window_s=60)) == 0


def test_resource_metrics_can_be_switched_off(tmp_path: Path) -> None:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    infertel.configure(
        store_path=str(tmp_path / "t.db"),
        tracer_provider=TracerProvider(),
        meter_provider=meter_provider,
        resource_metrics=False,
    )
    names = metric_names(reader)
    assert not any(n.startswith(("system.", "process.", "hw.")) for n in names)
    infertel.shutdown()


def test_resource_metrics_setting_is_validated() -> None:
    with pytest.raises(ValueError, match="resource_metrics"):
        infertel.configure(resource_metrics="yes")  # type: ignore[arg-type]


def test_otlp_export_is_durable_by_default(monkeypatch: pytest.MonkeyPatch, otlp_http_receiver) -> None:
    from infertel._internal import providers
    from infertel_exporters.durable import DurableBatchSpanProcessor, DurableMetricExporter, DurableSpanExporter

    monkeypatch.delenv("INFERTEL_DURABLE")
    infertel.configure(service_name="durable-test", endpoint=otlp_http_receiver.url, protocol="http/protobuf")
    exporters = state.current().extras["exporters"]
    assert isinstance(exporters["traces"], DurableSpanExporter)
    assert isinstance(exporters["metrics"], DurableMetricExporter)
    [processor] = [
        p
        for p in providers.span_hub(state.current().tracer_provider).delegates
        if isinstance(p, DurableBatchSpanProcessor)
    ]
    assert processor.exporter is exporters["traces"]

    @infertel.observe(model="m-2", operation="chat")
    def generate() -> str:
        return "ok"

    generate()
    assert infertel.shutdown(timeout_millis=10_000) is True
    assert [s.name for s in otlp_http_receiver.spans()] == ["chat m-2"]


def test_durable_setting_is_validated() -> None:
    with pytest.raises(ValueError, match="durable"):
        infertel.configure(durable="sometimes")  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_genai_histograms_are_pre_aggregated_with_otlp_readers(protocol: str) -> None:
    from infertel._internal.metrics.hook import aggregator_for

    # The OTLP metric exporters ask for ExplicitBucketHistogramAggregation() without boundaries,
    # which aggregates like the default: the in-process aggregate must be used, not record().
    infertel.configure(endpoint="http://127.0.0.1:9", protocol=protocol, resource_metrics=False)
    assert aggregator_for(state.current().meter_provider) is not None
    infertel.shutdown(timeout_millis=1_000)


def test_sigterm_flushes_before_the_process_ends(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from infertel_exporters.sqlite import SQLiteStore

    store = tmp_path / "sigterm.db"
    script = (
        "import os, signal, infertel\n"
        f"infertel.configure(store_path={str(store)!r}, resource_metrics=False)\n"
        "infertel.observe(model='m-term', operation='chat')(lambda: 'ok')()\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "signal.pause()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], timeout=60, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    with SQLiteStore(str(store)) as opened:  # closed: Python 3.13 warns about an unclosed connection
        spans = opened.spans(0, 2**63 - 1)
    assert [s.name for s in spans] == ["chat m-term"]
