"""``infertel capacity-plan`` over a real store filled with three days of GenAI spans."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from infertel_exporters.sqlite import SQLiteSpanExporter

DAYS = 3
STEP_S = 600  # one burst of spans every 10 minutes


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three days of requests with a daily cycle: 1 to 9 per 10 minutes, peak at 14:00 of the cycle.

    The layout is pinned to the CLI's grid of whole 5-minute buckets, not to the wall clock, so the test gives
    the same answer whenever it runs:
    - the cycle is laid out from the end of the history (12:00 of the cycle, two hours before the peak): the
      fitted trend, and so the planned peak, depends on where in the cycle the history ends (0.019-0.027
      requests/s over the hours of a day);
    - the history ends 10 minutes after the last 5-minute boundary before now. The CLI reads whole buckets up
      to its own now, so it sees one or two buckets less than the data hold, and never an empty one: the
      planned peak is 0.0230 requests/s, or 0.0236 when a boundary passes between the fixture and the CLI.
      With the data's end at the wall clock, where each span fell in its bucket moved with the second of the
      run, and the peak with it (0.020-0.025 and over).
    """
    path = tmp_path_factory.mktemp("plan") / "store.db"
    exporter = SQLiteSpanExporter(path, retention=None)
    provider = TracerProvider(resource=Resource.create({"service.name": "llm"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=512))
    tracer = provider.get_tracer("test")
    rng = random.Random(4)
    bucket_ns = 300 * 10**9  # the CLI's bucket
    now = time.time_ns() // bucket_ns * bucket_ns + 2 * bucket_ns
    start = now - DAYS * 86_400 * 10**9
    for i in range(DAYS * 86_400 // STEP_S):
        t = start + i * STEP_S * 10**9
        hour = ((t - now) / 1e9 % 86_400) / 3600 + 12  # the history ends at 12:00 of the cycle
        for _ in range(round(5 + 4 * math.cos(2 * math.pi * (hour - 14) / 24) + rng.uniform(-0.5, 0.5))):
            at = t + rng.randrange(STEP_S * 10**9)
            span = tracer.start_span("chat m", start_time=at, attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
                "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
            })  # fmt: skip
            span.end(end_time=at + 500_000_000)
    provider.shutdown()
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infertel._internal.cli", "capacity-plan", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_json_plan_from_the_store(store: Path) -> None:
    done = _cli("--store", str(store), "--capacity-rps", "0.004", "--horizon", "30d", "--growth", "1,2",
                "--price-per-gpu-hour", "2", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert set(plan) == {"horizon_days", "capacity_rps_per_replica", "coverage", "history_days", "scenarios"}
    assert (plan["horizon_days"], plan["capacity_rps_per_replica"], plan["coverage"]) == (30.0, 0.004, 0.9)
    assert 2.5 <= plan["history_days"] <= 3.01
    one, two = plan["scenarios"]
    keys = {"growth", "peak_rps", "peak_upper_rps", "replicas", "gpus", "gpu_hours", "cost", "breach_probability",
            "risk", "reason"}  # fmt: skip
    assert set(one) == keys and set(two) == keys
    assert 0.02 <= one["peak_rps"] <= 0.025  # 0.0230 or 0.0236 (fixture): 9.5 requests / 600 s = 0.016 req/s + trend
    assert two["peak_rps"] == pytest.approx(2 * one["peak_rps"], rel=0.1)
    assert one["replicas"] == math.ceil(one["peak_upper_rps"] / 0.004)
    assert two["replicas"] > one["replicas"] and two["gpu_hours"] > one["gpu_hours"]
    assert one["cost"] == pytest.approx(2 * one["gpu_hours"])
    assert one["risk"] in {"low", "medium", "high"} and 0 < one["breach_probability"] <= 0.5


def test_text_table(store: Path) -> None:
    done = _cli("--store", str(store), "--capacity-rps", "0.004", "--growth", "1,1.5")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Capacity plan over 30 days from ")
    assert lines[1].split() == ["growth", "peak", "req/s", "upper", "replicas", "GPUs", "GPU-hours", "cost",
                                "P(breach)", "risk"]  # fmt: skip
    assert lines[2].split()[0] == "x1" and lines[3].split()[0] == "x1.5"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--capacity-rps", "0"), "expected a positive number"),
        (("--capacity-rps", "1", "--growth", "1,x"), "expected comma-separated positive multiples"),
        (("--capacity-rps", "1", "--history", "1d"), "need at least 2 days of request history"),
    ],
)
def test_errors_are_one_line_and_exit_2(store: Path, args: tuple[str, ...], message: str) -> None:
    done = _cli("--store", str(store), *args)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) <= 2


def test_history_counts_whole_buckets_only(tmp_path: Path) -> None:
    # Two requests in each of three 5-minute buckets; read up to 3 s into a fourth bucket (one request in it):
    # the bucket still filling must not read as a quiet (or nearly quiet) 5 minutes.
    from infertel._internal.commands.capacity_plan import _history
    from infertel_exporters.sqlite import SQLiteStore

    step = 300 * 10**9
    first = (time.time_ns() // step - 10) * step
    exporter = SQLiteSpanExporter(tmp_path / "h.db", retention=None)
    provider = TracerProvider(resource=Resource.create({"service.name": "llm"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    for at in [first + b * step + k * 60 * 10**9 for b in range(3) for k in (1, 2)] + [first + 3 * step + 10**9]:
        span = tracer.start_span("chat m", start_time=at, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
        })  # fmt: skip
        span.end(end_time=at + 10**8)
    provider.shutdown()
    with SQLiteStore(tmp_path / "h.db", read_only=True) as store:
        values, tokens = _history(store, first - step + 10**9, first + 3 * step + 3 * 10**9)
    assert [round(v, 6) for v in values] == [2.0, 2.0, 2.0]
    assert tokens == pytest.approx(120.0)
