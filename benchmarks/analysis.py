"""Speed of ``infertel.analysis`` on a realistic store, and the cost of a running profile.

* ``analyze()`` over windows of a store filled by ``benchmarks/_fill_store.fill`` (real exporters,
  ``--rate`` requests/s over ``--hours``): 10 min (every request read), 1 h (sampled down to the
  20,000-request bound) with the previous-hour baseline; median of ``--repeat`` runs. Baseline for
  the ratio: reading the same window's spans alone (``store.spans``), the least any per-request
  analysis must do.
* A CPU-bound thread's throughput with no profile, during a CPU profile (200 Hz sampling of all
  threads) and during a heap snapshot (tracemalloc, 1 frame, the default), interleaved rounds, median ratio.
  Off (the default) there is nothing to measure: no thread, no hook (tests/profiling asserts it).

Run: ``.venv/bin/python benchmarks/analysis.py`` (about a minute; ``--hours 1 --rate 10`` for less).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._fill_store import fill  # noqa: E402
from infertel.analysis import analyze  # noqa: E402
from infertel_exporters.sqlite import SQLiteStore  # noqa: E402

S = 10**9


def _timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_analysis(hours: float, rate: float, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.db"
        t0 = time.perf_counter()
        fill(path, hours=hours, rate=rate, models=10, services=3, seed=0)
        print(f"store: {hours:g} h at {rate:g} req/s filled in {time.perf_counter() - t0:.1f} s")
        with SQLiteStore(path, read_only=True) as store:
            newest = store.search_traces(limit=1).traces[0].start_time_ns
            end = newest // (60 * S) * 60 * S
            for label, seconds, baseline in (("10 min", 600, "previous-window"), ("1 h", 3600, "previous-hour")):
                start = end - seconds * S
                if start < end - int(hours * 3600) * S:
                    continue
                report = analyze(store, start_ns=start, end_ns=end, baseline=baseline)
                took = _timed(lambda s=start, b=baseline: analyze(store, start_ns=s, end_ns=end, baseline=b), repeat)
                limit = min(report.requests_total, 20_000) * 4
                read = _timed(lambda s=start, n=limit: store.spans(s, end, limit=n), repeat)
                print(f"analyze {label:<7} {report.requests_read:>6} of {report.requests_total:>6} requests read,"
                      f" baseline {baseline}: {took * 1000:8.0f} ms   (reading the window's spans alone:"
                      f" {read * 1000:.0f} ms, ratio {took / read:.2f}x)")  # fmt: skip


def _work(stop: threading.Event, counter: list[int]) -> None:
    n = 0
    while not stop.is_set():
        sum(i * i for i in range(200))
        n += 1
    counter[0] = n


def _throughput(seconds: float, mode: str) -> float:
    import infertel.profiling

    stop, counter = threading.Event(), [0]
    worker = threading.Thread(target=_work, args=(stop, counter))
    job = None
    if mode == "cpu":
        job = infertel.profiling.start_cpu(seconds + 1, directory=None)
    elif mode == "heap":
        job = infertel.profiling.start_heap(seconds + 1, directory=None)
    worker.start()
    time.sleep(seconds)
    stop.set()
    worker.join()
    if job is not None:
        job.stop()
        job.wait(30)
    return counter[0] / seconds


def bench_profiler(rounds: int, seconds: float) -> None:
    results: dict[str, list[float]] = {"off": [], "cpu": [], "heap": []}
    for _ in range(rounds):
        for mode in results:
            results[mode].append(_throughput(seconds, mode))
    base = statistics.median(results["off"])
    print(f"CPU-bound thread, {rounds} interleaved rounds of {seconds:g} s: no profile {base:,.0f} units/s")
    for mode, label in (("cpu", "during a CPU profile (200 Hz)"), ("heap", "during a heap snapshot")):
        ratios = [on / off for on, off in zip(results[mode], results["off"], strict=True)]
        rate = statistics.median(results[mode])
        print(f"  {label:<32} {rate:>10,.0f} units/s   ratio {statistics.median(ratios):.3f}"
              f" (min {min(ratios):.3f}, max {max(ratios):.3f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    bench_analysis(args.hours, args.rate, args.repeat)
    bench_profiler(args.rounds, args.seconds)


if __name__ == "__main__":
    main()
