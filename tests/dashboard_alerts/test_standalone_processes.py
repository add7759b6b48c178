"""``infertel dashboard`` (the real command) beside a running engine in another process, and its own probes.

An acknowledgement made through the standalone dashboard's API lands in the store's file; the engine,
running in its own process on that file, picks it up at its next evaluation round: the acknowledged
alert stops repeating to a real webhook receiver while the other alert keeps repeating. The dashboard
process also answers ``/livez``, ``/readyz`` and ``/startupz`` with its own health: the status code and
verdict without the token (a Kubernetes probe sends none), the checks with it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("jinja2")

import httpx  # noqa: E402
from alerts_web_support import WebhookReceiver, free_port, make_store  # noqa: E402

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
ENGINE = """
import sys
from infertel.alerting import AlertEngine, Receiver, Route, ThresholdRule
from infertel.alerting.channels import WebhookChannel


class Hot:
    def collect(self, now):
        return [("infertel_live_cpu_utilization", {}, 0.9, now)]


store, url = sys.argv[1], sys.argv[2]
rules = [ThresholdRule("HotCpu", signal="cpu_utilization", threshold=0.8, severity="page"),
         ThresholdRule("HotCpuTicket", signal="cpu_utilization", threshold=0.7, severity="ticket")]
route = Route("ops", group_by=("alertname",), group_wait_s=0.0, group_interval_s=0.5, repeat_interval_s=0.5)
engine = AlertEngine(rules, source=Hot(), store=store, route=route, interval_s=0.25,
                     receivers=[Receiver("ops", [WebhookChannel(url)])])
engine.start()
print("started", flush=True)
sys.stdin.read()  # until the test closes stdin
print(sorted(a.name for a in engine.alerts() if engine.acknowledged(a.fingerprint)), flush=True)
sys.exit(0 if engine.shutdown(timeout_millis=5000) else 1)
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}


@dataclass
class Dashboard:
    url: str
    path: Path
    process: subprocess.Popen[str]


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    path = tmp_path_factory.mktemp("processes") / "store.db"
    make_store(path)
    port = free_port()
    script = shutil.which("infertel", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "infertel._internal.cli"]
    process = subprocess.Popen(
        [*command, "dashboard", "--store", str(path), "--port", str(port), "--refresh", "0", "--token", TOKEN],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/livez", timeout=2)
            break
        except httpx.TransportError:
            alive = process.poll() is None and time.monotonic() < deadline
            assert alive, process.stdout.read() if process.stdout else ""
            time.sleep(0.1)
    try:
        yield Dashboard(url, path, process)
    finally:
        process.terminate()
        process.wait(15)
        if process.stdout:
            process.stdout.close()


def _wait(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _firing(receiver: WebhookReceiver, name: str) -> int:
    return receiver.alertnames().count(("firing", name))


def test_an_ack_made_on_the_standalone_dashboard_stops_repeats_of_an_engine_in_another_process(
    dashboard: Dashboard,
) -> None:
    receiver = WebhookReceiver()
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    engine = subprocess.Popen([sys.executable, "-c", ENGINE, str(dashboard.path), receiver.url], env=_env(),
                              text=True, **pipes)  # fmt: skip
    try:
        assert engine.stdout is not None and engine.stdout.readline() == "started\n"
        # Both alerts repeat every 0.5 s (group_interval = repeat_interval = 0.5 s).
        _wait(lambda: min(_firing(receiver, "HotCpu"), _firing(receiver, "HotCpuTicket")) >= 3, 30, "no repeats")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        alerts = httpx.get(dashboard.url + "/api/alerts", headers=auth, timeout=10).json()
        assert alerts["source"] == "store"
        by_name = {a["name"]: a for a in alerts["alerts"]}
        assert sorted(by_name) == ["HotCpu", "HotCpuTicket"]
        assert {a["state"] for a in by_name.values()} == {"firing"}
        fingerprint = by_name["HotCpu"]["fingerprint"]
        csrf = httpx.get(dashboard.url + "/api/csrf", headers=auth, timeout=10).json()["csrf_token"]
        response = httpx.post(f"{dashboard.url}/api/alerts/{fingerprint}/ack", json={"by": "alice", "comment": "on it"},
                              headers={**auth, "X-CSRF-Token": csrf}, timeout=10)  # fmt: skip
        assert (response.status_code, response.json()) == (200, {"fingerprint": fingerprint, "acknowledged": True})
        time.sleep(0.75)  # the engine's next round (0.25 s) reads the ack; one in-flight repeat may still arrive
        acked, other = _firing(receiver, "HotCpu"), _firing(receiver, "HotCpuTicket")
        time.sleep(2.5)  # five more repeat intervals
        assert _firing(receiver, "HotCpu") == acked  # acknowledged: no more repeats
        assert _firing(receiver, "HotCpuTicket") >= other + 3  # the engine still runs and repeats the other
        out, err = engine.communicate("", timeout=30)
        assert (engine.returncode, out) == (0, "['HotCpu']\n"), err
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.communicate(timeout=10)
        receiver.close()


def test_the_standalone_dashboard_answers_probes_details_only_with_the_token(dashboard: Dashboard) -> None:
    checks = {"store:readable", "memory:utilization", "disk:utilization"}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    _wait(lambda: httpx.get(dashboard.url + "/startupz", timeout=10).status_code == 200, 30, "startupz never passed")
    for probe in ("livez", "readyz", "startupz"):
        anonymous = httpx.get(f"{dashboard.url}/{probe}", timeout=10)
        assert (anonymous.status_code, anonymous.headers["content-type"], anonymous.json()) == (
            200, "application/health+json", {"status": anonymous.json()["status"]},
        )  # fmt: skip
        assert anonymous.json()["status"] in ("pass", "warn")
        text = httpx.get(f"{dashboard.url}/{probe}", params={"verbose": ""}, timeout=10)
        assert (text.status_code, text.text) == (200, f"{probe} check passed\n")
        wrong = httpx.get(f"{dashboard.url}/{probe}", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.json() == anonymous.json()
    ready = httpx.get(dashboard.url + "/readyz", headers=auth, timeout=10)
    body = ready.json()
    assert ready.status_code == 200 and body["status"] in ("pass", "warn")
    assert set(body["checks"]) == checks
    (store,) = body["checks"]["store:readable"]
    assert (store["status"], store["componentType"], store["observedUnit"]) == ("pass", "datastore", "By")
    assert 0 < store["observedValue"] <= dashboard.path.stat().st_size  # its size when last checked (every 10 s)
    assert re.fullmatch(r"\d+ tables", store["output"])
    verbose = httpx.get(dashboard.url + "/readyz", params={"verbose": "", "token": TOKEN}, timeout=10).text
    assert "[+]store:readable ok" in verbose.splitlines()
    # The dashboard's health page shows the same registry; it needs the token like every page.
    assert httpx.get(dashboard.url + "/health", timeout=10).status_code == 401
    page = httpx.get(dashboard.url + "/health", headers=auth, timeout=10)
    assert page.status_code == 200 and "Checks of this dashboard process" in page.text
    api = httpx.get(dashboard.url + "/api/health", headers=auth, timeout=10)
    assert set(json.loads(api.content)["checks"]) == checks
