"""Every state-changing route of a dashboard refuses cross-site requests, the same way (FastAPI under uvicorn).

One dashboard mounted in a FastAPI app carries the three features that change state: profiling
(``POST api/profiles/{kind}``), autoscaling (``POST api/autoscaling/record-action``) and alerts
(``POST api/silences``, ``POST api/alerts/{fp}/ack``, ``DELETE api/silences/{id}`` ...). Requests are
made as a browser makes them (``Sec-Fetch-Site``, ``Origin``, a form body, the token cookie), and
the test checks what each one did: a profile started or not, an action recorded or not, a silence
stored or not. The last test drives headless Chromium: a form on another origin posting to the
dashboard is refused, the profiles page's own form starts a profile.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("jinja2")

import httpx  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from served import Served  # noqa: E402

import infertel.dashboard  # noqa: E402
import infertel.planning_web  # noqa: E402
import infertel.profiling  # noqa: E402
from infertel.alerting import AlertEngine, AlertStore, ReplaySource, ThresholdRule  # noqa: E402
from infertel.alerting import web as alerts_web  # noqa: E402
from infertel.dashboard._security import BAD_CSRF  # noqa: E402
from infertel.planning_web import PlanningSettings, actions_path  # noqa: E402

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
FORM = {"content-type": "application/x-www-form-urlencoded"}
CROSS_SITE = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example", **FORM}
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Origin": "null", **FORM}  # the dashboard's own form (no-referrer)
CROSS_DETAIL = "cross-site request refused (Sec-Fetch-Site: cross-site)"


@dataclass
class Site:
    url: str
    app: FastAPI
    store: Path
    engine: AlertEngine

    def profiles(self) -> list[dict[str, Any]]:
        return list(infertel.profiling.list_profiles(str(self.store) + ".profiles"))

    def silences(self) -> list[str]:
        store = AlertStore(self.store)
        try:
            return [str(m) for s in store.silences(now=time.time()) for m in s.matchers]
        finally:
            store.close()

    def actions(self) -> list[dict[str, Any]]:
        path = actions_path(self.store)
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _wait_profiles_done() -> None:
    deadline = time.monotonic() + 30
    while infertel.profiling.running():
        assert time.monotonic() < deadline, "the profile did not end"
        time.sleep(0.05)


@pytest.fixture
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    token = getattr(request, "param", None)
    store = tmp_path / "store.db"
    rule = ThresholdRule("HotCpu", signal="cpu_utilization", threshold=0.8)
    engine = AlertEngine([rule], source=ReplaySource([("infertel_live_cpu_utilization", "0.9x9")]), store=str(store))
    engine.evaluate(0.0)
    alerts = alerts_web.feature(engine)
    infertel.profiling.register_dashboard()
    infertel.planning_web.register_dashboard(PlanningSettings(capacity_rps=1.0))
    app = FastAPI()
    try:
        app.include_router(infertel.dashboard.router(store, prefix="/monitoring", token=token, refresh_s=0,
                                                     pages=alerts.pages(), apis=[alerts.api()]))  # fmt: skip
        with Served(app) as served:
            yield Site(served.url + "/monitoring", app, store, engine)
    finally:
        _wait_profiles_done()
        infertel.planning_web.unregister_dashboard()
        for name in ("/profiles", "/profiles/{profile_id}", "profiling"):
            infertel.dashboard.unregister(name)
        engine.shutdown()


def _hidden(page: str) -> str:
    (token,) = set(re.findall(r'<input type="hidden" name="csrf_token" value="([0-9a-f]{64})">', page))
    return token


def test_without_a_token_a_cross_site_form_changes_nothing_and_the_dashboards_own_form_works(site: Site) -> None:
    """The case the token cookie never covered: a loopback dashboard without a token."""
    fp = site.engine.alerts()[0].fingerprint
    writes = [
        ("/api/profiles/cpu", "seconds=0.2"),
        ("/api/autoscaling/record-action", '{"replicas": 5}'),
        ("/api/silences", "matchers=alertname%3D%22HotCpu%22&duration=1h"),
        (f"/api/alerts/{fp}/ack", "by=mallory"),
    ]
    for path, body in writes:
        for headers, detail in (
            (CROSS_SITE, CROSS_DETAIL),
            ({"Sec-Fetch-Site": "same-site", **FORM}, "cross-site request refused (Sec-Fetch-Site: same-site)"),
            ({"Origin": "https://evil.example", **FORM}, "cross-origin request refused (Origin "
                                                         "'https://evil.example' is not this dashboard)"),
            ({"Origin": "null", **FORM}, BAD_CSRF),  # an old browser on a page that hides its origin
        ):  # fmt: skip
            answer = httpx.post(site.url + path, content=body, headers=headers, timeout=30)
            assert (path, answer.status_code, answer.json()) == (path, 403, {"detail": detail})
    assert (infertel.profiling.running(), site.profiles(), site.actions(), site.silences()) == ([], [], [], [])
    # The dashboard's own page: its form carries the token; the browser says same-origin.
    page = httpx.get(site.url + "/profiles", timeout=30).text
    token = _hidden(page)
    assert page.count(f'name="csrf_token" value="{token}"') == 2  # the CPU and the heap form
    started = httpx.post(site.url + "/api/profiles/cpu", content=f"seconds=0.2&csrf_token={token}",
                         headers={"Origin": "null", **FORM}, timeout=30)  # fmt: skip
    assert (started.status_code, started.headers["location"]) == (303, "/monitoring/profiles")
    _wait_profiles_done()
    silenced = httpx.post(site.url + "/api/silences", content="matchers=alertname%3D%22HotCpu%22&duration=1h",
                          headers=SAME_ORIGIN, timeout=30)  # fmt: skip
    assert silenced.status_code == 303 and site.silences() == ['alertname="HotCpu"']
    # A script (no Origin, no Sec-Fetch-Site) on a dashboard without a token: the CLI, curl.
    recorded = httpx.post(site.url + "/api/autoscaling/record-action", json={"replicas": 2}, timeout=30)
    assert recorded.status_code == 201 and [a["replicas"] for a in site.actions()] == [2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    cli = subprocess.run([sys.executable, "-m", "infertel._internal.cli", "profile", "start", "heap", "--url", site.url,
                          "--seconds", "200ms", "--wait", "--json"], capture_output=True, text=True, timeout=120,
                         env=env, check=False)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert sorted(p["kind"] for p in site.profiles()) == ["cpu", "heap"]


@pytest.mark.parametrize("site", [TOKEN], indirect=True)
def test_with_a_token_the_cookie_needs_the_pages_csrf_token_and_the_bearer_header_does_not(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=30) as browser:
        opened = browser.get("/profiles", params={"token": TOKEN}, follow_redirects=True)
        assert opened.status_code == 200  # the redirect set the cookie
        assert browser.cookies.get("infertel_dashboard_token") == TOKEN
        token = _hidden(browser.get("/profiles").text)
        for headers in ({"Origin": "null", **FORM}, {"Sec-Fetch-Site": "same-origin", **FORM}, FORM):
            # The cookie alone never changes state, even from this dashboard's origin: the page's token is needed.
            refused = browser.post("/api/profiles/heap", content="seconds=0.2", headers=headers)
            assert (refused.status_code, refused.json()) == (403, {"detail": BAD_CSRF})
        refused = browser.post("/api/profiles/heap", content=f"seconds=0.2&csrf_token={token}", headers=CROSS_SITE)
        assert (refused.status_code, refused.json()) == (403, {"detail": CROSS_DETAIL})
        json_refused = browser.post("/api/autoscaling/record-action", json={"replicas": 1})
        assert (json_refused.status_code, json_refused.json()) == (403, {"detail": BAD_CSRF})
        assert (infertel.profiling.running(), site.actions()) == ([], [])
        started = browser.post("/api/profiles/heap", content=f"seconds=0.2&csrf_token={token}",
                               headers={"Sec-Fetch-Site": "same-origin", "Origin": "null", **FORM})  # fmt: skip
        assert started.status_code == 303
        _wait_profiles_done()
        recorded = browser.post("/api/autoscaling/record-action", json={"replicas": 3},
                                headers={"X-CSRF-Token": token})  # fmt: skip
        assert recorded.status_code == 201
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    api = httpx.post(site.url + "/api/autoscaling/record-action", json={"replicas": 4}, headers=bearer, timeout=30)
    wrong = httpx.post(site.url + "/api/autoscaling/record-action", json={"replicas": 5},
                       headers={"Authorization": "Bearer nope"}, timeout=30)  # fmt: skip
    assert (api.status_code, wrong.status_code) == (201, 401)
    assert [a["replicas"] for a in site.actions()] == [3, 4]
    assert [p["kind"] for p in site.profiles()] == ["heap"]


def test_every_state_changing_route_of_the_dashboard_is_guarded(site: Site) -> None:
    """Found from the app's OpenAPI document, so a route added later is covered too."""
    schema = httpx.get(site.url.removesuffix("/monitoring") + "/openapi.json", timeout=30).json()
    writes = [(method.upper(), path) for path, operations in schema["paths"].items()
              for method in operations if method.upper() not in ("GET", "HEAD", "OPTIONS")]  # fmt: skip
    assert sorted(writes) == [
        ("DELETE", "/monitoring/api/silences/{silence_id}"),
        ("POST", "/monitoring/api/alerts/{fingerprint}/ack"),
        ("POST", "/monitoring/api/autoscaling/record-action"),
        ("POST", "/monitoring/api/profiles/{kind}"),
        ("POST", "/monitoring/api/silences"),
        ("POST", "/monitoring/api/silences/{silence_id}/expire"),
    ]
    base = site.url.removesuffix("/monitoring")
    for method, path in writes:
        url = base + re.sub(r"\{[a-z_]+\}", "cpu", path)
        answer = httpx.request(method, url, content="seconds=0.2&csrf_token=0", headers=CROSS_SITE, timeout=30)
        assert (method, path, answer.status_code, answer.json()) == (method, path, 403, {"detail": CROSS_DETAIL})
    assert (infertel.profiling.running(), site.profiles(), site.actions(), site.silences()) == ([], [], [], [])


class _EvilSite:
    """Another origin (another port) serving a page with a form that posts to the dashboard."""

    def __init__(self, target: str) -> None:
        page = (f'<!doctype html><html><body><form id="f" method="post" action="{target}">'
                '<input type="hidden" name="seconds" value="0.2"><button type="submit">win</button></form>'
                "</body></html>").encode()  # fmt: skip

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://localhost:{self.server.server_address[1]}/"  # another site than 127.0.0.1

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.timeout(120)
def test_in_chromium_another_sites_form_is_refused_and_the_profiles_page_form_starts_a_profile(site: Site) -> None:
    pytest.importorskip("playwright")
    from dashboard._browser import chromium_executable
    from playwright.sync_api import sync_playwright

    evil = _EvilSite(site.url + "/api/profiles/cpu")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), headless=True)
            page = browser.new_page()
            try:
                page.goto(evil.url, wait_until="load")
                page.click("#f button")
                page.wait_for_url(site.url + "/api/profiles/cpu", wait_until="commit")
                page.wait_for_selector("pre")  # Chromium shows the JSON answer in a <pre>
                assert json.loads(page.inner_text("pre")) == {"detail": "cross-site request refused (Sec-Fetch-Site:"
                                                                         " cross-site)"}  # fmt: skip
                assert (infertel.profiling.running(), site.profiles()) == ([], [])
                page.goto(site.url + "/profiles", wait_until="load")
                page.fill("#start-cpu input[name=seconds]", "1")  # the field's minimum
                assert page.query_selector("#profiles-empty") is not None
                page.click("#start-cpu button[type=submit]")  # back to this page (303), which lists the profile
                page.wait_for_selector("#profiles-running, #profiles-table")
                assert page.url == site.url + "/profiles"
            finally:
                page.close()
                browser.close()
    finally:
        evil.close()
    _wait_profiles_done()
    assert [(p["kind"], p["requested_seconds"]) for p in site.profiles()] == [("cpu", 1.0)]
