"""Rollups written with the spans, and the read API over them (overview, timeseries, search)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from infertel import semconv
from infertel_exporters.sqlite import ROLLUP_QUERIES, Series, SQLiteSpanExporter, SQLiteStore, StoreError

S = 10**9
T0 = 490_278 * 3600 * S  # a multiple of 1 h (2025-12-06T07:00:00Z)
SCOPE = InstrumentationScope("infertel", "0.1.0")
SERVICES = {name: Resource({"service.name": name}) for name in ("api", "batch")}


def _span(i: int, start: int, duration_s: float, *, service: str = "api", model: str | None = "m1",
          error: str | None = None, ttft: float | None = None, parent: int | None = None,
          trace: int | None = None) -> ReadableSpan:  # fmt: skip
    attributes: dict = {semconv.GEN_AI_USAGE_INPUT_TOKENS: 10, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 20}
    if model is not None:
        attributes.update({semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: model})
    if error:
        attributes[semconv.ERROR_TYPE] = error
    if ttft is not None:
        attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttft
        attributes[semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN] = ttft / 10
    tid = trace if trace is not None else 0x1000 + i
    return ReadableSpan(
        name=f"chat {model}", context=SpanContext(tid, i + 1, False, TraceFlags(1)),
        parent=None if parent is None else SpanContext(tid, parent, False), resource=SERVICES[service],
        attributes=attributes, kind=SpanKind.CLIENT, instrumentation_scope=SCOPE,
        status=Status(StatusCode.ERROR) if error else Status(StatusCode.UNSET),
        start_time=start, end_time=start + int(duration_s * S),
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path):
    path = tmp_path / "t.db"
    exporter = SQLiteSpanExporter(path, retention=None)
    spans = [_span(i, T0 + i * S // 2, (i + 1) / 100, ttft=0.1) for i in range(100)]  # 50 s, durations .01-1 s
    spans += [_span(100 + i, T0 + 70 * S + i * S, 2.0, model="m2", service="batch",
                    error="TimeoutError" if i < 3 else None) for i in range(10)]  # fmt: skip
    spans.append(_span(200, T0 + 5 * S, 0.5, model=None))  # not GenAI: no rollup
    for i in range(0, len(spans), 37):  # several batches, so the upserts merge
        assert exporter.export(spans[i : i + 37]).name == "SUCCESS"
    exporter.shutdown()
    with SQLiteStore(path, read_only=True) as reader:
        yield reader


def test_overview_groups_counts_and_percentiles(store: SQLiteStore) -> None:
    rows = store.overview(T0, T0 + 100 * S)
    assert [(r.group, r.requests, r.errors) for r in rows] == [
        ({"service": "api", "model": "m1"}, 100, 0), ({"service": "batch", "model": "m2"}, 10, 3)]  # fmt: skip
    api, batch = rows
    assert (api.requests_per_s, api.error_rate, api.input_tokens_per_s, api.output_tokens_per_s) == (
        1.0, 0.0, 10.0, 20.0)  # fmt: skip
    # durations uniform on 0.01 .. 1 s: each percentile within one sqrt(2) bucket of the truth
    for name, truth in (("p50", 0.505), ("p95", 0.955), ("p99", 0.995)):
        assert truth / 2**0.5 <= api.latency_s[name] <= truth * 2**0.5, (name, api.latency_s)
    # every TTFT is 0.1 s, in the bucket (2^-4, 2^-3]; every TPOT 0.01 s, in (2^-7, 2^-6]
    assert 2**-4 <= api.ttft_s["p50"] <= 2**-3 and 2**-7 <= api.tpot_s["p95"] <= 2**-6
    assert batch.ttft_s == {"p50": None, "p95": None, "p99": None}
    assert batch.error_rate == 0.3 and batch.in_flight is None
    by_error = store.overview(T0, T0 + 100 * S, group_by=("error_type",), where={"service": "batch"})
    assert [(r.group, r.requests, r.errors) for r in by_error] == [
        ({"error_type": ""}, 7, 0), ({"error_type": "TimeoutError"}, 3, 3)]  # fmt: skip
    only_timeouts = store.overview(T0, T0 + 100 * S, group_by=("model",), where={"error_type": "TimeoutError"})
    assert [(r.group, r.requests, r.errors, r.latency_s["p50"] is not None) for r in only_timeouts] == [
        ({"model": "m2"}, 3, 3, True)]  # fmt: skip
    without_errors = store.overview(T0, T0 + 100 * S, group_by=("model",), where={"error_type": ""})
    assert [(r.group, r.requests, r.errors) for r in without_errors] == [({"model": "m1"}, 100, 0),
                                                                         ({"model": "m2"}, 7, 0)]  # fmt: skip
    assert store.label_values("error_type") == ["TimeoutError"]
    # the 2 s batch spans sit in the bucket (2^0.5, 2^1]: the error-free group's histogram is the
    # whole group's minus the failed spans', still 7 spans in that bucket
    assert 2**0.5 <= without_errors[1].latency_s["p50"] <= 2
    # a range on 1 h / 1 min / 10 s buckets at once gives the same totals
    assert [r.requests for r in store.overview(T0 - 3600 * S, T0 + 7200 * S + 10 * S, group_by=())] == [110]
    with pytest.raises(ValueError, match="group_by/where key must be one of service, model, operation, error_type"):
        store.overview(T0, T0 + S, group_by=("host",))


def test_timeseries_of_each_rollup_query(store: SQLiteStore) -> None:
    for query in ROLLUP_QUERIES:
        series = store.timeseries(query, T0, T0 + 120 * S, 60)
        assert all(len(s.points) == 2 for s in series), query
    assert store.timeseries("requests_per_s", T0, T0 + 120 * S, 60) == [
        Series({"model": "m1"}, [(T0, 100 / 60), (T0 + 60 * S, None)]),
        Series({"model": "m2"}, [(T0, None), (T0 + 60 * S, 10 / 60)]),
    ]
    assert store.timeseries("error_rate", T0, T0 + 120 * S, 45, group_by=("service",)) == [
        Series({"service": "api"}, [(T0, 0.0), (T0 + 50 * S, None), (T0 + 100 * S, None)]),  # 45 s: 5 x 10 s
        Series({"service": "batch"}, [(T0, None), (T0 + 50 * S, 0.3), (T0 + 100 * S, None)]),
    ]
    ten = store.timeseries("requests_per_s", T0, T0 + 30 * S, 10, where={"model": "m1"})
    assert ten == [Series({"model": "m1"}, [(T0, 2.0), (T0 + 10 * S, 2.0), (T0 + 20 * S, 2.0)])]
    with pytest.raises(ValueError, match="unknown query 'latency_p90'; accepted: requests_per_s, error_rate"):
        store.timeseries("latency_p90", T0, T0 + S, 10)
    with pytest.raises(ValueError, match="step_s must be a positive number"):
        store.timeseries("requests_per_s", T0, T0 + S, 0)


def test_search_traces_pages_newest_first_without_duplicates(store: SQLiteStore) -> None:
    seen, cursor = [], None
    while True:
        page = store.search_traces(limit=7, cursor=cursor)
        seen += [t.start_time_ns for t in page.traces]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 111 and seen == sorted(seen, reverse=True)
    errors = store.search_traces(status="error", limit=2)
    assert [t.root_name for t in errors.traces] == ["chat m2", "chat m2"] and errors.next_cursor is not None
    rest = store.search_traces(status="error", cursor=errors.next_cursor)
    assert len(rest.traces) == 1 and rest.next_cursor is None
    assert len(store.search_traces(status="ok", service="batch").traces) == 7
    slow = store.search_traces(min_duration_s=0.95, model="m1")
    assert [round(t.duration_s, 2) for t in slow.traces] == [1.0, 0.99, 0.98, 0.97, 0.96, 0.95]
    assert len(store.search_traces(attribute=(semconv.ERROR_TYPE, "TimeoutError")).traces) == 3
    assert store.search_traces(start_ns=T0 + 79 * S).traces[0].start_time_ns == T0 + 79 * S
    assert store.search_traces(service="nope").traces == []
    with pytest.raises(ValueError, match="cursor must be a next_cursor"):
        store.search_traces(cursor="garbage")
    with pytest.raises(ValueError, match="status must be 'ok', 'error' or None"):
        store.search_traces(status="failed")


def test_real_tracer_provider_feeds_the_rollups_and_a_child_span_finds_its_trace(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    exporter = SQLiteSpanExporter(path, retention=None)
    provider = TracerProvider(resource=SERVICES["api"])
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("infertel")
    start = time.time_ns()
    with tracer.start_as_current_span("POST /chat", kind=SpanKind.SERVER) as root:
        with tracer.start_as_current_span("chat m9", attributes={semconv.GEN_AI_OPERATION_NAME: "chat",
                                                                 semconv.GEN_AI_REQUEST_MODEL: "m9"}):  # fmt: skip
            pass
    provider.shutdown()
    with SQLiteStore(path, read_only=True) as reader:
        rows = reader.overview(start - 60 * S, time.time_ns() + S)
        assert [(r.group, r.requests, r.errors) for r in rows] == [({"service": "api", "model": "m9"}, 1, 0)]
        page = reader.search_traces(model="m9")
        assert [(t.trace_id, t.root_name, t.span_count, t.models) for t in page.traces] == [
            (f"{root.get_span_context().trace_id:032x}", "POST /chat", 2, ("m9",))]  # fmt: skip
        with pytest.raises(StoreError, match="opened read-only"):
            reader._transaction(lambda c: None)


def test_rollups_can_be_switched_off_for_measurement(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "off.db", rollups=False) as store:
        exporter = SQLiteSpanExporter(store.path, retention=None)
        exporter.store.rollups = False
        assert exporter.export([_span(1, T0, 0.1)]).name == "SUCCESS"
        assert exporter.store.overview(T0, T0 + 10 * S) == []
        assert exporter.store.counts()["spans"] == 1
        exporter.shutdown()


def test_packed_and_lane_by_lane_sums_agree(store: SQLiteStore) -> None:
    from infertel_exporters.sqlite import _span_rollups
    from infertel_exporters.sqlite._rollup_read import grouped

    for prefix in ("d", "f", "p"):
        results = []
        for packed in (True, False):
            sql, decode = _span_rollups.histogram_sums(prefix, packed=packed)
            results.append(store._read(lambda c, sql=sql, decode=decode: grouped(
                c, [(10, T0, T0 + 100 * S)], ("service", "error_type"), None, sql, decode, 10 * S)))  # fmt: skip
        assert results[0] == results[1] and len(results[0]) == 7, prefix  # 5 buckets of api, 1 of batch, 1 of errors
    with pytest.raises(OverflowError):
        _span_rollups.histogram_sums("d")[1]([2**31] + [0] * 17)
