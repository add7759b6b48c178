"""The alerts, silences and health pages in headless Chromium, served by ``infertel dashboard``.

Each page loads with no script, no console error and no foreign request (``dashboard._browser.visit``),
shows its forms, and a silence submitted through the real form in the browser (its CSRF token, the
``Origin`` the browser sends under the dashboard's referrer policy) is created and stored.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright")
pytest.importorskip("fastapi")

from alerts_web_support import EVIL, Gauges, make_store  # noqa: E402
from dashboard._browser import chromium_executable, dashboard_server, visit  # noqa: E402

from infertel.alerting import AlertEngine, AlertStore, ThresholdRule  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FORMS_JS = """() => ({
  forms: [...document.querySelectorAll('form')].map(f => ({
      id: f.id, cls: f.className, method: f.getAttribute('method'), action: f.getAttribute('action'),
      csrf: !!f.querySelector('input[type=hidden][name=csrf_token]')})),
  alertRows: [...document.querySelectorAll('tr.alert-row')].map(r => r.className),
  checkRows: [...document.querySelectorAll('tr.check-row')].map(r => r.dataset.check),
  probeRows: [...document.querySelectorAll('tr.probe-row')].map(r => r.dataset.probe),
})"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("browser-alerts") / "store.db"
    make_store(path)
    rules = [ThresholdRule("HotCpu", signal="cpu_utilization", threshold=0.8, severity="page",
                           labels={"team": EVIL}, annotations={"summary": EVIL}),
             ThresholdRule("HighMemory", signal="memory_utilization", threshold=0.5, for_s=3600.0)]  # fmt: skip
    source = Gauges(infertel_live_cpu_utilization=0.9, infertel_live_memory_utilization=0.6)
    engine = AlertEngine(rules, source=source, store=str(path))
    now = time.time()
    engine.evaluate(now)
    engine.evaluate(now + 1)
    assert engine.shutdown()
    return path


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[str]:
    with dashboard_server(store, "--refresh", "0") as base:
        yield base


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    executable = chromium_executable()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        yield ctx
        ctx.close()
        browser.close()


def test_the_pages_load_inert_with_their_forms(server: str, context: Any) -> None:
    alerts = visit(context, f"{server}/alerts", "alerts", FORMS_JS)
    assert alerts.data["alertRows"] == ["alert-row firing", "alert-row pending"]  # the firing table comes first
    (ack,) = alerts.data["forms"]
    assert (ack["cls"], ack["method"], ack["csrf"]) == ("inline ack-form", "post", True)
    assert ack["action"].startswith("/api/alerts/") and ack["action"].endswith("/ack")
    assert EVIL in alerts.text  # shown as text, not run
    silences = visit(context, f"{server}/silences", "silences", FORMS_JS)
    assert silences.data["forms"] == [
        {"id": "silence-form", "cls": "stack", "method": "post", "action": "/api/silences", "csrf": True}]  # fmt: skip
    health = visit(context, f"{server}/health", "health", FORMS_JS)
    assert health.data["probeRows"] == ["livez", "readyz", "startupz"]
    assert health.data["checkRows"] == ["disk:utilization", "memory:utilization", "store:readable"]


def test_a_silence_submitted_in_the_browser_is_stored(server: str, store: Path, context: Any) -> None:
    page = context.new_page()
    try:
        page.goto(f"{server}/silences", wait_until="load")
        page.fill("textarea[name=matchers]", 'alertname="HotCpu"')
        page.fill("input[name=duration]", "45m")
        page.fill("input[name=comment]", "from the browser")
        with page.expect_navigation():
            page.click("#silence-form button[type=submit]")
        assert "/silences?done=created+silence+" in page.url
        assert page.inner_text("#form-done").startswith("created silence ")
        row = page.inner_text("tr.silence-row")
    finally:
        page.close()
    assert 'alertname="HotCpu"' in row and "from the browser" in row
    stored = AlertStore(store)
    try:
        (silence,) = stored.silences(now=time.time())
    finally:
        stored.close()
    assert ([str(m) for m in silence.matchers], silence.comment) == (['alertname="HotCpu"'], "from the browser")
    assert silence.ends_at - silence.starts_at == pytest.approx(2700, abs=1e-3)
