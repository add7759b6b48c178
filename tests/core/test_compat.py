"""Every private-member path of ``infertel._internal.compat`` against its public-API fallback.

Each test forces the fallback (the state a future OpenTelemetry release without the member would
leave) and asserts the result is identical to the fast path's. The matrix legs of ``.ci/run`` run
this module on the oldest and the newest supported OpenTelemetry releases.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import warnings
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags
from stats_buffers import BUFFERS, buffer_kind

import infertel
from infertel import semconv
from infertel._internal import compat
from infertel._internal.compat import (
    InMemoryLogRecordExporter,
    LoggerProvider,
    SimpleLogRecordProcessor,
    log_record_resource,
    new_log_record,
)
from infertel._internal.instrument import block, context, observe, streams
from infertel._internal.metrics import recorder
from infertel._internal.metrics.recorder import InstrumentRecorder, PreAggregatedRecorder, recorder_for
from infertel._internal.processors import InferenceStats, InferenceStatsSpanProcessor, _buffer
from infertel._internal.processors import _processor as processor_module

READ_BY_THE_C_BUFFER = _buffer.READ_ATTRIBUTES

# --- span reads of the statistics processor -----------------------------------------------------


def _genai_spans(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("t")
    genai = {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "m"}
    with tracer.start_as_current_span("server", attributes=genai):  # the parent of the same series
        with tracer.start_as_current_span("chat m", attributes=genai) as child:
            child.set_attributes({semconv.GEN_AI_USAGE_INPUT_TOKENS: 3, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5})
    for i in range(20):
        span = tracer.start_span("chat m2", attributes={**genai, semconv.GEN_AI_REQUEST_MODEL: "m2"})
        span.set_attribute(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, 0.01 * i)
        if i % 4 == 0:
            span.set_status(Status(StatusCode.ERROR, "boom"))
        span.end()
    tracer.start_span("plain").end()


def _snapshot_of(processor: InferenceStatsSpanProcessor) -> dict[Any, Any]:
    snapshot = processor.stats.snapshot(60)
    return {key: (s.requests, s.errors, s.input_tokens, s.output_tokens) for key, s in snapshot.items()}


class _BothPairs(SpanProcessor):
    """Hands every span to several ``(on_start, on_end)`` pairs, as the SDK hands it to a processor."""

    def __init__(self, *pairs: Any) -> None:
        self.pairs = pairs

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        for on_start, _ in self.pairs:
            on_start(span, parent_context)

    def on_end(self, span: Any) -> None:
        for _, on_end in self.pairs:
            on_end(span)


def _sink() -> SimpleNamespace:
    readings = iter(range(1000))

    def folded() -> None:
        raise AssertionError("fold_batch is not reached here")

    return SimpleNamespace(in_flight_spans={}, buffer=[], clock=lambda: float(next(readings)), buffer_full=folded)


PAIRS = {"list": "_private_hooks.<locals>.", "records": "Hooks."}
"""The span-read pair each buffer kind gets: the Python closures on a list, the C pair on the C buffer."""


@pytest.mark.parametrize("buffer", BUFFERS)
def test_the_fast_span_reads_are_active_on_this_sdk(buffer: str) -> None:
    # Every supported release (1.37-1.45, the matrix legs) has the private fields the probe checks.
    assert compat.SPAN_INTERNALS is True
    with buffer_kind(buffer):
        processor = InferenceStatsSpanProcessor()
    assert buffer == "list" or compat.COMPILED_SPAN_HOOKS is True
    assert processor.on_start.__qualname__ == PAIRS[buffer] + "on_start"
    assert processor.on_end.__qualname__ == PAIRS[buffer] + "on_end"


def test_without_the_c_pair_the_python_pair_appends_to_the_c_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    with buffer_kind("records"):
        fast = InferenceStatsSpanProcessor(windows_s=(60,))
        monkeypatch.setattr(compat, "COMPILED_SPAN_HOOKS", False)  # (its probe failed)
        python = InferenceStatsSpanProcessor(windows_s=(60,))
    assert type(python.stats.buffer) is type(fast.stats.buffer) is not list
    assert python.on_end.__qualname__ == PAIRS["list"] + "on_end"
    for processor in (fast, python):
        provider = TracerProvider()
        provider.add_span_processor(processor)
        _genai_spans(provider)
    assert _snapshot_of(fast) == _snapshot_of(python) == {("m", "chat"): (1, 0, 3, 5), ("m2", "chat"): (20, 5, 0, 0)}


def test_the_c_pair_logs_its_own_errors_once_and_never_raises_into_span_end(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from infertel._internal import errors
    from infertel.environment_variables import INFERTEL_RAISE_INTERNAL_ERRORS

    broken = [False]

    def clock() -> float:
        if broken[0]:
            raise RuntimeError("a bug in infertel")
        return 1.0

    with buffer_kind("records"):
        processor = InferenceStatsSpanProcessor(windows_s=(60,), clock=clock)
    broken[0] = True
    assert processor.on_end.__qualname__ == "Hooks.on_end"
    provider = TracerProvider()
    provider.add_span_processor(processor)
    genai = {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "m"}
    with pytest.raises(RuntimeError, match="a bug in infertel"):  # the test suite's switch: re-raised
        provider.get_tracer("t").start_span("chat m", attributes=genai).end()
    monkeypatch.setenv(INFERTEL_RAISE_INTERNAL_ERRORS, "false")
    errors._reported.clear()
    with caplog.at_level(logging.WARNING, logger="infertel"):
        for _ in range(3):
            provider.get_tracer("t").start_span("chat m", attributes=genai).end()  # no exception
    logged = [r for r in caplog.records if "infertel internal error" in r.getMessage()]
    assert len(logged) == 1 and isinstance(logged[0].exc_info[1], RuntimeError)  # type: ignore[index]
    assert len(processor.stats.buffer) == 0


@pytest.mark.parametrize("buffer", BUFFERS)
def test_private_and_public_span_reads_agree(buffer: str) -> None:
    op = semconv.GEN_AI_OPERATION_NAME
    fell_back: list[Any] = []
    private_sink, public_sink = _sink(), _sink()
    public = processor_module._public_hooks(public_sink)  # type: ignore[arg-type]
    fallback = (lambda span, context=None: fell_back.append(span), fell_back.append)
    if buffer == "list":
        private = compat._private_hooks(private_sink, op, 100, 1000, fallback)
    else:
        with buffer_kind(buffer):
            private_sink.buffer = _buffer.new_buffer(())
        hooks = _buffer.Hooks(
            private_sink.buffer, private_sink.in_flight_spans, op, 100, 1000, private_sink.buffer_full,
            private_sink.clock, *fallback, fell_back.append, compat.SPAN_FIELDS,
        )  # fmt: skip
        private = (hooks.on_start, hooks.on_end)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(_BothPairs(private, public))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    live = provider.get_tracer("t").start_span("live", attributes={op: "chat", "k": 1})
    provider.get_tracer("t").start_span("plain, live").end()
    span_id = live.get_span_context().span_id
    assert [(k, type(v), v) for k, v in private_sink.in_flight_spans.items()] == [(span_id, dict, {op: "chat", "k": 1})]
    assert {k: dict(v) for k, v in public_sink.in_flight_spans.items()} == private_sink.in_flight_spans
    live.end()
    _genai_spans(provider)
    assert fell_back == []
    assert private_sink.in_flight_spans == public_sink.in_flight_spans == {}
    spans = [span for span in exporter.get_finished_spans() if span.attributes.get(op) is not None]
    assert len(spans) == 23
    expected = [
        (
            float(i),  # one clock reading per GenAI span, none for the others
            span.attributes[op],
            dict(span.attributes),
            span.context.span_id,
            span.end_time - span.start_time,
            span.status.status_code,
            None if span.parent is None else span.parent.span_id,
        )
        for i, span in enumerate(spans)
    ]
    if buffer == "list":
        assert all(type(record[2]) is dict for record in private_sink.buffer)  # the span's own plain dict
        records = list(private_sink.buffer)
    else:  # the C buffer gives a record back with the six attribute values it read
        records = private_sink.buffer.take(100).records()
        expected = [(*e[:2], {k: v for k, v in e[2].items() if k in READ_BY_THE_C_BUFFER}, *e[3:]) for e in expected]
        public_sink.buffer = [(*r[:2], {k: v for k, v in r[2].items() if k in READ_BY_THE_C_BUFFER}, *r[3:])
                              for r in public_sink.buffer]  # fmt: skip
    for found in (records, public_sink.buffer):
        assert [(*r[:2], dict(r[2]), *r[3:]) for r in found] == expected


def test_processor_public_fallback_gives_identical_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = InferenceStatsSpanProcessor(windows_s=(60,))
    provider = TracerProvider()
    provider.add_span_processor(fast)
    _genai_spans(provider)

    monkeypatch.setattr(compat, "SPAN_INTERNALS", False)
    public = InferenceStatsSpanProcessor(windows_s=(60,))
    assert public.on_end.__qualname__ == "_public_hooks.<locals>.on_end"
    provider = TracerProvider()
    provider.add_span_processor(public)
    _genai_spans(provider)

    expected = {("m", "chat"): (1, 0, 3, 5), ("m2", "chat"): (20, 5, 0, 0)}
    assert _snapshot_of(fast) == _snapshot_of(public) == expected


def test_the_probe_refuses_private_fields_that_disagree_with_the_public_properties(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A release whose public end_time no longer comes from ``_end_time`` (here: shifted by 1 ns).
    monkeypatch.delitem(vars(compat), "SPAN_INTERNALS", raising=False)
    monkeypatch.delitem(vars(compat), "COMPILED_SPAN_HOOKS", raising=False)
    monkeypatch.setattr(ReadableSpan, "end_time", property(lambda span: span._end_time + 1))
    if _buffer.Hooks is not None:  # (the extension built)
        assert compat._span_hooks_agree(compiled=True) is False  # the C pair's probe refuses them too
    processor = InferenceStatsSpanProcessor(windows_s=(60,))
    assert compat.SPAN_INTERNALS is False
    assert processor.on_end.__qualname__ == "_public_hooks.<locals>.on_end"
    provider = TracerProvider()
    provider.add_span_processor(processor)
    _genai_spans(provider)
    assert _snapshot_of(processor) == {("m", "chat"): (1, 0, 3, 5), ("m2", "chat"): (20, 5, 0, 0)}


@pytest.mark.parametrize("buffer", BUFFERS)
def test_processor_reads_spans_of_another_shape_through_the_public_properties(buffer: str) -> None:
    # A ReadableSpan built by hand keeps a plain dict (no ``_dict``: AttributeError in the private
    # reads); one with no end time (TypeError there): the public pair reads both, a missing time as 0.
    with buffer_kind(buffer):
        processor = InferenceStatsSpanProcessor(windows_s=(60,))
    assert processor.on_end.__qualname__ == PAIRS[buffer] + "on_end"
    genai = {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "m"}
    spans = [
        ReadableSpan(
            name="chat m",
            context=SpanContext(trace_id=1, span_id=2, is_remote=False, trace_flags=TraceFlags(1)),
            attributes=genai,
            start_time=1_000,
            end_time=2_000_001_000,
            status=Status(StatusCode.ERROR),
        ),
        ReadableSpan(
            name="chat m",
            context=SpanContext(trace_id=1, span_id=3, is_remote=False, trace_flags=TraceFlags(1)),
            attributes=BoundedAttributes(attributes=genai),
            start_time=1_000,
        ),
    ]
    for span in spans:
        processor.on_start(span)  # type: ignore[arg-type]
        assert processor.stats.in_flight_spans.keys() == {span.context.span_id}
        processor.on_end(span)
        assert processor.stats.in_flight_spans == {}
    snapshot = processor.stats.snapshot(60)[("m", "chat")]
    assert (snapshot.requests, snapshot.errors, snapshot.latency.count) == (2, 1, 2)
    reference = InferenceStats(windows_s=(60,))
    for latency in (2.0, 0.0):  # 2 s; no end time: 0 - start, clamped to 0
        reference.record_end(reference.end_record(("m", "chat"), latency, None, None, None, None, None))
    assert snapshot.latency == reference.snapshot(60)[("m", "chat")].latency


# --- context runtime ----------------------------------------------------------------------------


def test_the_fast_context_paths_are_active_on_this_api() -> None:
    assert context._RUNTIME_VAR is compat.runtime_context_var() is not None
    assert context._SPAN_KEY is compat.span_context_key() is not None


def _public_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """What context.py binds when the probes fail (another runtime context, an API without the key)."""
    monkeypatch.setattr(context, "_SPAN_KEY", None)
    monkeypatch.setattr(context, "_RUNTIME_VAR", None)
    public = {
        "attach": otel_context.attach,
        "detach": otel_context.detach,
        "reset": otel_context.detach,
        "get_current": otel_context.get_current,
    }
    for module in (context, observe, streams, block):
        for name, function in public.items():
            if hasattr(module, name):
                monkeypatch.setattr(module, name, function)


def _observed_calls(tracer_provider: TracerProvider) -> list[Any]:
    seen: list[Any] = []

    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=MeterProvider())
    def call(n: int) -> int:
        seen.append(("call", infertel.current_inference() is not None, trace.get_current_span().is_recording()))
        with tracer_provider.get_tracer("t").start_as_current_span("child"):
            pass
        return n

    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=MeterProvider())
    def stream(n: int) -> Iterator[int]:
        yield from range(n)
        seen.append(("stream", infertel.current_inference() is not None))

    @infertel.observe(model="m", tracer_provider=tracer_provider, meter_provider=MeterProvider())
    async def acall() -> bool:
        return infertel.current_inference() is not None

    before = otel_context.get_current()
    seen.append(call(3))
    seen.append(list(stream(3)))
    seen.append(asyncio.run(acall()))
    with infertel.inference(model="m", tracer_provider=tracer_provider, meter_provider=MeterProvider()):
        seen.append(("block", infertel.current_inference() is not None))
    seen.append(("restored", otel_context.get_current() is before, infertel.current_inference() is None))
    return seen


def _tree(spans: Any) -> list[tuple[str, str | None]]:
    names = {span.context.span_id: span.name for span in spans}
    return sorted((span.name, names.get(span.parent.span_id) if span.parent else None) for span in spans)


def test_context_public_fallback_gives_identical_spans_and_contexts(monkeypatch: pytest.MonkeyPatch) -> None:
    results = []
    for force_public in (False, True):
        if force_public:
            _public_context(monkeypatch)
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        seen = _observed_calls(provider)
        results.append((seen, _tree(exporter.get_finished_spans())))
    assert results[0] == results[1]
    seen, tree = results[1]
    assert seen == [
        ("call", True, True),
        3,
        ("stream", True),
        [0, 1, 2],
        True,
        ("block", True),
        ("restored", True, True),
    ]
    # Four calls (sync, stream, async, block), each a root span; the child nests in the sync call.
    assert tree == [("chat m", None)] * 4 + [("child", "chat m")]


# --- metrics SDK internals ------------------------------------------------------------------------


def _metric_workload(provider: MeterProvider) -> None:
    for i in range(40):
        infertel.record_metrics(
            model="m" if i % 3 else "n",
            operation="chat",
            kind="client" if i % 2 else "internal",
            provider="p",
            duration_s=0.25 * (i % 7 + 1),
            input_tokens=8 * i,
            output_tokens=4 * i + 1,
            time_to_first_token_s=0.125 * (i % 3),
            time_per_output_token_s=0.0625,
            error_type="TimeoutError" if i % 5 == 0 else None,
            meter_provider=provider,
        )


def _metrics(reader: InMemoryMetricReader) -> dict[str, Any]:
    data = reader.get_metrics_data()
    found: dict[str, Any] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                points = []
                for point in metric.data.data_points:
                    summary = {
                        f.name: getattr(point, f.name) for f in dataclasses.fields(point) if "time" not in f.name
                    }
                    summary["attributes"] = dict(point.attributes or {})
                    points.append(summary)
                found[metric.name] = (
                    scope_metrics.scope.name,
                    metric.unit,
                    metric.description,
                    sorted(points, key=repr),
                )
    return found


def test_metrics_public_fallback_records_identical_data(monkeypatch: pytest.MonkeyPatch) -> None:
    fast_reader = InMemoryMetricReader()
    fast = MeterProvider(metric_readers=[fast_reader], shutdown_on_exit=False)
    assert isinstance(recorder_for(fast), PreAggregatedRecorder)
    _metric_workload(fast)

    monkeypatch.setattr(compat, "METRICS_INTERNALS", False)
    slow_reader = InMemoryMetricReader()
    slow = MeterProvider(metric_readers=[slow_reader], shutdown_on_exit=False)
    assert compat.metrics_sdk_internals(slow) is None
    assert isinstance(recorder_for(slow), InstrumentRecorder)
    _metric_workload(slow)

    fast_metrics, slow_metrics = _metrics(fast_reader), _metrics(slow_reader)
    assert set(fast_metrics) == set(slow_metrics)
    assert semconv.GEN_AI_CLIENT_OPERATION_DURATION in fast_metrics
    assert fast_metrics == slow_metrics
    for provider in (fast, slow):
        provider.shutdown()
    assert recorder._recorders  # both providers' recorders were cached (and are released with them)


def test_metrics_probe_reads_every_member() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=Resource({"service.name": "s"}))
    internals = compat.metrics_sdk_internals(provider)
    assert internals is not None
    assert internals.readers() == [reader]
    assert internals.active() is True
    assert internals.resource().attributes["service.name"] == "s"
    assert callable(internals.collect_callback(reader))
    provider.shutdown()
    assert internals.active() is False


# --- logs, configurator, Prometheus -----------------------------------------------------------


def test_log_records_carry_the_span_and_resource_without_warnings() -> None:
    exporter = InMemoryLogRecordExporter()
    resource = Resource({"service.name": "logs"})
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("t")
    tracer = TracerProvider().get_tracer("t")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 1.37's SDK warns about the API record's trace_id init
        with tracer.start_as_current_span("s") as span:
            logger.emit(new_log_record(logger, severity_number=SeverityNumber.WARN, body="b", attributes={"k": 1}))
    [record] = exporter.get_finished_logs()
    assert log_record_resource(record) is not None
    assert dict(log_record_resource(record).attributes)["service.name"] == "logs"
    log = record.log_record
    assert (log.body, log.severity_number, dict(log.attributes or {})) == ("b", SeverityNumber.WARN, {"k": 1})
    assert (log.trace_id, log.span_id) == (span.get_span_context().trace_id, span.get_span_context().span_id)


def test_configurator_fallback_keeps_the_entry_point_contract() -> None:
    calls: list[dict[str, Any]] = []

    class Configurator(compat._PublicBaseConfigurator):
        def _configure(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    first, second = Configurator(), Configurator()
    assert first is second  # one instance, as _BaseConfigurator
    first.configure(auto_instrumentation_version="x")
    assert calls == [{"auto_instrumentation_version": "x"}]
    assert callable(compat.BaseConfigurator.configure)


def test_prometheus_reader_serves_its_own_registry() -> None:
    pytest.importorskip("opentelemetry.exporter.prometheus")
    from prometheus_client import REGISTRY, generate_latest

    reader, registry = compat.prometheus_reader()
    assert registry is not REGISTRY
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    provider.get_meter("t").create_counter("compat.probe.count").add(3)
    text = generate_latest(registry).decode()
    [sample] = [line for line in text.splitlines() if line.startswith("compat_probe_count_total")]
    assert sample.endswith(" 3.0")
    provider.shutdown()


def test_logging_handler_class_is_an_otel_handler() -> None:
    cls = compat.logging_handler_class()
    assert cls is not None and issubclass(cls, logging.Handler) and cls.__name__ == "LoggingHandler"


def test_on_ending_is_forwarded_only_where_a_processor_has_it() -> None:
    seen: list[Any] = []

    class Ending:
        def _on_ending(self, span: Any) -> None:
            seen.append(span)

    compat.forward_on_ending(Ending(), "span")
    compat.forward_on_ending(object(), "span")  # a processor without the hook: nothing to forward
    assert seen == ["span"]
