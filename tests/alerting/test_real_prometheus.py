"""The rendered rules in a real Prometheus scraping infertel's own endpoint fire like the in-process engine.

Promtool parity proves the arithmetic on canned series; this proves the metric and label names: the
same workload (a third of the calls fail) makes ``ErrorsHigh`` fire in process (live dialect) and in
a real Prometheus that loads ``render_prometheus_rules`` and scrapes ``configure(prometheus_port=0)``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import infertel
from infertel._internal import state
from infertel.alerting import ThresholdRule, render_prometheus_rules

pytest.importorskip("yaml")

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fresh_otel")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_the_rendered_rule_fires_in_prometheus_and_in_process(tmp_path: Path) -> None:
    executable = shutil.which("prometheus")
    if executable is None:
        pytest.skip("the prometheus binary is not installed (scripts/install-peers.sh: apt-get install prometheus)")
    rule = ThresholdRule("ErrorsHigh", signal="error_rate", threshold=0.2, window_s=10, severity="page",
                         annotations={"summary": "{{ $labels.gen_ai_request_model }} fails"})  # fmt: skip
    (tmp_path / "rules.yml").write_text(render_prometheus_rules([rule], interval_s=1))
    infertel.configure(service_name="alerts-test", prometheus_port=0, alert_rules=[rule], resource_metrics=False)
    runtime = state.current()
    endpoint = runtime.extras["prometheus"]
    engine = runtime.extras["alerting"]

    @infertel.observe(model="llama", operation="chat")
    def call(fail: bool) -> str:
        if fail:
            raise TimeoutError("upstream")
        return "ok"

    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        "rule_files: [rules.yml]\n"
        f"scrape_configs: [{{job_name: infertel, static_configs: [{{targets: ['127.0.0.1:{endpoint.port}']}}]}}]\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen([executable, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        in_prometheus: list[dict] = []
        in_process: list = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (in_prometheus and in_process):
            for i in range(6):
                try:
                    call(i % 3 == 0)
                except TimeoutError:
                    pass
            time.sleep(0.5)
            engine.evaluate()
            in_process = [a for a in engine.alerts() if a.state == "firing"]
            try:
                alerts = _get(f"http://127.0.0.1:{port}/api/v1/alerts")["data"]["alerts"]
            except (urllib.error.URLError, OSError):
                continue
            in_prometheus = [a for a in alerts if a["state"] == "firing"]
        assert in_prometheus, (tmp_path / "prometheus.log").read_text(errors="replace")[-2000:]
        labels = {k: v for k, v in in_prometheus[0]["labels"].items() if k not in ("job", "instance")}
        assert labels == {"alertname": "ErrorsHigh", "severity": "page", "gen_ai_request_model": "llama"}
        assert in_prometheus[0]["annotations"] == {"summary": "llama fails"}
        assert [(a.name, dict(a.labels), dict(a.annotations)) for a in in_process] == [
            ("ErrorsHigh", {"alertname": "ErrorsHigh", "severity": "page", "gen_ai_request_model": "llama"},
             {"summary": "llama fails"})
        ]  # fmt: skip
        assert 0.2 < float(in_prometheus[0]["value"]) < 0.5
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        log.close()
