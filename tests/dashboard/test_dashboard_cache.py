"""The chart cache against a real store: same answers as the store, closed buckets reused until the TTL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402

from infertel.dashboard._cache import CachedSeries, SeriesCache  # noqa: E402
from infertel_exporters.sqlite import SQLiteSpanExporter, SQLiteStore  # noqa: E402

MINUTE = 60 * 10**9


def write(path: Path, starts: list[int], model: str = "m") -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(SQLiteSpanExporter(path)))
    tracer = provider.get_tracer("cache-test")
    for start in starts:
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model}
        span = tracer.start_span(f"chat {model}", attributes=attributes, start_time=start)
        span.end(end_time=start + 10**9)
    provider.shutdown()


def direct(store: SQLiteStore, start: int, end: int) -> list[CachedSeries]:
    found = store.timeseries("requests_per_s", start, end, 60, group_by=("model",), where={})
    return [CachedSeries(dict(s.labels), list(s.points)) for s in found]


def test_cache_answers_like_the_store_and_reuses_closed_buckets_until_the_ttl(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    base = (time.time_ns() // MINUTE - 40) * MINUTE  # 40 minutes ago, on a minute
    write(path, [base + i * MINUTE + 5 * 10**9 for i in range(20)])
    store = SQLiteStore(path, read_only=True)
    now = [base + 25 * MINUTE + 30 * 10**9]
    cache = SeriesCache(margin_s=120, ttl_s=600, clock=lambda: now[0])

    def cached(start: int, end: int) -> list[CachedSeries]:
        return cache.timeseries(store, "requests_per_s", start, end, 60, ("model",), {})

    start = base - 5 * MINUTE
    assert cached(start, now[0]) == direct(store, start, now[0])  # the first call is the store's answer
    # New data: one span in a bucket the cache holds as closed (base + 2 min), one in the open tail.
    write(path, [base + 2 * MINUTE + 20 * 10**9, base + 24 * MINUTE + 40 * 10**9])
    now[0] += 30 * 10**9
    start += 30 * 10**9
    fresh = direct(store, start, now[0])
    got = cached(start, now[0])
    (fresh_points,), (got_points,) = [s.points for s in fresh], [s.points for s in got]
    assert [s.labels for s in got] == [{"model": "m"}]
    stale = base + 2 * MINUTE
    assert [(t, v) for t, v in got_points if t != stale] == [(t, v) for t, v in fresh_points if t != stale]
    assert (dict(got_points)[stale], dict(fresh_points)[stale]) == (pytest.approx(1 / 60), pytest.approx(2 / 60))
    assert dict(got_points)[base + 24 * MINUTE] == pytest.approx(1 / 60)  # the tail is always read
    now[0] += 600 * 10**9  # past the TTL: refetched whole
    start += 600 * 10**9
    assert cached(start, now[0]) == direct(store, start, now[0])
    store.close()


def test_the_stores_rounded_step_is_the_cached_one(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    base = (time.time_ns() // MINUTE - 10) * MINUTE
    write(path, [base + 5 * 10**9])
    store = SQLiteStore(path, read_only=True)
    cache = SeriesCache(clock=lambda: base + 10 * MINUTE)
    # 90 s is rounded up by the store to a multiple of its rollup width: that width is what is kept.
    expected = store.timeseries("requests_per_s", base - MINUTE, base + 10 * MINUTE, 90, group_by=("model",))
    got = cache.timeseries(store, "requests_per_s", base - MINUTE, base + 10 * MINUTE, 90, ("model",), {})
    assert got == [CachedSeries(dict(s.labels), list(s.points)) for s in expected]
    (entry,) = cache._entries.values()
    assert entry.step_ns == expected[0].points[1][0] - expected[0].points[0][0] > 90 * 10**9
    again = cache.timeseries(store, "requests_per_s", base - MINUTE, base + 10 * MINUTE, 90, ("model",), {})
    assert again == got
    store.close()
