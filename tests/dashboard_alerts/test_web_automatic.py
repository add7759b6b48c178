"""A mounted dashboard shows the alerts pages while ``configure(alert_rules=...)`` runs an engine and the health
page while the application's health registry is in use, without any ``register()`` call; a bare one is unchanged.

Each dashboard is ``infertel.dashboard.router(...)`` in a FastAPI app served by uvicorn, read over HTTP.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("jinja2")

import httpx  # noqa: E402
from alerts_web_support import Served, make_store  # noqa: E402
from fastapi import FastAPI  # noqa: E402

import infertel  # noqa: E402
import infertel.dashboard  # noqa: E402
from infertel import health  # noqa: E402
from infertel.alerting import ThresholdRule, current_engine  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("fresh_otel")]

BARE = ["/m/", "/m/resources", "/m/traces", "/m/logs", "/m/active"]
"""The navigation of a bare mounted dashboard (live: the requests in flight too)."""
FEATURE_PATHS = ["/m/alerts", "/m/silences", "/m/health", "/m/api/alerts", "/m/api/silences", "/m/api/health"]


def _served(store: Path) -> tuple[list[str], dict[str, int]]:
    """The navigation bar and the status of the feature routes of a dashboard built now."""
    app = FastAPI()
    app.include_router(infertel.dashboard.router(store, prefix="/m", refresh_s=0))
    with Served(app) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        page = client.get("/m/")
        assert page.status_code == 200
        nav = re.findall(r'<nav class="pages".*?</nav>', page.text, flags=re.S)[0]
        return re.findall(r'<a href="([^"]+)"', nav), {p: client.get(p).status_code for p in FEATURE_PATHS}


def test_the_alerts_pages_appear_while_configure_runs_an_engine(fresh_otel: Path) -> None:
    make_store(fresh_otel)
    assert _served(fresh_otel) == (BARE, dict.fromkeys(FEATURE_PATHS, 404))
    infertel.configure(alert_rules=[ThresholdRule("HotCpu", signal="cpu_utilization", threshold=0.8)],
                       resource_metrics=False)  # fmt: skip
    engine = current_engine()
    assert engine is not None
    nav, statuses = _served(fresh_otel)
    assert nav == [*BARE, "/m/alerts", "/m/silences"]
    assert statuses == {"/m/alerts": 200, "/m/silences": 200, "/m/health": 404, "/m/api/alerts": 200,
                        "/m/api/silences": 200, "/m/api/health": 404}  # fmt: skip
    assert infertel.shutdown(timeout_millis=5000)
    assert current_engine() is None
    assert _served(fresh_otel)[0] == BARE  # built after the engine stopped: bare again


def test_the_health_page_appears_while_the_default_registry_is_in_use(fresh_otel: Path) -> None:
    make_store(fresh_otel)
    registry = health.default_registry(gpu=False)
    registry.refresh()
    app = FastAPI()
    app.include_router(infertel.dashboard.router(fresh_otel, prefix="/m", refresh_s=0))
    with Served(app) as served, httpx.Client(base_url=served.url, timeout=30) as client:
        nav = re.findall(r'<nav class="pages".*?</nav>', client.get("/m/").text, flags=re.S)[0]
        assert re.findall(r'<a href="([^"]+)"', nav) == [*BARE, "/m/health"]
        body = client.get("/m/api/health", params={"probe": "livez"})
        assert (body.status_code, body.content) == (200, registry.report("livez").body)  # the app's registry
        page = client.get("/m/health").text
        assert "The application's health checks" in page
        assert re.findall(r'<tr class="check-row" data-check="([^"]+)">', page) == sorted(registry.observations())
    assert registry.stop()
    assert _served(fresh_otel)[0] == BARE  # a stopped registry is no longer the application's


def test_an_explicit_registration_replaces_the_automatic_page(fresh_otel: Path) -> None:
    from infertel.dashboard import unregister
    from infertel.health import web as health_web

    make_store(fresh_otel)
    used = health.default_registry(gpu=False)
    mine = health.HealthRegistry(checks=[health.Check("cache:size", lambda: True)])
    mine.refresh()
    health_web.register(mine)
    try:
        app = FastAPI()
        app.include_router(infertel.dashboard.router(fresh_otel, prefix="/m", refresh_s=0))
        with Served(app) as served, httpx.Client(base_url=served.url, timeout=30) as client:
            assert client.get("/m/api/health").content == mine.report("readyz").body
    finally:
        unregister("/health")
        unregister("health")
        assert used.stop() and mine.stop()
