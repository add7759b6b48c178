"""The dashboard router mounted in a serving FastAPI app (real uvicorn): live stats, active requests, extensions."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx  # noqa: E402
from dashboard_support import SECURITY_HEADERS, Filled, Served, fill_store  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

import infertel  # noqa: E402
from infertel._internal import processors  # noqa: E402
from infertel.dashboard import Api, Page, register_api, register_page, router, unregister  # noqa: E402
from infertel.dashboard._registry import registered  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill_store(tmp_path_factory.mktemp("mounted") / "store.db", models=("model-a",), requests=3)


@pytest.fixture
def live_provider() -> Iterator[TracerProvider]:
    provider = TracerProvider()
    handle = processors.install(provider, None, windows_s=(60.0,))
    yield provider
    handle.uninstall()
    provider.shutdown()


def test_mounted_under_a_prefix_with_the_apps_own_routes(filled: Filled) -> None:
    app = FastAPI()

    @app.get("/v1/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    app.include_router(router(filled.path, prefix="/monitoring", refresh_s=0))
    with Served(app) as served:
        assert httpx.get(f"{served.url}/v1/hello", timeout=30).json() == {"hello": "world"}
        overview = httpx.get(f"{served.url}/monitoring/", timeout=30)
        assert overview.status_code == 200 and 'data-model="model-a"' in overview.text
        assert 'href="/monitoring/traces"' in overview.text and 'href="/monitoring/active"' in overview.text
        api = httpx.get(f"{served.url}/monitoring/api/overview", timeout=30)
        assert [r["group"] for r in api.json()["rows"]] == [{"service": "svc-a", "model": "model-a"}]
        for name, value in SECURITY_HEADERS.items():
            assert api.headers[name] == value
        assert httpx.get(f"{served.url}/monitoring/active", timeout=30).status_code == 200


def test_active_requests_and_live_stats_in_the_serving_process(filled: Filled, live_provider: TracerProvider) -> None:
    for _ in range(2):
        with infertel.inference(model="done-model", operation="chat", tracer_provider=live_provider) as inv:
            inv.set_output_tokens(3)
    release = threading.Event()
    entered = threading.Event()

    def in_flight() -> None:
        with infertel.inference(model="slow-<model>", operation="chat", tracer_provider=live_provider) as inv:
            inv.record_chunk(tokens=4)
            entered.set()
            release.wait(30)

    @infertel.observe(model="stream-model", operation="chat", tracer_provider=live_provider)
    def stream() -> Iterator[str]:
        yield from ("a", "b", "c", "d")

    worker = threading.Thread(target=in_flight)
    worker.start()
    assert entered.wait(10)
    open_stream = stream()
    started = time.time_ns()
    assert [next(open_stream), next(open_stream)] == ["a", "b"]
    app = FastAPI()
    app.include_router(router(filled.path, prefix="/m", refresh_s=0))
    try:
        with Served(app) as served:
            first = httpx.get(f"{served.url}/m/api/active", timeout=30).json()
            time.sleep(0.2)
            active = httpx.get(f"{served.url}/m/api/active", timeout=30).json()
            assert (first["live"], active["live"]) == (True, True)
            blocked, streaming = sorted(active["requests"], key=lambda r: r["stream"])
            # The non-streaming request's start is not kept: its age counts from the first look (a lower bound).
            assert blocked["age_s"] >= 0.2 and [blocked["start_time_ns"]] == [
                r["start_time_ns"] for r in first["requests"] if not r["stream"]
            ]
            assert {k: v for k, v in blocked.items() if k not in ("span_id", "start_time_ns", "age_s")} == {
                "trace_id": None,
                "model": "slow-<model>",
                "operation": "chat",
                "age_exact": False,
                "stream": False,
                "chunks": 0,
                "output_tokens": None,
            }
            # A stream's age is its span's.
            assert started - 10**8 < streaming["start_time_ns"] <= started
            assert streaming["age_s"] >= 0.2 and len(streaming["trace_id"]) == 32
            # Chunks so far are a lower bound: the proxy folds its fast count in at the end of the stream.
            assert 1 <= streaming["chunks"] <= 2 and streaming["output_tokens"] == streaming["chunks"]
            assert {
                k: v
                for k, v in streaming.items()
                if k not in ("span_id", "trace_id", "start_time_ns", "age_s", "chunks", "output_tokens")
            } == {
                "model": "stream-model",
                "operation": "chat",
                "age_exact": True,
                "stream": True,
            }
            stats = httpx.get(f"{served.url}/m/api/stats", timeout=30).json()
            assert stats["live"] is True
            ((window, series),) = [(w["window_s"], w["series"]) for w in stats["windows"]]
            assert window == 60.0
            by_model = {s["model"]: s for s in series}
            assert (by_model["done-model"]["requests"], by_model["done-model"]["in_flight"]) == (2, 0)
            assert (by_model["slow-<model>"]["requests"], by_model["slow-<model>"]["in_flight"]) == (0, 1)
            assert (by_model["stream-model"]["requests"], by_model["stream-model"]["in_flight"]) == (0, 1)
            page = httpx.get(f"{served.url}/m/active", timeout=30).text
            assert "slow-&lt;model&gt;" in page and 'id="active-table"' in page and 'id="live-60"' in page
    finally:
        open_stream.close()
        release.set()
        worker.join(10)


def test_extension_pages_and_apis(filled: Filled) -> None:
    def render(dashboard: Any, query: Any, params: Any) -> str:
        return dashboard.render("error.html", status=0, message=f"alerts for {query.get('who', '')}")

    def build(dashboard: Any) -> Any:
        api = dashboard.api_router()

        @api.get("/alerts")
        def alerts() -> dict[str, list[str]]:
            return {"alerts": ["a"]}

        return api

    register_page(Page("/alerts", "Alerts", render, order=60, css=".alerts{color:red}"))
    register_api(Api("alerts", build))
    try:
        app = FastAPI()
        app.include_router(router(filled.path, prefix="/monitoring", token="t", refresh_s=0))
    finally:
        unregister("/alerts")
        unregister("alerts")
    auth = {"Authorization": "Bearer t"}
    with Served(app) as served:
        page = httpx.get(f"{served.url}/monitoring/alerts", params={"who": "<b>"}, headers=auth, timeout=30)
        assert page.status_code == 200
        assert "alerts for &lt;b&gt;" in page.text and ".alerts{color:red}</style>" in page.text
        assert '<a href="/monitoring/alerts" class="current" aria-current="page">Alerts</a>' in page.text
        assert httpx.get(f"{served.url}/monitoring/api/alerts", timeout=30).status_code == 401
        api = httpx.get(f"{served.url}/monitoring/api/alerts", headers=auth, timeout=30)
        assert (api.status_code, api.json()) == (200, {"alerts": ["a"]})
        assert api.headers["x-content-type-options"] == "nosniff"
    pages, apis = registered()
    assert "/alerts" not in [p.path for p in pages] and "alerts" not in [a.name for a in apis]


def test_extension_routes_must_carry_the_token_check(filled: Filled) -> None:
    from fastapi import APIRouter

    def build(dashboard: Any) -> Any:
        api = APIRouter()  # not dashboard.api_router(): no token check, no headers

        @api.get("/open")
        def hole() -> dict[str, str]:
            return {}

        return api

    with pytest.raises(ValueError, match=r"Api 'holes': routes \['/open'\] do not come from dashboard.api_router\(\)"):
        router(filled.path, apis=[Api("holes", build)])


def test_register_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="Page path must start with '/'"):
        Page("alerts", "Alerts", lambda d, q, p: "")
    with pytest.raises(ValueError, match="register_page expects an infertel.dashboard.Page"):
        register_page("/alerts")  # type: ignore[arg-type]


def test_standalone_app_mounted_in_starlette_links_below_the_mount(filled: Filled) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from infertel.dashboard import create_app

    app = Starlette(routes=[Mount("/ops/dash", app=create_app(filled.path, token="t", refresh_s=0))])
    with Served(app) as served, httpx.Client(base_url=served.url, timeout=30) as browser:
        redirect = browser.get("/ops/dash/traces", params={"token": "t", "model": "model-a"})
        assert redirect.status_code == 303 and redirect.headers["location"] == "/ops/dash/traces?model=model-a"
        assert "Path=/ops/dash;" in redirect.headers["set-cookie"]
        page = browser.get(redirect.headers["location"])
        assert page.status_code == 200
        nav = re.findall(r'<nav class="pages".*?</nav>', page.text, flags=re.S)[0]
        assert re.findall(r'<a href="([^"]+)"', nav) == [
            "/ops/dash/",
            "/ops/dash/resources",
            "/ops/dash/traces",
            "/ops/dash/logs",
        ]
        trace_links = re.findall(r'<a href="(/[^"]*/traces/[0-9a-f]{32})">', page.text)
        assert trace_links and all(link.startswith("/ops/dash/traces/") for link in trace_links)
        assert browser.get(trace_links[0]).status_code == 200
