"""A real Prometheus server scrapes ``configure(prometheus_port=...)`` and computes our p99.

Debian's ``prometheus`` binary (``scripts/install-peers.sh`` installs it; ``INFERTEL_TEST_PROMETHEUS``
overrides the path) runs on 127.0.0.1 with a generated configuration that scrapes the application
every second, its TSDB in a temporary directory; it is stopped by PID.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from peers.phoenix import free_port

import infertel
from infertel import semconv
from infertel._internal import state

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fresh_otel")]

MODEL = "llama-prom"
OPERATION = "chat"
N_CALLS = 2000
# Prometheus names of the OTel instruments, as opentelemetry-exporter-prometheus writes them:
# dots become underscores and the unit "s" becomes the "_seconds" suffix.
DURATION_BUCKET = "gen_ai_server_request_duration_seconds_bucket"
DURATION_COUNT = "gen_ai_server_request_duration_seconds_count"
LATENCY_GAUGE = "infertel_gen_ai_latency_seconds"


class PrometheusServer:
    def __init__(self, executable: str, workdir: Path, target_port: int) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.config = workdir / "prometheus.yml"
        self.config.write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  scrape_timeout: 1s\n"
            "scrape_configs:\n"
            "  - job_name: infertel\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n"
        )
        self.log = workdir / "prometheus.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    executable,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"prometheus did not start: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def scalar(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, promql: str, expected: float, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        value = self.scalar(promql)
        while value != expected and time.monotonic() < deadline:
            time.sleep(0.3)
            value = self.scalar(promql)
        assert value == expected, f"{promql} = {value}, expected {expected}; log: {self.log.read_text()[-1000:]}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Any]:
    executable = os.environ.get("INFERTEL_TEST_PROMETHEUS") or shutil.which("prometheus")
    if executable is None:
        pytest.skip("the prometheus binary is not installed (scripts/install-peers.sh: apt-get install prometheus)")
    started: list[PrometheusServer] = []

    def start(target_port: int) -> PrometheusServer:
        server = PrometheusServer(executable, tmp_path, target_port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def bucket_bounds(value: float) -> tuple[float, float]:
    """The explicit bucket (lower, upper] of gen_ai.server.request.duration that holds ``value``."""
    lower = 0.0
    for upper in semconv.DURATION_BUCKETS:
        if value <= upper:
            return lower, upper
        lower = upper
    return lower, math.inf


def record_spans(durations: list[float]) -> None:
    """GenAI spans with these exact latencies (explicit timestamps; the stats processor reads them)."""
    tracer = trace.get_tracer("prometheus-test", tracer_provider=state.current().tracer_provider)
    now = time.time_ns()
    for duration in durations:
        span = tracer.start_span(
            f"{OPERATION} {MODEL}",
            start_time=now - int(duration * 1e9),
            attributes={semconv.GEN_AI_OPERATION_NAME: OPERATION, semconv.GEN_AI_REQUEST_MODEL: MODEL},
        )
        span.end(end_time=now)


@pytest.mark.slow
def test_prometheus_histogram_quantile_matches_the_true_p99(prometheus_factory: Any) -> None:
    infertel.configure(service_name="prometheus-test", prometheus_port=0, metric_export_interval_millis=600_000)
    endpoint = state.current().extras["prometheus"]
    assert endpoint.host == "127.0.0.1"

    stats_handle = state.current().extras.get("stats")
    installed_here = None
    if stats_handle is None:
        # Until configure() installs the statistics processors itself, the test does it.
        from infertel._internal import processors

        runtime = state.current()
        installed_here = processors.install(runtime.tracer_provider, runtime.meter_provider, windows_s=(60,))

    rng = random.Random(20261122)
    # Log-normal latencies: median 0.5 s, sigma 0.6 (p99 about 2 s), as LLM request latencies look.
    durations = [rng.lognormvariate(math.log(0.5), 0.6) for _ in range(N_CALLS + 1)]
    # The series must exist before Prometheus's first scrape so that rate() sees the whole workload
    # as an increase: one call first, the rest once Prometheus has scraped it.
    first, workload = durations[0], durations[1:]
    infertel.record_metrics(model=MODEL, operation=OPERATION, duration_s=first)

    prometheus = prometheus_factory(endpoint.port)
    prometheus.wait_for(f"sum({DURATION_COUNT})", 1.0)
    for duration in workload:
        infertel.record_metrics(model=MODEL, operation=OPERATION, duration_s=duration)
    record_spans(durations)
    prometheus.wait_for(f"sum({DURATION_COUNT})", float(N_CALLS + 1))
    time.sleep(3)  # a few more scrapes at the final values, so rate() has flat samples at the end

    with urllib.request.urlopen(endpoint.url, timeout=10) as response:
        exposition = response.read().decode()
    assert f'{DURATION_BUCKET}{{gen_ai_operation_name="{OPERATION}",gen_ai_request_model="{MODEL}"' in exposition

    # The true p99 (nearest rank). histogram_quantile finds the bucket whose cumulative count first
    # reaches 0.99 * total and interpolates linearly inside it, so its answer lies in the same explicit
    # bucket as the true p99: the error is at most that bucket's width (the resolution of the
    # semantic-convention boundaries), which is the tolerance asserted.
    ordered = sorted(workload)
    true_p99 = ordered[math.ceil(0.99 * len(ordered)) - 1]
    lower, upper = bucket_bounds(true_p99)
    rate_p99 = prometheus.scalar(
        f"histogram_quantile(0.99, sum by (le) (rate({DURATION_BUCKET}{{gen_ai_request_model='{MODEL}'}}[1m])))"
    )
    assert rate_p99 is not None and lower <= rate_p99 <= upper, (rate_p99, true_p99, lower, upper)
    assert abs(rate_p99 - true_p99) <= upper - lower

    # Over all calls (cumulative buckets, first call included) the answer is exact bucket arithmetic.
    all_ordered = sorted(durations)
    all_p99 = all_ordered[math.ceil(0.99 * len(all_ordered)) - 1]
    total_p99 = prometheus.scalar(
        f"histogram_quantile(0.99, sum by (le) ({DURATION_BUCKET}{{gen_ai_request_model='{MODEL}'}}))"
    )
    all_lower, all_upper = bucket_bounds(all_p99)
    assert total_p99 is not None and all_lower <= total_p99 <= all_upper, (total_p99, all_p99)

    # Our p99 gauge (statistics span processors, DDSketch with 1% relative accuracy): within 1% of
    # an order statistic around rank 0.99 (quantile definitions differ by at most one rank).
    try:
        gauge = prometheus.scalar(
            f"max({LATENCY_GAUGE}{{quantile='0.99',window='60s',gen_ai_request_model='{MODEL}'}})"
        )
        n = len(all_ordered)
        low = all_ordered[math.floor(0.99 * (n - 1))] * 0.99
        high = all_ordered[min(n - 1, math.ceil(0.99 * n))] * 1.01
        assert gauge is not None and low <= gauge <= high, (gauge, low, high, all_p99)
    finally:
        if installed_here is not None:
            installed_here.uninstall()
    assert infertel.shutdown(timeout_millis=10_000) is True
