"""configure()/shutdown(): providers, exporters per protocol and signal, reuse, idempotency."""

from __future__ import annotations

import logging
import platform
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from core._configure_support import OtlpHttpReceiver
from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from infertel import semconv
from infertel._internal import logs, providers, state
from infertel._internal.compat import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
    logging_handler_class,
)
from infertel._internal.configure import configure, shutdown
from infertel._internal.prometheus import PrometheusEndpoint
from infertel.version import __version__

LoggingHandler = logging_handler_class()

pytestmark = pytest.mark.usefixtures("fresh_otel")


def hub_exporters(provider: Any) -> list[Any]:
    """The exporter behind each processor infertel put in the provider's hub."""
    hub = providers.span_hub(provider) if isinstance(provider, TracerProvider) else providers.log_hub(provider)
    return [p._batch_processor._exporter for p in hub.delegates if hasattr(p, "_batch_processor")]


def periodic_readers() -> list[PeriodicExportingMetricReader]:
    readers = state.current().extras["metric_readers"]
    return [r for r in readers if isinstance(r, PeriodicExportingMetricReader)]


def periodic_exporters(provider: MeterProvider) -> list[Any]:
    assert state.current().meter_provider is provider
    return [r._exporter for r in periodic_readers()]


def test_grpc_structure_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20s3cret")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "chat-api")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,service.namespace=llm")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    configure(service_version="1.2.3", resource_attributes={"team": "ml"})

    runtime = state.current()
    tracer_provider, meter_provider = trace.get_tracer_provider(), metrics.get_meter_provider()
    logger_provider = get_logger_provider()
    assert isinstance(tracer_provider, TracerProvider) and runtime.tracer_provider is tracer_provider
    assert isinstance(meter_provider, MeterProvider) and runtime.meter_provider is meter_provider
    assert isinstance(logger_provider, LoggerProvider) and runtime.extras["logger_provider"] is logger_provider
    assert (runtime.disabled, runtime.capture_content, runtime.content_max_length) == (False, False, 4096)

    [span_exporter] = hub_exporters(tracer_provider)
    [metric_exporter] = periodic_exporters(meter_provider)
    [log_exporter] = hub_exporters(logger_provider)
    assert [type(e) for e in (span_exporter, metric_exporter, log_exporter)] == [
        GrpcSpanExporter,
        GrpcMetricExporter,
        GrpcLogExporter,
    ]
    for exporter in (span_exporter, metric_exporter, log_exporter):
        # 1.37-era exporters build their (insecure) channel at construction and keep no _insecure flag.
        assert (exporter._endpoint, getattr(exporter, "_insecure", True)) == ("127.0.0.1:4317", True)
        assert exporter._headers == (("authorization", "Bearer s3cret"),)
    assert runtime.extras["exporters"] == {"traces": span_exporter, "metrics": metric_exporter, "logs": log_exporter}
    [reader] = periodic_readers()
    assert reader._export_interval_millis == 60_000

    sampler = tracer_provider.sampler
    assert isinstance(sampler, ParentBased)
    assert isinstance(sampler._root, TraceIdRatioBased) and sampler._root.rate == 0.25

    attributes = dict(tracer_provider.resource.attributes)
    assert meter_provider._sdk_config.resource == tracer_provider.resource
    assert logger_provider.resource.attributes == tracer_provider.resource.attributes
    assert {k: attributes[k] for k in ("service.name", "service.version", "deployment.environment", "team")} == {
        "service.name": "chat-api",
        "service.version": "1.2.3",
        "deployment.environment": "prod",
        "team": "ml",
    }
    assert attributes["service.namespace"] == "llm"
    assert attributes[semconv.INFERTEL_VERSION] == __version__
    assert attributes["telemetry.sdk.name"] == "opentelemetry"
    assert attributes["telemetry.sdk.language"] == "python"
    assert isinstance(attributes["telemetry.sdk.version"], str)
    assert attributes["host.name"] == socket.gethostname()
    assert attributes["host.arch"] == platform.machine()
    assert attributes["os.type"] == platform.system().lower()
    import os

    assert attributes["process.pid"] == os.getpid()
    assert attributes["process.runtime.name"] == "cpython"
    assert "service.instance.id" in attributes


def test_http_structure_per_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://metrics-host:4317")
    configure(
        endpoint="http://127.0.0.1:4318",
        logs_endpoint="https://logs-host/ingest/logs",
        headers={"x-api-key": "k"},
        metric_export_interval_millis=1500,
    )
    settings = state.current().extras["settings"]
    [span_exporter] = hub_exporters(trace.get_tracer_provider())
    [metric_exporter] = periodic_exporters(metrics.get_meter_provider())
    [log_exporter] = hub_exporters(get_logger_provider())
    assert type(span_exporter) is HttpSpanExporter
    assert span_exporter._endpoint == "http://127.0.0.1:4318/v1/traces"
    # configure(endpoint=...) beats OTEL_EXPORTER_OTLP_METRICS_ENDPOINT; the per-signal protocol still applies.
    assert type(metric_exporter) is GrpcMetricExporter
    assert metric_exporter._endpoint == "127.0.0.1:4318"
    assert type(log_exporter) is HttpLogExporter
    assert log_exporter._endpoint == "https://logs-host/ingest/logs"
    assert settings.traces.headers == settings.metrics.headers == (("x-api-key", "k"),)
    assert periodic_readers()[0]._export_interval_millis == 1500


def test_http_metric_exporter_class(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(metrics_endpoint="http://127.0.0.1:4318/v1/metrics", protocol="http/protobuf")
    [metric_exporter] = periodic_exporters(metrics.get_meter_provider())
    assert type(metric_exporter) is HttpMetricExporter
    assert metric_exporter._endpoint == "http://127.0.0.1:4318/v1/metrics"


def test_embedded_store_without_endpoint(fresh_otel: Path) -> None:
    sqlite = pytest.importorskip("infertel_exporters.sqlite")
    configure(service_name="store-test")
    exporters = state.current().extras["exporters"]
    assert [type(exporters[s]) for s in ("traces", "metrics", "logs")] == [
        sqlite.SQLiteSpanExporter,
        sqlite.SQLiteMetricExporter,
        sqlite.SQLiteLogExporter,
    ]
    assert hub_exporters(trace.get_tracer_provider()) == [exporters["traces"]]
    assert periodic_exporters(metrics.get_meter_provider()) == [exporters["metrics"]]
    assert periodic_readers()[0]._export_interval_millis == 10_000
    assert state.current().extras["settings"].store_path == fresh_otel
    with trace.get_tracer("t").start_as_current_span("stored"):
        pass
    assert shutdown(timeout_millis=10_000) is True
    assert fresh_otel.exists()


def test_repeated_configure_is_a_no_op() -> None:
    configure(endpoint="http://127.0.0.1:4317", export_logs=True)
    runtime = state.current()
    handler = logs.attached()
    assert handler is not None
    configure(endpoint="http://127.0.0.1:4317", export_logs=True)
    assert state.current() is runtime
    assert logs.attached() is handler
    assert len(hub_exporters(trace.get_tracer_provider())) == 1
    root_otel_handlers = [h for h in logging.getLogger().handlers if isinstance(h, LoggingHandler)]
    assert root_otel_handlers == [handler]


def test_reconfigure_replaces_what_the_previous_call_added(otlp_http_receiver: OtlpHttpReceiver) -> None:
    configure(endpoint="http://127.0.0.1:4317", export_logs=True)
    tracer_provider = trace.get_tracer_provider()
    [first] = hub_exporters(tracer_provider)
    first_processor = providers.span_hub(tracer_provider).delegates[0]
    configure(endpoint=otlp_http_receiver.url, protocol="http/protobuf", export_logs=True)
    assert trace.get_tracer_provider() is tracer_provider
    [second] = hub_exporters(tracer_provider)
    assert type(second) is HttpSpanExporter and second._endpoint == f"{otlp_http_receiver.url}/v1/traces"
    assert first_processor._batch_processor._shutdown is True
    assert [h for h in logging.getLogger().handlers if isinstance(h, LoggingHandler)] == [logs.attached()]
    # One processor per provider however often configure() ran: the SDK sees only the hub.
    assert tracer_provider._active_span_processor._span_processors == (providers.span_hub(tracer_provider),)
    assert type(first) is GrpcSpanExporter
    assert shutdown(timeout_millis=5_000) is True


def test_adds_to_preinstalled_providers(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, otlp_http_receiver: OtlpHttpReceiver
) -> None:
    user_spans = InMemorySpanExporter()
    user_tracer_provider = TracerProvider()
    user_tracer_provider.add_span_processor(SimpleSpanProcessor(user_spans))
    user_reader = InMemoryMetricReader()
    user_meter_provider = MeterProvider(metric_readers=[user_reader])
    user_logs = InMemoryLogRecordExporter()
    user_logger_provider = LoggerProvider()
    user_logger_provider.add_log_record_processor(SimpleLogRecordProcessor(user_logs))
    trace.set_tracer_provider(user_tracer_provider)
    metrics.set_meter_provider(user_meter_provider)
    from opentelemetry._logs import set_logger_provider

    set_logger_provider(user_logger_provider)

    # As under opentelemetry-instrument: the env endpoint was already wired by whoever installed
    # the providers, so configure() must not add a second exporter for it.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_http_receiver.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    with caplog.at_level(logging.WARNING, logger="infertel"):
        configure(prometheus_port=0)
    runtime = state.current()
    assert runtime.tracer_provider is user_tracer_provider
    assert runtime.meter_provider is user_meter_provider
    assert runtime.extras["logger_provider"] is user_logger_provider
    assert hub_exporters(user_tracer_provider) == []
    assert "prometheus" not in runtime.extras
    assert any("prometheus_port cannot be added" in r.getMessage() for r in caplog.records)

    # A destination given as an argument is added to the user's TracerProvider.
    configure(traces_endpoint=f"{otlp_http_receiver.url}/v1/traces")
    [added] = hub_exporters(user_tracer_provider)
    assert type(added) is HttpSpanExporter
    with trace.get_tracer("t").start_as_current_span("user-span"):
        pass
    assert [s.name for s in user_spans.get_finished_spans()] == ["user-span"]

    # shutdown() flushes the user's providers (our span reaches the receiver), removes and shuts down
    # only what infertel added; the user's pipeline keeps working.
    assert shutdown(timeout_millis=5_000) is True
    assert [s.name for s in otlp_http_receiver.spans()] == ["user-span"]
    assert hub_exporters(user_tracer_provider) == []
    with trace.get_tracer("t").start_as_current_span("after-shutdown"):
        pass
    assert [s.name for s in user_spans.get_finished_spans()] == ["user-span", "after-shutdown"]
    user_meter_provider.get_meter("m").create_counter("c").add(1)
    assert user_reader.get_metrics_data() is not None
    assert state.current().tracer_provider is None


def test_explicit_providers_are_used_and_flushed_not_shut_down() -> None:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    logger_provider = LoggerProvider()
    configure(tracer_provider=tracer_provider, meter_provider=meter_provider, logger_provider=logger_provider)
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # the globals are not touched
    assert state.current().tracer_provider is tracer_provider
    assert state.current().meter_provider is meter_provider
    assert shutdown(timeout_millis=5_000) is True
    meter_provider.get_meter("m").create_counter("still.alive").add(3)
    data = reader.get_metrics_data()
    assert data is not None
    names = [m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    assert names == ["still.alive"]
    meter_provider.shutdown()
    tracer_provider.shutdown()


def test_store_path_with_an_explicit_meter_provider_names_the_store(
    fresh_otel: Path, caplog: pytest.LogCaptureFixture
) -> None:
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    with caplog.at_level(logging.WARNING, logger="infertel"):
        configure(store_path=fresh_otel, meter_provider=meter_provider)
    messages = [r.getMessage() for r in caplog.records if "cannot be added" in r.getMessage()]
    assert len(messages) == 1 and "metrics into the store (store_path)" in messages[0], messages
    assert "metrics endpoint" not in messages[0]
    assert shutdown(timeout_millis=5_000) is True
    meter_provider.shutdown()


def test_sdk_disabled_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    configure(endpoint="http://127.0.0.1:4317", prometheus_port=0)
    runtime = state.current()
    assert (runtime.disabled, runtime.tracer_provider, runtime.meter_provider, runtime.extras) == (True, None, None, {})
    assert runtime.capture_content is True
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert not isinstance(metrics.get_meter_provider(), MeterProvider)
    assert logs.attached() is None
    assert shutdown() is True
    assert state.current().disabled is False


def test_invalid_configuration_changes_nothing() -> None:
    configure(endpoint="http://127.0.0.1:4317")
    runtime = state.current()
    with pytest.raises(ValueError, match="configure\\(protocol=...\\).*grpc, http/protobuf"):
        configure(protocol="zmq")
    assert state.current() is runtime


def test_shutdown_flushes_owned_providers_to_a_real_receiver(otlp_http_receiver: OtlpHttpReceiver) -> None:
    configure(
        service_name="flush-test",
        endpoint=otlp_http_receiver.url,
        protocol="http/protobuf",
        headers={"authorization": "Bearer t0ken"},
    )
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("outer"):
        metrics.get_meter_provider().get_meter("m").create_counter("requests").add(2)
    assert shutdown(timeout_millis=10_000) is True
    [span] = otlp_http_receiver.spans()
    assert span.name == "outer"
    [traces_request] = otlp_http_receiver.of("/v1/traces")
    assert traces_request.headers["authorization"] == "Bearer t0ken"
    resource = {a.key: a.value.string_value for a in traces_request.message.resource_spans[0].resource.attributes}
    assert resource["service.name"] == "flush-test"
    metric_names = [
        m.name
        for r in otlp_http_receiver.of("/v1/metrics")
        for rm in r.message.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    ]
    assert "requests" in metric_names
    # Everything configure() created is shut down and infertel is unconfigured again.
    assert state.current().tracer_provider is None and logs.attached() is None
    assert providers.span_hub(trace.get_tracer_provider()).delegates == ()
    assert shutdown() is True  # a second shutdown is harmless


def test_prometheus_endpoint_serves_metrics_and_stops(
    monkeypatch: pytest.MonkeyPatch, otlp_http_receiver: OtlpHttpReceiver
) -> None:
    monkeypatch.setenv("INFERTEL_PROMETHEUS_PORT", "0")
    configure(endpoint=otlp_http_receiver.url, protocol="http/protobuf")
    endpoint = state.current().extras["prometheus"]
    assert isinstance(endpoint, PrometheusEndpoint) and endpoint.host == "127.0.0.1" and endpoint.port > 0
    histogram = (
        metrics.get_meter_provider()
        .get_meter("m")
        .create_histogram(semconv.GEN_AI_SERVER_REQUEST_DURATION, unit=semconv.UNIT_SECONDS)
    )
    histogram.record(0.3, {semconv.GEN_AI_REQUEST_MODEL: "llama"})
    with urllib.request.urlopen(endpoint.url, timeout=10) as response:
        body = response.read().decode()
    assert 'gen_ai_server_request_duration_seconds_count{gen_ai_request_model="llama"' in body
    assert shutdown(timeout_millis=5_000) is True
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(endpoint.url, timeout=2)


def test_store_and_otlp_mix_per_signal(fresh_otel: Path) -> None:
    pytest.importorskip("infertel_exporters.sqlite")
    configure(traces_endpoint="http://127.0.0.1:4317")
    exporters = state.current().extras["exporters"]
    assert type(exporters["traces"]) is GrpcSpanExporter
    assert type(exporters["metrics"]).__name__ == "SQLiteMetricExporter"
    assert type(exporters["logs"]).__name__ == "SQLiteLogExporter"
    assert isinstance(providers.span_hub(trace.get_tracer_provider()).delegates[0], BatchSpanProcessor)
    assert isinstance(providers.log_hub(get_logger_provider()).delegates[0], BatchLogRecordProcessor)


def test_taken_prometheus_port_fails_before_changing_anything() -> None:
    configure(endpoint="http://127.0.0.1:4317")
    runtime = state.current()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ValueError, match=f"prometheus_port.*127.0.0.1:{port}.*0 for any free port"):
            configure(endpoint="http://127.0.0.1:4317", prometheus_port=port)
    assert state.current() is runtime
    assert len(hub_exporters(trace.get_tracer_provider())) == 1


def test_secrets_never_reach_the_logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20hdr-s3cret")
    with caplog.at_level(logging.DEBUG):
        configure(
            endpoint="https://user:url-s3cret@127.0.0.1:4318/otlp?api_key=query-s3cret",
            protocol="http/protobuf",
        )
        settings = state.current().extras["settings"]
        logging.getLogger("infertel").info("settings: %r", settings)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "https://user:***@127.0.0.1:4318/otlp/v1/traces?api_key=***" in text
    assert "{'authorization': '***'}" in text
    for secret in ("hdr-s3cret", "url-s3cret", "query-s3cret"):
        assert secret not in text


def test_resource_keyword_arguments_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "env-name")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=attr-name,deployment.environment=staging,host.name=h")
    configure(
        service_name="kw-name",
        resource_attributes={"deployment.environment": "prod"},
        metrics_endpoint="http://127.0.0.1:4317",
    )
    resource = trace.get_tracer_provider().resource.attributes
    assert metrics.get_meter_provider()._sdk_config.resource.attributes == resource
    assert (resource["service.name"], resource["deployment.environment"], resource["host.name"]) == (
        "kw-name",
        "prod",
        "h",  # OTEL_RESOURCE_ATTRIBUTES beats detection
    )


def test_unusable_store_path_raises_and_leaves_nothing_half_configured(tmp_path: Path) -> None:
    pytest.importorskip("infertel_exporters.sqlite")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="store_path / INFERTEL_STORE_PATH.*writable directory"):
        configure(store_path=blocker / "sub" / "infertel.db")
    assert state.current().tracer_provider is None
    assert logs.attached() is None
    configure(store_path=tmp_path / "ok" / "infertel.db")  # a corrected call works
    assert type(state.current().extras["exporters"]["traces"]).__name__ == "SQLiteSpanExporter"
