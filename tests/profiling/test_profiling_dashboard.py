"""The profiling pages and API in a dashboard mounted in a real app served by uvicorn over HTTP."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from served import Served  # noqa: E402

import infertel.dashboard  # noqa: E402
import infertel.profiling  # noqa: E402

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"


@pytest.fixture
def registered():
    infertel.profiling.register_dashboard()
    yield
    for name in ("/profiles", "/profiles/{profile_id}", "profiling"):
        infertel.dashboard.unregister(name)


def _spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(i for i in range(1000))


def test_mounted_dashboard_starts_stores_and_shows_profiles(tmp_path, registered) -> None:
    store = tmp_path / "telemetry.db"
    app = FastAPI()
    app.include_router(infertel.dashboard.router(store, prefix="/monitoring", token=TOKEN, refresh_s=0))
    stop = threading.Event()
    spinner = threading.Thread(target=_spin, args=(stop,))
    spinner.start()
    try:
        with Served(app) as served, httpx.Client(base_url=f"http://127.0.0.1:{served.port}/monitoring") as http:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            assert http.post("/api/profiles/cpu?seconds=0.5").status_code == 401  # the dashboard's token check
            started = http.post("/api/profiles/cpu?seconds=0.5", headers=auth)
            assert started.status_code == 202
            status = started.json()
            assert (status["kind"], status["seconds"], status["done"], status["error"]) == ("cpu", 0.5, False, None)
            busy = http.post("/api/profiles/cpu?seconds=1", headers=auth)
            assert busy.status_code == 409 and "already running" in busy.json()["detail"]
            bad = http.post("/api/profiles/heap?seconds=9999", headers=auth)
            assert bad.status_code == 422 and bad.json()["detail"].startswith("seconds: 9999.0 is not accepted")
            form = http.post("/api/profiles/heap", content="seconds=0.3", headers={
                **auth, "content-type": "application/x-www-form-urlencoded"})  # fmt: skip
            assert form.status_code == 303 and form.headers["location"] == "/monitoring/profiles"
            deadline = time.monotonic() + 30
            while http.get("/api/profiles", headers=auth).json()["running"]:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            listed = http.get("/api/profiles", headers=auth).json()["profiles"]
            assert sorted(p["kind"] for p in listed) == ["cpu", "heap"]
            cpu_id = next(p["id"] for p in listed if p["kind"] == "cpu")
            heap_id = next(p["id"] for p in listed if p["kind"] == "heap")
            assert sorted(p.name for p in (tmp_path / "telemetry.db.profiles").iterdir()) == sorted(
                [f"{cpu_id}.json", f"{heap_id}.json"]
            )
            page = http.get("/profiles", headers=auth)
            assert page.status_code == 200 and "<script" not in page.text
            assert re.findall(r'data-profile-id="([^"]+)"', page.text) == [p["id"] for p in listed]
            assert 'id="start-cpu"' in page.text and 'id="start-heap"' in page.text
            one = http.get(f"/profiles/{cpu_id}", headers=auth)
            assert one.status_code == 200 and "script-src" not in one.headers["content-security-policy"]
            assert '<svg xmlns="http://www.w3.org/2000/svg" class="flame"' in one.text
            assert "_spin (test_profiling_dashboard.py:" in one.text and 'id="top-functions"' in one.text
            svg = http.get(f"/api/profiles/{cpu_id}/flamegraph.svg", headers=auth)
            assert svg.headers["content-type"] == "image/svg+xml" and svg.text.startswith("<svg")
            heap = http.get(f"/profiles/{heap_id}", headers=auth)
            assert 'id="allocation-sites"' in heap.text
            assert http.get(f"/api/profiles/{heap_id}/flamegraph.svg", headers=auth).status_code == 404
            assert http.get("/api/profiles/cpu-0000000000000000000-00000000", headers=auth).status_code == 404
            assert 'id="profile-missing"' in http.get("/profiles/nope", headers=auth).text
    finally:
        stop.set()
        spinner.join()


def test_standalone_dashboard_shows_but_does_not_start(tmp_path, registered) -> None:
    store = tmp_path / "telemetry.db"
    app = infertel.dashboard.create_app(store, refresh_s=0)
    with Served(app) as served, httpx.Client(base_url=f"http://127.0.0.1:{served.port}") as http:
        refused = http.post("/api/profiles/cpu?seconds=1")
        assert refused.status_code == 409 and "serving process" in refused.json()["detail"]
        page = http.get("/profiles")
        assert page.status_code == 200 and 'id="profiles-not-live"' in page.text and 'id="profiles-empty"' in page.text
    assert infertel.profiling.running() == []


def _infertel(*args: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("infertel", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "infertel._internal.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    env.update(COLUMNS="200", INFERTEL_DASHBOARD_TOKEN=TOKEN)
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, env=env)


def test_cli_starts_through_the_api_and_reads_the_store(tmp_path, registered) -> None:
    store = tmp_path / "telemetry.db"
    app = FastAPI()
    app.include_router(infertel.dashboard.router(store, prefix="/monitoring", token=TOKEN, refresh_s=0))
    stop = threading.Event()
    spinner = threading.Thread(target=_spin, args=(stop,))
    spinner.start()
    try:
        with Served(app) as served:
            url = f"http://127.0.0.1:{served.port}/monitoring"
            done = _infertel("profile", "start", "cpu", "--url", url, "--seconds", "500ms", "--wait", "--json")
            assert done.returncode == 0, done.stderr
            summary = json.loads(done.stdout)
            assert (summary["kind"], summary["requested_seconds"], summary["pid"]) == ("cpu", 0.5, os.getpid())
            denied = _infertel("profile", "start", "heap", "--url", url, "--token", "wrong")
            assert denied.returncode == 2
            assert denied.stderr.strip().splitlines() == [
                f"infertel profile: error: {url}/api/profiles/heap?seconds=10: HTTP 401: "
                + denied.stderr.split("HTTP 401: ", 1)[1].strip()
            ]
    finally:
        stop.set()
        spinner.join()
    listed = _infertel("profile", "list", "--store", str(store), "--json")
    assert [p["id"] for p in json.loads(listed.stdout)["profiles"]] == [summary["id"]]
    svg = tmp_path / "flame.svg"
    shown = _infertel("profile", "show", summary["id"], "--store", str(store), "--svg", str(svg))
    assert shown.returncode == 0 and "_spin (test_profiling_dashboard.py:" in shown.stdout
    assert svg.read_text().startswith("<svg") and "_spin" in svg.read_text()
    missing = _infertel("profile", "show", "cpu-0000000000000000000-00000000", "--store", str(store))
    assert missing.returncode == 2 and missing.stderr.startswith("infertel profile: error: no profile ")
