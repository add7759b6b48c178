"""Every Grafana panel's PromQL returns data from a real Prometheus scraping a real infertel workload.

A subprocess runs the demo's models through ``infertel.observe`` / ``infertel.inference`` (four models,
in-process and remote, streamed and not, with errors) under ``configure(prometheus_port=...,
resource_metrics=True)``, round after round. Debian's ``prometheus`` (``scripts/install-peers.sh``;
``INFERTEL_TEST_PROMETHEUS`` overrides the path) scrapes it every second; each panel's expression, with
``$service``/``$model`` as ``.*`` and ``$__rate_interval`` as 30 s, goes through ``/api/v1/query``.
GPU panels are checked only where NVML sees a GPU (``gpu`` marker); without one,
``test_panels.py`` checks their names and labels against the real exporter on canned readings.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from peers.phoenix import free_port

from infertel._internal.demo.engine import MODELS
from infertel.dashboard.panels import PANELS, Panel, panel, promql

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVICE = "grafana-panels-test"
RATE_INTERVAL = "30s"
MODEL_NAMES = sorted(m.name for m in MODELS)

WORKLOAD = """
import asyncio, sys, time
from pathlib import Path
import infertel
from infertel._internal.demo.engine import Engine, make_plans

port, stop_file, ready_file = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
infertel.configure(service_name=sys.argv[4], prometheus_port=port, resource_metrics=True,
                   metric_export_interval_millis=600_000)
engine = Engine()

async def rounds():
    seed = 0
    deadline = time.monotonic() + 120
    while not stop_file.exists() and time.monotonic() < deadline:
        seed += 1
        # every model streamed and not, a fifth of the calls failing
        await asyncio.gather(*(engine.run(p) for p in make_plans(24, seed=seed, error_rate=0.2)))
        ready_file.touch()

asyncio.run(rounds())
sys.exit(0 if infertel.shutdown(timeout_millis=10_000) else 1)
"""


class Prometheus:
    """A real Prometheus on 127.0.0.1 scraping one target every second, its TSDB in ``workdir``."""

    def __init__(self, executable: str, workdir: Path, target_port: int) -> None:
        self.port = free_port()
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: infertel\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n"
        )
        self.log = workdir / "prometheus.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [executable, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)

    def query(self, expression: str) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # a PromQL error: 400 with Prometheus' explanation
            raise AssertionError(f"{exc}: {exc.read().decode(errors='replace')}\n{expression}") from None
        assert body["status"] == "success", body
        assert body["data"]["resultType"] == "vector", body
        return list(body["data"]["result"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)


def _nvml_has_gpu() -> bool:
    try:
        from infertel._internal.resources.nvml import NvmlSource
    except ImportError:
        return False
    source = NvmlSource()
    try:
        return bool(source.devices())
    finally:
        source.close()


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """Prometheus scraping the workload, which keeps running until the module's tests are done."""
    executable = os.environ.get("INFERTEL_TEST_PROMETHEUS") or shutil.which("prometheus")
    if executable is None:
        pytest.skip("the prometheus binary is not installed (scripts/install-peers.sh: apt-get install prometheus)")
    workdir = tmp_path_factory.mktemp("grafana-prometheus")
    target_port = free_port()
    prometheus = Prometheus(executable, workdir, target_port)
    stop_file, ready_file = workdir / "stop", workdir / "ready"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    env.update(INFERTEL_STORE_PATH=str(workdir / "store.db"), INFERTEL_DURABLE="off")
    script = workdir / "workload.py"
    script.write_text(WORKLOAD)
    workload_log = (workdir / "workload.log").open("wb")
    workload = subprocess.Popen(
        [sys.executable, str(script), str(target_port), str(stop_file), str(ready_file), SERVICE],
        stdout=workload_log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        prometheus.wait_ready()
        deadline = time.monotonic() + 60
        while not ready_file.exists():
            assert workload.poll() is None, (workdir / "workload.log").read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the workload did not finish a round"
            time.sleep(0.2)
        yield prometheus
    finally:
        stop_file.touch()
        try:
            code = workload.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(workload.pid, signal.SIGKILL)
            code = workload.wait(timeout=20)
        workload_log.close()
        prometheus.stop()
    assert code == 0, (workdir / "workload.log").read_text(errors="replace")[-3000:]


def _eventually(prometheus: Prometheus, expression: str, complete: Any, timeout_s: float = 30) -> list[dict[str, Any]]:
    """The query's result once ``complete(result)`` holds (Prometheus needs a few scrapes for rate())."""
    deadline = time.monotonic() + timeout_s
    result = prometheus.query(expression)
    while not complete(result) and time.monotonic() < deadline:
        time.sleep(0.5)
        result = prometheus.query(expression)
    return result


def _finite(result: list[dict[str, Any]]) -> bool:
    return bool(result) and all(math.isfinite(float(sample["value"][1])) for sample in result)


def _labels(result: list[dict[str, Any]]) -> list[dict[str, str]]:
    return sorted((sample["metric"] for sample in result), key=lambda labels: sorted(labels.items()))


def _values(result: list[dict[str, Any]]) -> list[float]:
    return [float(sample["value"][1]) for sample in result]


def _params() -> list[Any]:
    gpu = pytest.mark.skipif(not _nvml_has_gpu(), reason="no NVIDIA GPU seen by NVML: GPU panels have no data here")
    return [pytest.param(p, id=p.id, marks=[pytest.mark.gpu, gpu] if p.requires_gpu else []) for p in PANELS]


@pytest.mark.parametrize("item", _params())
def test_panel_promql_returns_data(scraped: Prometheus, item: Panel) -> None:
    expression = promql(item, rate_interval=RATE_INTERVAL)
    if item.page == "overview":
        # one finite value per model of the workload: both the server-side (in-process models) and the
        # client-side (remote API) histograms answer
        def complete(result: list[dict[str, Any]]) -> bool:
            return _finite(result) and len(result) == len(MODEL_NAMES)

        result = _eventually(scraped, expression, complete)
        assert _labels(result) == [{"gen_ai_request_model": name} for name in MODEL_NAMES], (item.id, result)
    else:
        result = _eventually(scraped, expression, _finite)
        assert result, (item.id, expression)
        assert all(set(labels) == set(item.prometheus_group_by) for labels in _labels(result)), (item.id, result)
    values = _values(result)
    assert all(math.isfinite(v) and v >= 0 for v in values), (item.id, values)
    if item.unit == "ratio":
        assert all(v <= 1 for v in values), (item.id, values)
    groups = {tuple(labels.values()) for labels in _labels(result)}
    expected_groups = {
        "error_rate": None,
        "cpu_utilization": {("user",), ("system",), ("idle",)},
        "disk_io": {("read",), ("write",)},
        "network_io": {("receive",), ("transmit",)},
        "process_cpu": {(SERVICE,)},
        "process_memory": {(SERVICE,)},
        "memory_utilization": {()},
    }.get(item.id)
    if expected_groups is not None:
        assert expected_groups <= groups, (item.id, groups)


def test_the_variables_filter(scraped: Prometheus) -> None:
    requests = panel("requests_per_s")
    one = _eventually(scraped, promql(requests, model="gpt-4o-mini", rate_interval=RATE_INTERVAL), _finite)
    assert _labels(one) == [{"gen_ai_request_model": "gpt-4o-mini"}]
    assert _values(one)[0] > 0
    assert scraped.query(promql(requests, service="another-service", rate_interval=RATE_INTERVAL)) == []
    named = scraped.query(promql(requests, service=SERVICE, rate_interval=RATE_INTERVAL))
    assert _labels(named) == [{"gen_ai_request_model": name} for name in MODEL_NAMES]
    # the Grafana variables' own queries list the workload's service and models
    services = scraped.query("count by (service_name) (target_info)")
    assert [s["metric"] for s in services] == [{"service_name": SERVICE}]
    errors = _eventually(scraped, promql(panel("error_rate"), rate_interval=RATE_INTERVAL), _finite)
    assert max(_values(errors)) > 0  # a fifth of the calls fail: some model shows it
