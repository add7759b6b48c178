"""Stores written by previous releases (``data/store-v1.db``: schema 1, ``store-v2.db``: 2, ``store-v3.db``: 3).

``store-v2.db`` and ``store-v3.db`` are ``data/make_store_v1.py`` run with the schema-2 code (commit fefa75e) and
the schema-3 code (commit 5497d87): the same data.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from infertel_exporters.sqlite import (
    SCHEMA_VERSION,
    OverviewRow,
    Series,
    SQLiteStore,
    StoredEvent,
    StoredLog,
    StoredSpan,
    StoreError,
    TracePage,
    TraceSummary,
)

DATA = Path(__file__).parent / "data" / "store-v1.db"
T0 = 1_764_000_000 * 10**9
S = 10**9
API = {"service.name": "chat-api", "process.pid": 101}
API2 = {"service.name": "chat-api", "process.pid": 102}
BATCH = {"service.name": "batch", "process.pid": 201}


@pytest.fixture(params=["store-v1.db", "store-v2.db", "store-v3.db", "store-v4.db"])
def v1(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    path = tmp_path / "store.db"
    shutil.copyfile(DATA.parent / request.param, path)  # never touch the committed file
    return str(path)


def _version(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def test_read_only_refuses_an_unmigrated_store(v1: str) -> None:
    version = _version(v1)
    assert version in (1, 2, 3, 4)
    with pytest.raises(StoreError, match="run any writer once to migrate"):
        SQLiteStore(v1, read_only=True).trace("a1")
    assert _version(v1) == version  # untouched


def test_v1_store_migrates_and_reads_back_everything(v1: str) -> None:
    with SQLiteStore(v1) as store:
        assert store.counts() == {"spans": 5, "metric_points": 15, "logs": 2, "resources": 3}
    assert _version(v1) == SCHEMA_VERSION == 5
    conn = sqlite3.connect(v1)
    try:  # version 5: metric points marked, the schema-4 rollups kept for the time before the first raw point's hour
        marks = conn.execute("SELECT time_ns - ?, mark FROM metric_points WHERE mark > 0 ORDER BY id", (T0,)).fetchall()
        index = [row[2] for row in conn.execute("PRAGMA index_info(metric_points_name_mark)")]
        switch = conn.execute("SELECT done_ns FROM rollup_marks WHERE kind = 'metric-v4' AND step = 0").fetchone()
    finally:
        conn.close()
    assert index == ["name", "mark", "time_ns"]
    assert switch == (T0 + 3600 * S,)
    # every series' first point starts it (7: opens every bucket, its own value is its increase); process 102's
    # counter restarts at 30 s (a new start time: 4)
    assert marks == [(10 * S, 7)] * 5 + [(30 * S, 4)]
    with SQLiteStore(v1, read_only=True) as store:
        assert store.trace("a1") == [
            StoredSpan(
                trace_id="000000000000000000000000000000a1", span_id="0000000000000011", parent_span_id=None,
                name="POST /v1/chat", kind="SERVER", start_time_ns=T0 + S, end_time_ns=T0 + int(1.9 * S),
                status_code="UNSET", status_message=None, attributes={"http.route": "/v1/chat"}, events=[], links=[],
                resource=API, scope_name="infertel", scope_version="0.1.0", model=None, operation=None,
            ),
            StoredSpan(
                trace_id="000000000000000000000000000000a1", span_id="0000000000000012",
                parent_span_id="0000000000000011", name="chat llama-3-8b", kind="INTERNAL",
                start_time_ns=T0 + int(1.1 * S), end_time_ns=T0 + int(1.8 * S), status_code="UNSET",
                status_message=None,
                attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.request.model": "llama-3-8b",
                    "gen_ai.response.model": "llama-3-8b", "gen_ai.provider.name": "vllm",
                    "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 40, "gen_ai.request.stream": True,
                    "gen_ai.response.time_to_first_chunk": 0.05, "infertel.time_per_output_token": 0.01,
                },
                events=[StoredEvent("gen_ai.first_token", T0 + int(1.15 * S), {"n": 1})], links=[], resource=API,
                scope_name="infertel", scope_version="0.1.0", model="llama-3-8b", operation="chat",
            ),
        ]  # fmt: skip
        failed = store.trace(0xA2)[0]
        assert (failed.status_code, failed.status_message, failed.attributes["error.type"], failed.resource) == (
            "ERROR", "engine timed out", "TimeoutError", API2)  # fmt: skip
        assert store.trace_logs("a1") == [
            StoredLog(time_ns=T0 + int(1.5 * S), observed_time_ns=T0 + int(1.5 * S), severity_number=9,
                      severity_text="INFO", body="first token sent", attributes={"k": "v"}, event_name=None,
                      trace_id="000000000000000000000000000000a1", span_id="0000000000000012", trace_flags=1,
                      resource=API, service="chat-api"),
        ]  # fmt: skip
        logs = store.search_logs(min_severity=17)
        assert [(log.body, log.trace_id, log.service) for log in logs.logs] == [
            ({"error": "timeout"}, None, "chat-api")
        ]
        assert logs.next_cursor is None
        counter = store.metric_series("gen_ai.requests")
        assert [(p.value, p.resource["process.pid"]) for p in counter] == [(3, 101), (4, 102), (7, 101), (6, 102),
                                                                            (12, 101), (2, 102)]  # fmt: skip

        # rollups rebuilt from the migrated raw rows
        rows = store.overview(T0, T0 + 120 * S)
        assert [(r.group, r.requests, r.errors, r.in_flight) for r in rows] == [
            ({"service": "chat-api", "model": "llama-3-8b"}, 2, 1, 4.0),  # in flight at the end: 1 + 3
            ({"service": "batch", "model": "mistral-7b"}, 1, 0, None),
        ]
        chat = rows[0]
        assert isinstance(chat, OverviewRow)
        assert (chat.requests_per_s, chat.error_rate) == (2 / 120, 0.5)
        assert (chat.input_tokens_per_s, chat.output_tokens_per_s) == (150 / 120, 40 / 120)
        # one TTFT sample of 0.05 s in the (2^-5, 2^-4] bucket: percentiles interpolate inside it
        low, high = 2**-5, 2**-4
        assert chat.ttft_s == pytest.approx({"p50": low + (high - low) * 0.5, "p95": low + (high - low) * 0.95,
                                             "p99": low + (high - low) * 0.99})  # fmt: skip
        assert rows[1].ttft_s == {"p50": None, "p95": None, "p99": None}

        ten = [T0 + i * 10 * S for i in range(6)]
        # cumulative counter of two processes of one service: deltas, a reset (new start time) in process 102
        assert store.timeseries("metric:gen_ai.requests", T0, T0 + 60 * S, 10, group_by=("service",)) == [
            Series({"service": "chat-api"}, list(zip(ten, [None, 0.7, 0.6, 0.7, None, None], strict=True))),
        ]
        # histogram bucket deltas -> p95 (interpolated, like histogram_quantile)
        p95 = store.timeseries("metric:gen_ai.server.request.duration", T0, T0 + 60 * S, 10, group_by=())
        assert p95 == [Series({}, list(zip(ten, [None, pytest.approx(4.4), pytest.approx(0.9), 5.0, None, None],
                                            strict=True)))]  # fmt: skip
        assert store.timeseries("in_flight", T0, T0 + 60 * S, 10, group_by=("model",)) == [
            Series({"model": "llama-3-8b"}, list(zip(ten, [None, 3.0, 6.0, 4.0, None, None], strict=True))),
        ]
        # gauge statistics per bucket over the two processes: (2, 1), (5, 1), (1, 3)
        stats = {}
        for stat in ("avg", "min", "max", "sum", "last"):
            (series,) = store.timeseries(f"metric:infertel.gen_ai.in_flight:{stat}", T0 + 10 * S, T0 + 40 * S, 10,
                                         group_by=())  # fmt: skip
            stats[stat] = [v for _, v in series.points]
        assert stats == {"avg": [1.5, 3.0, 2.0], "min": [1, 1, 1], "max": [2, 5, 3], "sum": [3.0, 6.0, 4.0],
                         "last": [3.0, 6.0, 4.0]}  # fmt: skip
        (minute,) = store.timeseries("metric:infertel.gen_ai.in_flight:max", T0, T0 + 60 * S, 60, group_by=())
        assert minute.points == [(T0, 5)]
        with pytest.raises(ValueError, match="stat 'rate' does not apply to gauge metric"):
            store.timeseries("metric:infertel.gen_ai.in_flight:rate", T0, T0 + 60 * S, 60)
        with pytest.raises(ValueError, match="bad metric query 'metric:x:p42'"):
            store.timeseries("metric:x:p42", T0, T0 + 60 * S, 60)
        page = store.search_traces(limit=3)
        assert [t.trace_id[-2:] for t in page.traces] == ["a4", "a3", "a2"]
        assert page.traces[0] == TraceSummary(
            trace_id="000000000000000000000000000000a4", root_name="cleanup", start_time_ns=T0 + 65 * S,
            end_time_ns=T0 + int(65.5 * S), span_count=1, error_count=0, models=(), service_name="batch",
            service="batch", root_span_id="0000000000000041", status="ok",
        )  # fmt: skip
        assert store.search_traces(limit=3, cursor=page.next_cursor) == TracePage(
            [TraceSummary(trace_id="000000000000000000000000000000a1", root_name="POST /v1/chat",
                          start_time_ns=T0 + S, end_time_ns=T0 + int(1.9 * S), span_count=2, error_count=0,
                          models=("llama-3-8b",), service_name="chat-api", service="chat-api",
                          root_span_id="0000000000000011", status="ok")],
            None,
        )  # fmt: skip
        assert store.label_values("model") == ["llama-3-8b", "mistral-7b"]
        assert store.label_values("service") == ["batch", "chat-api"]
        assert store.label_values("operation") == ["chat", "text_completion"]
