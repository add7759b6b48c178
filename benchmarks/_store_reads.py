"""Read speed of the store's API on a 24 h store (the part of ``benchmarks/store.py`` behind ``--reads``).

Every call on a warm read-only connection (as the dashboard holds one), p50 / p95 over ``rounds``
runs, against the budgets: the store's own targets (overview 24 h < 50 ms, every API-level query
< 5 ms) inside the dashboard's (overview 24 h page < 200 ms p95, 1 h < 100 ms, each API call
< 10 ms p95, trace page of 200 spans < 30 ms).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infertel_exporters.sqlite import SQLiteStore

_S = 1_000_000_000


def _timed(fn: Callable[[], Any], rounds: int) -> tuple[float, float, Any]:
    fn()  # warm the page cache and the statement cache
    samples = []
    result = None
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples) * 1000, p95 * 1000, result


def _budget(name: str) -> float:
    """The dashboard's p95 budget (issue 13) for a call, in ms.

    Overview pages 100 ms (1 h) / 200 ms (24 h), a trace page 30 ms, every other API call 10 ms.
    """
    if name.startswith("overview"):
        return 100 if " 1 h" in name else 200
    return 30 if name.startswith("trace of") else 10


def run(path: Path, big_trace_id: int, rounds: int = 30) -> list[tuple[str, float, float, float, bool]]:
    """Time each read; returns ``(name, p50 ms, p95 ms, target ms, met)`` and prints the table."""
    store = SQLiteStore(path, read_only=True)
    newest = store.search_traces(limit=1).traces[0].start_time_ns
    end = newest + 10 * _S
    hour, day = end - 3600 * _S, end - 24 * 3600 * _S
    first = store.search_traces(limit=50)
    errors_first = store.search_logs(min_severity=17, limit=50)
    cases: list[tuple[str, Callable[[], Any], float]] = [
        ("overview 1 h (service x model)", lambda: store.overview(hour, end), 25),
        ("overview 24 h (service x model)", lambda: store.overview(day, end), 50),
        ("overview 24 h by error type", lambda: store.overview(day, end, group_by=("model", "error_type")), 50),
        ("timeseries requests/s 1 h, 1 min steps", lambda: store.timeseries("requests_per_s", hour, end, 60), 5),
        ("timeseries latency p95 1 h, 1 min steps", lambda: store.timeseries("latency_p95", hour, end, 60), 5),
        ("timeseries latency p95 24 h, 10 min steps", lambda: store.timeseries("latency_p95", day, end, 600), 5),
        ("timeseries ttft p95 24 h, 1 h steps", lambda: store.timeseries("ttft_p95", day, end, 3600), 5),
        ("timeseries metric rate 1 h by service",
         lambda: store.timeseries("metric:infertel.requests", hour, end, 60, group_by=("service",)), 5),
        ("timeseries in_flight 1 h", lambda: store.timeseries("in_flight", hour, end, 60), 5),
        ("search_traces first page (50)", lambda: store.search_traces(limit=50), 5),
        ("search_traces next page", lambda: store.search_traces(limit=50, cursor=first.next_cursor), 5),
        ("search_traces model=model-3", lambda: store.search_traces(model="model-3", limit=50), 5),
        ("search_traces status=error", lambda: store.search_traces(status="error", limit=50), 5),
        ("search_traces service + min duration",
         lambda: store.search_traces(service="svc-1", min_duration_s=5.0, limit=50), 5),
        ("trace of 200 spans", lambda: store.trace(big_trace_id), 5),
        ("search_logs first page (100)", lambda: store.search_logs(), 5),
        ("search_logs errors, next page", lambda: store.search_logs(min_severity=17, cursor=errors_first.next_cursor,
                                                                   limit=50), 5),  # fmt: skip
        ("search_logs text", lambda: store.search_logs(text="model-7 request failed", limit=20), 5),
        ("label_values model", lambda: store.label_values("model"), 5),
    ]  # fmt: skip
    counts = store.counts()
    print(f"\nreads on {path.name}: {counts['spans']:,} spans, {counts['logs']:,} logs, "
          f"{counts['metric_points']:,} points; warm read-only connection, {rounds} rounds")  # fmt: skip
    print(f"  {'query':<44} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}  verdict            {'budget':>6}  p95 within")
    out = []
    for name, fn, target in cases:
        p50, p95, result = _timed(fn, rounds)
        met = p95 <= target
        budget = _budget(name)
        size = len(result.traces if hasattr(result, "traces") else result.logs if hasattr(result, "logs") else result)
        out.append((name, p50, p95, target, met))
        verdict = f"{'MET' if met else 'NOT MET'} ({size} items)"
        print(f"  {name:<44} {p50:>8.2f} {p95:>8.2f} {target:>7.0f}   {verdict:<18} {budget:>6.0f}  "
              f"{'PASS' if p95 <= budget else 'FAIL'}")  # fmt: skip
    store.close()
    return out
