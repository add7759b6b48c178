"""Durable exporters against a real OTLP receiver: delivery, outage, restart replay, metrics, config."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from durable_receiver import Receiver
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from infertel import semconv
from infertel.environment_variables import INFERTEL_DURABLE, INFERTEL_SPOOL_MAX_BYTES
from infertel_exporters.durable import (
    DurableBatchSpanProcessor,
    DurableLogExporter,
    DurableMetricExporter,
    DurableSpanExporter,
    durable,
)


def _inner(receiver: Receiver, protocol: str) -> Any:
    if protocol == "http":
        return HttpSpanExporter(endpoint=f"{receiver.http_base}/v1/traces", timeout=2)
    return GrpcSpanExporter(endpoint=receiver.grpc_endpoint, insecure=True, timeout=2)


def _produce(provider: TracerProvider, n: int, name: str = "step") -> list[int]:
    tracer = provider.get_tracer("durable-test")
    ids = []
    for i in range(n):
        with tracer.start_as_current_span(name, attributes={"i": i}) as span:
            ids.append(span.get_span_context().span_id)
    return ids


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_spans_are_delivered_once_through_a_collector_outage(
    fresh_receiver: Receiver, tmp_path: Path, protocol: str
) -> None:
    before = fresh_receiver.stats()
    exporter = DurableSpanExporter(
        _inner(fresh_receiver, protocol), spool_dir=tmp_path, backoff_initial_s=0.05, backoff_max_s=0.2
    )
    provider = TracerProvider()
    provider.add_span_processor(DurableBatchSpanProcessor(exporter))
    _produce(provider, 500)
    assert exporter.force_flush(10_000) is True
    assert fresh_receiver.stats()["spans"] - before["spans"] == 500

    fresh_receiver.set_mode("503")
    _produce(provider, 700)
    assert exporter.force_flush(500) is False  # not delivered yet; nothing lost either
    assert exporter.backlog == 700
    assert exporter.dropped == {}
    fresh_receiver.set_mode("ok")
    assert exporter.force_flush(10_000) is True
    after = fresh_receiver.stats()
    assert after["spans"] - before["spans"] == 1200
    assert after["duplicates"] == before["duplicates"]
    assert after["errors_answered"] > before["errors_answered"]
    assert exporter.delivered == 1200
    provider.shutdown()


def test_a_new_process_replays_what_the_previous_one_left(fresh_receiver: Receiver, tmp_path: Path) -> None:
    before = fresh_receiver.stats()
    fresh_receiver.set_mode("503")
    first = DurableSpanExporter(_inner(fresh_receiver, "http"), spool_dir=tmp_path)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(first))
    _produce(provider, 300)
    provider.shutdown()  # the collector is down: shutdown keeps the spool and returns
    assert fresh_receiver.stats()["spans"] == before["spans"]
    assert first.spool_directory is not None and any(first.spool_directory.glob("*.seg"))

    fresh_receiver.set_mode("ok")
    second = DurableSpanExporter(_inner(fresh_receiver, "http"), spool_dir=tmp_path)
    assert second.spool_directory == first.spool_directory  # the lane lock was released and taken over
    assert second.force_flush(10_000) is True
    assert second.delivered == 300
    after = fresh_receiver.stats()
    assert (after["spans"] - before["spans"], after["duplicates"] - before["duplicates"]) == (300, 0)
    second.shutdown()


def test_two_live_exporters_on_one_spool_dir_take_separate_lanes(fresh_receiver: Receiver, tmp_path: Path) -> None:
    one = DurableSpanExporter(_inner(fresh_receiver, "http"), spool_dir=tmp_path)
    two = DurableSpanExporter(_inner(fresh_receiver, "http"), spool_dir=tmp_path)
    assert one.spool_directory == tmp_path / "traces" / "lane-0"
    assert two.spool_directory == tmp_path / "traces" / "lane-1"
    one.shutdown()
    two.shutdown()


def test_any_span_exporter_gets_the_spans_back_intact(tmp_path: Path) -> None:
    memory = InMemorySpanExporter()
    exporter = DurableSpanExporter(memory, spool_dir=tmp_path)
    provider = TracerProvider(resource=Resource.create({"service.name": "svc", "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("scope-name", "1.2.3")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT, attributes={"a": 1, "b": [1.5, 2.5]}) as child:
            child.add_event("evt", {"k": "v"})
            child.set_status(StatusCode.ERROR, "boom")
    assert exporter.force_flush(10_000) is True
    spans = {s.name: s for s in memory.get_finished_spans()}
    assert sorted(spans) == ["child", "parent"]
    got = spans["child"]
    assert got.context.trace_id == child.get_span_context().trace_id
    assert got.context.span_id == child.get_span_context().span_id
    assert got.parent is not None and got.parent.span_id == parent.get_span_context().span_id
    assert got.kind is SpanKind.CLIENT
    assert dict(got.attributes or {}) == {"a": 1, "b": (1.5, 2.5)}
    assert [(e.name, dict(e.attributes or {})) for e in got.events] == [("evt", {"k": "v"})]
    assert (got.status.status_code, got.status.description) == (StatusCode.ERROR, "boom")
    assert (got.start_time, got.end_time) == (child.start_time, child.end_time)  # type: ignore[attr-defined]
    assert got.resource.attributes["service.name"] == "svc"
    assert got.instrumentation_scope is not None
    assert (got.instrumentation_scope.name, got.instrumentation_scope.version) == ("scope-name", "1.2.3")
    assert spans["parent"].parent is None
    provider.shutdown()


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_metrics_and_logs_are_delivered(fresh_receiver: Receiver, tmp_path: Path, protocol: str) -> None:
    before = fresh_receiver.stats()
    if protocol == "http":
        metric_inner: Any = HttpMetricExporter(endpoint=f"{fresh_receiver.http_base}/v1/metrics")
        log_inner: Any = HttpLogExporter(endpoint=f"{fresh_receiver.http_base}/v1/logs")
    else:
        metric_inner = GrpcMetricExporter(endpoint=fresh_receiver.grpc_endpoint, insecure=True)
        log_inner = GrpcLogExporter(endpoint=fresh_receiver.grpc_endpoint, insecure=True)
    metric_exporter = durable(metric_inner, spool_dir=tmp_path)
    assert isinstance(metric_exporter, DurableMetricExporter)
    assert metric_exporter._preferred_temporality == metric_inner._preferred_temporality
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
    meters = MeterProvider(metric_readers=[reader])
    counter = meters.get_meter("m").create_counter("requests")
    for route in ("a", "b", "c"):
        counter.add(1, {"route": route})
    assert meters.force_flush(10_000) is True

    log_exporter = durable(log_inner, spool_dir=tmp_path)
    assert isinstance(log_exporter, DurableLogExporter)
    loggers = LoggerProvider()
    loggers.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    from opentelemetry._logs import LogRecord

    for i in range(4):
        loggers.get_logger("l").emit(LogRecord(body=f"line {i}"))
    assert log_exporter.force_flush(10_000) is True
    after = fresh_receiver.stats()
    assert after["points"] - before["points"] == 3
    assert after["logs"] - before["logs"] == 4
    meters.shutdown()
    loggers.shutdown()


def test_spool_metrics_report_drops_backlog_and_size(fresh_receiver: Receiver, tmp_path: Path) -> None:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    fresh_receiver.set_mode("503")
    exporter = DurableSpanExporter(
        _inner(fresh_receiver, "http"), spool_dir=tmp_path, max_bytes=6_000, meter_provider=meters
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _produce(provider, 200)
    assert exporter.force_flush(300) is False
    dropped = exporter.dropped
    assert set(dropped) == {"spool_bound"} and 0 < dropped["spool_bound"] < 200
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        (metric.name, tuple(sorted(point.attributes.items()))): (metric.unit, point.value)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
    }
    traces = (semconv.INFERTEL_SIGNAL, "traces")
    reason = (semconv.INFERTEL_DROP_REASON, "spool_bound")
    key = (semconv.INFERTEL_EXPORTER_SPOOL_DROPPED, tuple(sorted([traces, reason])))
    assert points[key] == ("{item}", dropped["spool_bound"])
    assert points[(semconv.INFERTEL_EXPORTER_SPOOL_BACKLOG, (traces,))] == ("{item}", 200 - dropped["spool_bound"])
    unit, size = points[(semconv.INFERTEL_EXPORTER_SPOOL_SIZE, (traces,))]
    assert unit == "By" and 0 < size <= 6_000
    assert points[(semconv.INFERTEL_EXPORTER_DELIVERED, (traces,))] == ("{item}", 0)
    assert points[(semconv.INFERTEL_EXPORTER_SPOOL_CORRUPT, (traces,))] == ("{record}", 0)
    fresh_receiver.set_mode("ok")
    assert exporter.force_flush(10_000) is True  # the drop was reported once, by the previous flush
    assert exporter.delivered == 200 - dropped["spool_bound"]
    provider.shutdown()
    meters.shutdown()


def test_configuration_mistakes_raise_value_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = InMemorySpanExporter()
    with pytest.raises(ValueError, match="max_bytes"):
        DurableSpanExporter(memory, spool_dir=tmp_path, max_bytes=0)
    with pytest.raises(ValueError, match="max_age_s"):
        DurableSpanExporter(memory, spool_dir=tmp_path, max_age_s=-1)
    with pytest.raises(ValueError, match="max_queue_items"):
        DurableSpanExporter(memory, spool_dir=tmp_path, max_queue_items=0)
    monkeypatch.setenv(INFERTEL_SPOOL_MAX_BYTES, "lots")
    with pytest.raises(ValueError, match=INFERTEL_SPOOL_MAX_BYTES):
        DurableSpanExporter(memory, spool_dir=tmp_path)
    monkeypatch.delenv(INFERTEL_SPOOL_MAX_BYTES)
    with pytest.raises(ValueError, match="SpanExporter, MetricExporter or LogRecordExporter"):
        durable(object(), spool_dir=tmp_path)
    with pytest.raises(ValueError, match="needs an OTLP exporter"):
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        durable(ConsoleMetricExporter(), spool_dir=tmp_path)
    monkeypatch.setenv(INFERTEL_DURABLE, "maybe")
    with pytest.raises(ValueError, match=INFERTEL_DURABLE):
        durable(memory, spool_dir=tmp_path)
    monkeypatch.setenv(INFERTEL_DURABLE, "off")
    assert durable(memory, spool_dir=tmp_path) is memory


def test_a_lane_left_by_a_finished_process_is_adopted_and_replayed(
    fresh_receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infertel_exporters.durable import _pipeline

    monkeypatch.setattr(_pipeline, "_ADOPT_INTERVAL_S", 0.1)
    before = fresh_receiver.stats()
    fresh_receiver.set_mode("503")
    survivor = DurableSpanExporter(
        _inner(fresh_receiver, "http"), spool_dir=tmp_path, backoff_initial_s=0.05, backoff_max_s=0.2
    )
    worker = DurableSpanExporter(_inner(fresh_receiver, "http"), spool_dir=tmp_path)
    assert worker.spool_directory == tmp_path / "traces" / "lane-1"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(worker))
    _produce(provider, 250)
    provider.shutdown()  # the worker is gone; its 250 spans wait in lane-1
    deadline = time.monotonic() + 15
    while survivor.backlog < 250 and time.monotonic() < deadline:  # adopted while the collector still fails
        time.sleep(0.05)
    assert survivor.backlog == 250  # the adopted lane is reported, not hidden
    fresh_receiver.set_mode("ok")
    deadline = time.monotonic() + 15
    while fresh_receiver.stats()["spans"] - before["spans"] < 250 and time.monotonic() < deadline:
        time.sleep(0.05)
    after = fresh_receiver.stats()
    assert (after["spans"] - before["spans"], after["duplicates"] - before["duplicates"]) == (250, 0)
    assert survivor.delivered == 250
    deadline = time.monotonic() + 5
    while survivor.backlog and time.monotonic() < deadline:  # the last acknowledgement is being committed
        time.sleep(0.02)
    assert survivor.backlog == 0
    survivor.shutdown()
    assert not [p for p in (tmp_path / "traces" / "lane-1").glob("*.seg") if p.stat().st_size]


_FORK_SCRIPT = """
import json, os, sys
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from infertel_exporters.durable import DurableBatchSpanProcessor, DurableSpanExporter

exporter = DurableSpanExporter(OTLPSpanExporter(endpoint=sys.argv[1], timeout=2), spool_dir=sys.argv[2])
provider = TracerProvider()
provider.add_span_processor(DurableBatchSpanProcessor(exporter))
tracer = provider.get_tracer("fork")
for _ in range(20):
    tracer.start_span("before-fork").end()
pid = os.fork()
name = "child" if pid == 0 else "parent"
for _ in range(30):
    tracer.start_span(name).end()
ok = provider.force_flush(10_000)
report = json.dumps({"who": name, "ok": ok, "lane": str(exporter.spool_directory), "delivered": exporter.delivered})
# One write per report, the parent's after the child's: the two lines never interleave.
if pid == 0:
    os.write(1, (report + "\\n").encode())
    os._exit(0)
os.waitpid(pid, 0)
os.write(1, (report + "\\n").encode())
provider.shutdown()
"""


def test_a_forked_child_gets_its_own_lane_and_threads(fresh_receiver: Receiver, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    before = fresh_receiver.stats()
    out = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT, f"{fresh_receiver.http_base}/v1/traces", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    reports = {r["who"]: r for r in map(json.loads, out.strip().splitlines())}
    assert reports["parent"]["ok"] is True and reports["child"]["ok"] is True
    assert reports["parent"]["lane"].endswith("lane-0") and reports["child"]["lane"].endswith("lane-1")
    # The spans queued before the fork belong to the parent alone: nothing twice, nothing lost.
    assert reports["parent"]["delivered"] == 50 and reports["child"]["delivered"] == 30
    after = fresh_receiver.stats()
    assert (after["spans"] - before["spans"], after["duplicates"] - before["duplicates"]) == (80, 0)


def test_a_metric_exporter_reports_its_own_metrics_through_the_provider_around_it(
    fresh_receiver: Receiver, tmp_path: Path
) -> None:
    exporter = DurableMetricExporter(
        HttpMetricExporter(endpoint=f"{fresh_receiver.http_base}/v1/metrics"), spool_dir=tmp_path, report_metrics=False
    )
    memory = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[PeriodicExportingMetricReader(exporter, 3_600_000), memory])
    exporter.report_metrics_to(meters)
    meters.get_meter("m").create_counter("requests").add(2)
    assert meters.force_flush(10_000) is True
    data = memory.get_metrics_data()
    assert data is not None
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert {
        semconv.INFERTEL_EXPORTER_SPOOL_SIZE,
        semconv.INFERTEL_EXPORTER_SPOOL_BACKLOG,
        semconv.INFERTEL_EXPORTER_SPOOL_CORRUPT,
        semconv.INFERTEL_EXPORTER_DELIVERED,
        "requests",
    } <= names
    meters.shutdown()
