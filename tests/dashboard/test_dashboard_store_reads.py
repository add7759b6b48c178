"""The store reads behind the dashboard's JSON API: search pages, the overview's sums and their reuse.

Each answer is checked against a reference computed here from the spans written (search) or from
the store's lane-by-lane sums (overview), on a real store written through ``SQLiteSpanExporter``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from infertel import semconv
from infertel_exporters.sqlite import SQLiteSpanExporter, SQLiteStore, _analytics, _rollup_read, _search, _totals
from infertel_exporters.sqlite import _span_rollups as sr

S = 10**9
H = 3600 * S
SCOPE = InstrumentationScope("infertel", "0.1.0")
RESOURCES = {name: Resource({"service.name": name}) for name in ("api", "batch")}
MODELS = ("m1", "m2", "m3")


def _span(n: int, start: int, *, model: str = "m1", service: str = "api", error: bool = False) -> ReadableSpan:
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: model,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 10 + n % 7, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 3 + n % 5,
        semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: 0.01 * (1 + n % 9),
    }  # fmt: skip
    if error:
        attributes[semconv.ERROR_TYPE] = "TimeoutError"
    return ReadableSpan(
        name=f"chat {model}", context=SpanContext(0x5000 + n, n + 1, False, TraceFlags(1)), parent=None,
        resource=RESOURCES[service], attributes=attributes, kind=SpanKind.CLIENT, instrumentation_scope=SCOPE,
        status=Status(StatusCode.ERROR) if error else Status(StatusCode.UNSET),
        start_time=start, end_time=start + (n % 13 + 1) * S // 20,
    )  # fmt: skip


def _write(path: Path, spans: list[ReadableSpan]) -> None:
    exporter = SQLiteSpanExporter(path, retention=None)
    try:
        for i in range(0, len(spans), 50):
            assert exporter.export(spans[i : i + 50]).name == "SUCCESS"
    finally:
        exporter.shutdown()


@pytest.fixture
def searched(tmp_path: Path) -> Iterator[tuple[SQLiteStore, list[ReadableSpan]]]:
    """300 spans, several sharing a start time, some after the range's end (data written ahead of a reader's now)."""
    path = tmp_path / "search.db"
    base = (time.time_ns() // H - 3) * H
    spans = [
        _span(n, base + (n // 3) * 7 * S, model=MODELS[n % 3], service="api" if n % 4 else "batch", error=n % 5 == 0)
        for n in range(300)
    ]
    _write(path, spans)
    with SQLiteStore(path, read_only=True) as store:
        yield store, spans


def _expected(spans: list[ReadableSpan], lo: int, hi: int, *, model: str | None = None,
              error: bool | None = None) -> list[str]:  # fmt: skip
    """Trace ids newest first (start, then insertion order: the row id), from the spans as written."""
    kept = [
        (s.start_time, n, f"{s.context.trace_id:032x}")
        for n, s in enumerate(spans)
        if lo <= s.start_time < hi
        and (model is None or s.attributes[semconv.GEN_AI_REQUEST_MODEL] == model)
        and (error is None or (s.status.status_code is StatusCode.ERROR) == error)
    ]
    return [tid for _, _, tid in sorted(kept, reverse=True)]


def _pages(store: SQLiteStore, **filters: Any) -> list[str]:
    found: list[str] = []
    cursor = None
    for _ in range(100):
        page = store.search_traces(limit=7, cursor=cursor, **filters)
        found += [t.trace_id for t in page.traces]
        cursor = page.next_cursor
        if cursor is None:
            return found
    raise AssertionError("more than 100 pages")


@pytest.mark.parametrize("filters", [{}, {"model": "m2"}, {"status": "error"}, {"status": "ok"}])
def test_search_traces_pages_match_the_spans_written(searched: Any, filters: dict[str, str]) -> None:
    store, spans = searched
    lo, hi = spans[30].start_time, spans[250].start_time  # spans after `hi` exist: they must not count
    error = {"error": True, "ok": False}.get(filters.get("status", ""))
    expected = _expected(spans, lo, hi, model=filters.get("model"), error=error)
    assert len(expected) > 20
    assert _pages(store, start_ns=lo, end_ns=hi, **filters) == expected


def test_search_reads_an_index_range_without_sorting(searched: Any) -> None:
    """Every statement of a search is a range of the time index read in order (no scan above it, no sort)."""
    store, spans = searched
    statements: list[str] = []
    with contextlib.closing(sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)) as conn:
        conn.set_trace_callback(statements.append)
        page = _search.search_traces(
            conn, start_ns=spans[30].start_time, end_ns=spans[250].start_time, service=None, model="m2",
            status=None, min_duration_s=None, attribute=None, limit=20, cursor=None,
        )  # fmt: skip
        _search.search_logs(conn, start_ns=0, end_ns=spans[250].start_time, min_severity=None, service=None,
                            text=None, trace_id=None, limit=20, cursor=None)  # fmt: skip
        conn.set_trace_callback(None)
        walks = [sql for sql in statements if "ORDER BY" in sql and "DESC" in sql]
        assert len(page.traces) == 20 and len(walks) >= 3
        for sql in walks:
            plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
            assert "TEMP B-TREE" not in plan, (sql, plan)
            assert "spans_start (start_ns>? AND start_ns<?)" in plan or "logs_time (time_ns>? AND time_ns<?)" in plan, (
                sql,
                plan,
            )


def test_attribute_filter_finds_implied_model_and_operation(searched: Any) -> None:
    """``gen_ai.request.model`` / ``gen_ai.operation.name`` are stored in their columns, not in the values."""
    store, spans = searched
    lo, hi = spans[0].start_time, spans[-1].start_time + 1
    by_model = _pages(store, start_ns=lo, end_ns=hi, attribute=(semconv.GEN_AI_REQUEST_MODEL, "m3"))
    assert by_model == _expected(spans, lo, hi, model="m3")
    by_operation = _pages(store, start_ns=lo, end_ns=hi, attribute=(semconv.GEN_AI_OPERATION_NAME, "chat"))
    assert by_operation == _expected(spans, lo, hi)
    assert _pages(store, start_ns=lo, end_ns=hi, attribute=(semconv.GEN_AI_REQUEST_MODEL, "m9")) == []


def _reference(conn: sqlite3.Connection, start: int, end: int, group_by: tuple[str, ...],
               where: dict[str, str] | None) -> dict[tuple[str, ...], list[Any]]:  # fmt: skip
    """The sums lane by lane, per piece (the store's general path), for comparison."""
    sums = _rollup_read.grouped(conn, _analytics.cover(start, end), group_by, where, sr.SUMS_SQL, sr.unpack)
    out: dict[tuple[str, ...], list[Any]] = {}
    for (key, _bucket), values in sums.items():
        out[key] = values
    return out


def test_overview_sums_match_and_reuse_follows_late_data(tmp_path: Path) -> None:
    path = tmp_path / "overview.db"
    now = time.time_ns()
    base = (now // H - 5) * H
    spans = [
        _span(n, base + n * 97 * S, model=MODELS[n % 3], service="api" if n % 4 else "batch", error=n % 6 == 0)
        for n in range(180)  # 4.85 h, then one span now: the 10 min and 1 h buckets before it close
    ]
    _write(path, [*spans, _span(999, now - S)])
    reuse = _totals.ClosedPieces()
    with (
        SQLiteStore(path, read_only=True) as store,
        contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn,
    ):
        cases = [(("service", "model"), None), (("model",), {"service": "api"}), ((), None),
                 (("model", "error_type"), None), (("operation",), {"model": "m2"})]  # fmt: skip
        for group_by, where in cases:
            found = _totals.totals(conn, _analytics.cover(base, now), group_by, where, reuse=reuse)
            assert found == _reference(conn, base, now, group_by, where)
        first = reuse.stats()
        assert first["hits"] == 0 and first["misses"] >= 4  # a 1 h and a 10 min piece per case without error_type
        again = _totals.totals(conn, _analytics.cover(base, now), ("service", "model"), None, reuse=reuse)
        assert reuse.stats()["hits"] >= 1
        # a late span in a closed hour (a long request exported late): the next answer counts it
        _write(path, [_span(1000, base + H + 20 * 60 * S, model="m2", service="batch")])
        late = _totals.totals(conn, _analytics.cover(base, now), ("service", "model"), None, reuse=reuse)
        assert late == _reference(conn, base, now, ("service", "model"), None)
        assert late[("batch", "m2")][0] == again[("batch", "m2")][0] + 1
        expected = {m: sum(1 for s in spans if s.attributes[semconv.GEN_AI_REQUEST_MODEL] == m) for m in MODELS}
        expected["m1"] += 1  # the span written now
        expected["m2"] += 1  # the late one
        rows = store.overview(base, now, group_by=("model",))
        assert {r.group["model"]: r.requests for r in rows} == expected


def test_overview_near_2_to_the_31_spans_sums_lane_by_lane(tmp_path: Path) -> None:
    """A group whose packed lane sums could reach 2**31 is summed lane by lane: exact counts."""
    path = tmp_path / "big.db"
    now = time.time_ns()
    base = (now // H - 4) * H
    _write(path, [_span(1, base + 60 * S), _span(2, now - S)])
    big = 2**31 - 1
    values = [0] * len(sr.VALUE_COLUMNS)
    values[0] = values[sr.VALUE_COLUMNS.index("d0")] = big  # count, and every span in the first duration bucket
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        for hour in (1, 2):
            conn.execute(
                f"INSERT INTO span_rollups (step, bucket_ns, service, model, operation, {', '.join(sr.STORED_COLUMNS)})"
                f" VALUES (3600, ?, 'api', 'm1', 'chat', {', '.join('?' * len(sr.STORED_COLUMNS))})",
                (base + hour * H, *sr.pack(values)),
            )
    with SQLiteStore(path, read_only=True) as store:
        (row,) = store.overview(base, now, group_by=("model",))
    assert row.requests == 2 * big + 2  # and the two spans written
