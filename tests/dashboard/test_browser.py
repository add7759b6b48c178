"""Every dashboard page in headless Chromium, served by the real ``infertel dashboard`` over HTTP.

The store is filled by ``infertel demo`` (its console script), plus one nested trace of known
spans and one call whose model name, attribute values and log body are hostile markup. Each page
is screenshotted to ``.cache/screenshots/`` (CI keeps them) and checked by ``_browser.visit``
(CSP, no script, no broken image, no failed or foreign request, no console error); the figures on
the pages are compared with the dashboard's JSON API and the store's read API for the same range.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dashboard._browser import chromium_executable, clean_env, dashboard_server, infertel_command, visit
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from infertel import semconv
from infertel._internal.demo.engine import MODELS, make_plans

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

HOSTILE = "<script>alert(1)</script>\"'"
DEMO_REQUESTS, DEMO_SEED = 200, 13
RANGES = ("15m", "1h", "6h", "24h", "7d")
# The known trace: (name, parent index, start offset ms, duration ms, kind), in start order.
KNOWN_SPANS = (
    ("POST /v1/chat/completions", None, 0, 900, SpanKind.SERVER),
    ("validate request", 0, 5, 20, SpanKind.INTERNAL),
    ("chat llama-3-8b-instruct", 0, 30, 820, SpanKind.CLIENT),
    ("tokenize", 2, 32, 8, SpanKind.INTERNAL),
    ("prefill", 2, 41, 120, SpanKind.INTERNAL),
    ("decode", 2, 162, 680, SpanKind.INTERNAL),
    ("postprocess", 0, 855, 40, SpanKind.INTERNAL),
)


def _write_known_trace(path: Path, start_ns: int) -> str:
    """A nested trace of KNOWN_SPANS through the SQLite exporter; returns its trace id (hex)."""
    from infertel_exporters.sqlite import SQLiteSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": "browser-checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(SQLiteSpanExporter(path, retention=None)))
    tracer = provider.get_tracer("browser-test")
    spans: list[Any] = []
    for name, parent, offset_ms, _duration_ms, kind in KNOWN_SPANS:
        context = None
        if parent is not None:
            from opentelemetry.trace import set_span_in_context

            context = set_span_in_context(spans[parent])
        attributes = {semconv.GEN_AI_REQUEST_MODEL: "llama-3-8b-instruct"} if name.startswith("chat") else {}
        spans.append(tracer.start_span(name, context=context, kind=kind, attributes=attributes,
                                       start_time=start_ns + offset_ms * 1_000_000))  # fmt: skip
    for span, (_, _, offset_ms, duration_ms, _) in reversed(list(zip(spans, KNOWN_SPANS, strict=True))):
        span.end(end_time=start_ns + (offset_ms + duration_ms) * 1_000_000)
    provider.shutdown()
    return format(spans[0].get_span_context().trace_id, "032x")


def _write_hostile_call(path: Path, start_ns: int) -> str:
    """A failed GenAI call whose model, attribute values, status and log body are markup; returns its trace id."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

    from infertel_exporters.sqlite import SQLiteLogExporter, SQLiteSpanExporter

    resource = Resource.create({"service.name": HOSTILE})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(SQLiteSpanExporter(path, retention=None)))
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(SimpleLogRecordProcessor(SQLiteLogExporter(path, retention=None)))
    attributes = {semconv.GEN_AI_REQUEST_MODEL: HOSTILE, semconv.GEN_AI_OPERATION_NAME: "chat",
                  "user.note": HOSTILE, semconv.ERROR_TYPE: HOSTILE}  # fmt: skip
    span = provider.get_tracer("browser-test").start_span(f"chat {HOSTILE}", attributes=attributes,
                                                         start_time=start_ns)  # fmt: skip
    span.set_status(Status(StatusCode.ERROR, HOSTILE))
    from opentelemetry.trace import set_span_in_context

    logs.get_logger("browser-test").emit(
        body=HOSTILE, severity_text="ERROR", severity_number=_error_severity(), context=set_span_in_context(span)
    )
    span.end(end_time=start_ns + 250_000_000)
    provider.shutdown()
    logs.shutdown()
    return format(span.get_span_context().trace_id, "032x")


def _error_severity() -> Any:
    from opentelemetry._logs import SeverityNumber

    return SeverityNumber.ERROR


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store filled by ``infertel demo``, a known nested trace and a hostile call."""
    import time

    path = tmp_path_factory.mktemp("dashboard") / "demo.db"
    result = subprocess.run([*infertel_command(), "demo", "--requests", str(DEMO_REQUESTS),
                             "--concurrency", "40", "--seed", str(DEMO_SEED), "--store", str(path)],
                            capture_output=True, text=True, timeout=120, env=clean_env())  # fmt: skip
    assert result.returncode == 0, result.stderr
    now = time.time_ns()
    known = _write_known_trace(path, now - 2_000_000_000)
    hostile = _write_hostile_call(path, now - 1_000_000_000)
    return {"path": path, "known_trace": known, "hostile_trace": hostile}


@pytest.fixture(scope="module")
def server(filled: dict[str, Any]) -> Iterator[str]:
    with dashboard_server(filled["path"]) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_executable()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    """A tab set that obeys the page's CSP (as a user's browser does)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


def _api(base: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{base}/api/{path}", params=params, timeout=10.0)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def _store(filled: dict[str, Any]) -> Any:
    from infertel_exporters.sqlite import SQLiteStore

    return SQLiteStore(filled["path"], read_only=True)


# (column header, OverviewRow field, percentile key, panel id) of the overview table, in page order.
OVERVIEW_COLUMNS = (
    ("req/s", "requests_per_s", None, "requests_per_s"),
    ("errors", "error_rate", None, "error_rate"),
    ("p50", "latency_s", "p50", "latency_p50"),
    ("p95", "latency_s", "p95", "latency_p95"),
    ("p99", "latency_s", "p99", "latency_p99"),
    ("TTFT p50", "ttft_s", "p50", "ttft_p50"),
    ("TTFT p95", "ttft_s", "p95", "ttft_p95"),
    ("TPOT p50", "tpot_s", "p50", "tpot_p50"),
    ("TPOT p95", "tpot_s", "p95", "tpot_p95"),
    ("in tok/s", "input_tokens_per_s", None, "input_tokens_per_s"),
    ("out tok/s", "output_tokens_per_s", None, "output_tokens_per_s"),
    ("in flight", "in_flight", None, "in_flight"),
)
OVERVIEW_JS = """() => ({
  headers: [...document.querySelectorAll('#overview-table thead th')].map(th => th.innerText.trim()),
  rows: [...document.querySelectorAll('#overview-table tr.overview-row')].map(tr => ({
    service: tr.dataset.service, model: tr.dataset.model,
    cells: [...tr.children].map(td => td.innerText.trim())})),
  charts: [...document.querySelectorAll('section.chart-panel')].map(s => ({
    id: s.id, svg: s.querySelectorAll('svg').length, table: s.querySelectorAll('table.data tbody tr').length})),
})"""


@pytest.mark.parametrize("range_", RANGES)
def test_overview_shows_the_stores_figures_for_every_model(
    filled: dict[str, Any], server: str, context: Any, range_: str
) -> None:
    from infertel.dashboard.panels import format_value, panel, panels

    page = visit(context, f"{server}/?range={range_}", f"overview-{range_}", OVERVIEW_JS)
    api = _api(server, "overview", range=range_)
    assert (
        api["end_ns"] - api["start_ns"]
        == {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800}[range_] * 1_000_000_000
    )
    # The JSON API gives exactly what the store's read API computes for the same range.
    with _store(filled) as store:
        expected = [dataclasses.asdict(row) for row in store.overview(api["start_ns"], api["end_ns"])]
    assert api["rows"] == expected

    # Every demo model (and the browser test's own calls) has its row, with the API's figures as formatted.
    assert page.data["headers"] == ["service", "model", "requests", *(c[0] for c in OVERVIEW_COLUMNS)]
    shown = {(r["service"], r["model"]): r["cells"] for r in page.data["rows"]}
    assert set(shown) == {(r["group"]["service"], r["group"]["model"]) for r in api["rows"]}
    assert {model for _, model in shown} >= {m.name for m in MODELS} | {"llama-3-8b-instruct", HOSTILE}
    for row in api["rows"]:
        group = row["group"]
        cells = [group["service"], group["model"], str(row["requests"])]
        for _, field, key, panel_id in OVERVIEW_COLUMNS:
            value = row[field] if key is None else row[field][key]
            cells.append(format_value(panel(panel_id), value))
        assert shown[(group["service"], group["model"])] == cells
    demo_requests = sum(r["requests"] for r in api["rows"] if r["group"]["service"] == "infertel-demo")
    assert demo_requests == DEMO_REQUESTS

    # One chart per overview panel, each drawn with its data table.
    assert [c["id"] for c in page.data["charts"]] == [f"chart-{p.id}" for p in panels("overview")]
    assert all(c["svg"] == 1 and c["table"] > 0 for c in page.data["charts"]), page.data["charts"]


RESOURCES_JS = """() => [...document.querySelectorAll('section.chart-panel')].map(s => ({
  id: s.id, title: s.querySelector('h3').innerText.trim(), svg: s.querySelectorAll('svg').length,
  noData: s.querySelectorAll('.no-data').length}))"""


def test_resources_page_charts_what_the_store_holds(filled: dict[str, Any], server: str, context: Any) -> None:
    from infertel.dashboard.panels import panels

    page = visit(context, f"{server}/resources?range=1h", "resources", RESOURCES_JS)
    now = time.time_ns()
    expected = []
    with _store(filled) as store:
        for p in panels("resources"):
            series = store.timeseries(p.store_query, now - 3_600_000_000_000, now, 60, group_by=p.group_by,
                                      where=dict(p.where) or None)  # fmt: skip
            has_data = any(v is not None for s in series for _, v in s.points)
            expected.append(
                {"id": f"chart-{p.id}", "title": p.title, "svg": int(has_data), "noData": int(not has_data)}
            )
    assert page.data == expected


TRACES_JS = """() => [...document.querySelectorAll('#traces-table tr.trace-row')].map(tr => ({
  trace_id: tr.dataset.traceId, error: tr.classList.contains('error'),
  cells: [...tr.children].map(td => td.innerText.trim())}))"""


def test_traces_filtered_by_model_and_status_match_the_api(server: str, context: Any) -> None:
    model = "gpt-4o-mini"
    page = visit(context, f"{server}/traces?range=1h&model={model}", "traces-model", TRACES_JS)
    api = _api(server, "traces", range="1h", model=model)
    assert [r["trace_id"] for r in page.data] == [t["trace_id"] for t in api["traces"]]
    assert len(page.data) >= 10
    assert all(model in row["cells"][4].split(", ") for row in page.data)
    starts = [t["start_time_ns"] for t in api["traces"]]
    assert starts == sorted(starts, reverse=True)  # newest first

    errors = visit(context, f"{server}/traces?range=1h&status=error", "traces-errors", TRACES_JS)
    api_errors = _api(server, "traces", range="1h", status="error")
    assert [r["trace_id"] for r in errors.data] == [t["trace_id"] for t in api_errors["traces"]]
    assert errors.data and all(row["error"] for row in errors.data)


TRACE_JS = """() => [...document.querySelectorAll('#waterfall tr.span-row')].map(tr => ({
  span_id: tr.dataset.spanId, parent: tr.dataset.parentId, depth: Number(tr.dataset.depth),
  name: tr.querySelector('.span-name').innerText.trim(), kind: tr.children[1].innerText.trim(),
  bar: tr.querySelectorAll('td.bar svg rect').length,
  indent: tr.querySelector('.span-name a').getBoundingClientRect().left,
  detail: document.getElementById('span-' + tr.dataset.spanId) !== null}))"""


def test_trace_page_shows_every_span_of_a_known_trace_in_start_order(
    filled: dict[str, Any], server: str, context: Any
) -> None:
    trace_id = filled["known_trace"]
    page = visit(context, f"{server}/traces/{trace_id}", "trace", TRACE_JS)
    with _store(filled) as store:
        stored = store.trace(trace_id)
    assert [s.name for s in stored] == [name for name, *_ in KNOWN_SPANS]  # the store's order: by start
    ids = [s.span_id for s in stored]
    depth = {None: -1}
    for name, parent, *_ in KNOWN_SPANS:
        depth[name] = depth[None if parent is None else KNOWN_SPANS[parent][0]] + 1
    assert [{k: r[k] for k in ("span_id", "parent", "depth", "name", "kind", "detail")} for r in page.data] == [
        {"span_id": ids[i], "parent": "" if parent is None else ids[parent], "depth": depth[name], "name": name,
         "kind": kind.name, "detail": True}
        for i, (name, parent, _, _, kind) in enumerate(KNOWN_SPANS)
    ]  # fmt: skip
    assert all(r["bar"] >= 1 for r in page.data)
    # Nesting is visible: a child's name starts to the right of its parent's.
    indent = {r["span_id"]: r["indent"] for r in page.data}
    assert all(r["indent"] > indent[r["parent"]] for r in page.data if r["parent"]), page.data
    assert f"{len(KNOWN_SPANS)} spans" in page.text


LOGS_JS = """() => [...document.querySelectorAll('#logs-table tr.log-row')].map(tr => ({
  level: tr.children[1].innerText.trim(), service: tr.children[2].innerText.trim(),
  body: tr.querySelector('pre.body').innerText}))"""


def test_logs_page_lists_the_stores_warnings_and_errors(server: str, context: Any) -> None:
    page = visit(context, f"{server}/logs?range=1h&level=warn", "logs-warn", LOGS_JS)
    api = _api(server, "logs", range="1h", level="warn")
    # One gen_ai.client.operation.exception record (WARN) per failed demo call, and the hostile ERROR record.
    failed_calls = sum(1 for plan in make_plans(DEMO_REQUESTS, seed=DEMO_SEED, error_rate=0.04) if plan.error)
    assert len(page.data) == len(api["logs"]) == failed_calls + 1
    # A record without a body (an event record) shows its event name.
    assert [(r["level"], r["service"], r["body"]) for r in page.data] == [
        (log["severity_text"], log["service"], log["event_name"] if log["body"] is None else log["body"])
        for log in api["logs"]
    ]
    assert sorted(r["level"] for r in page.data) == ["ERROR"] + ["WARN"] * failed_calls
    assert HOSTILE in [r["body"] for r in page.data]


@pytest.fixture(scope="module")
def unprotected(browser: Any) -> Iterator[Any]:
    """Tabs that ignore the page's CSP: only the escaping stands between hostile data and script."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    yield ctx
    ctx.close()


def test_hostile_names_and_values_render_inert(filled: dict[str, Any], server: str, unprotected: Any) -> None:
    quoted = httpx.QueryParams({"service": HOSTILE})
    pages = {
        "xss-overview": f"{server}/?range=15m",
        "xss-traces": f"{server}/traces?range=15m&{quoted}",
        "xss-trace": f"{server}/traces/{filled['hostile_trace']}",
        "xss-logs": f"{server}/logs?range=15m&{quoted}",
    }
    for name, url in pages.items():
        page = visit(unprotected, url, name)  # asserts: no dialog, no <script>, no handler, no console error
        assert HOSTILE in page.text, name


ACTIVE_JS = """() => ({
  active: [...document.querySelectorAll('#active-table tr.active-row')].map(tr => ({
    model: tr.children[0].innerText.trim(), stream: tr.children[3].innerText.trim()})),
  live: [...document.querySelectorAll('table.live-stats tbody tr')].map(tr => ({
    model: tr.children[0].innerText.trim(), requests: tr.children[2].innerText.trim(),
    in_flight: tr.children[11].innerText.trim()})),
  nav: [...document.querySelectorAll('nav a, header a')].map(a => a.getAttribute('href')),
})"""


def test_mounted_in_the_serving_process_shows_active_requests(filled: dict[str, Any], context: Any) -> None:
    import threading

    from dashboard_support import Served
    from fastapi import FastAPI

    import infertel
    from infertel._internal import processors
    from infertel.dashboard import router

    provider = TracerProvider()
    handle = processors.install(provider, None, windows_s=(60.0,))
    release, entered = threading.Event(), threading.Event()

    def in_flight() -> None:
        with infertel.inference(model=HOSTILE, operation="chat", tracer_provider=provider) as call:
            call.record_chunk(tokens=4)
            entered.set()
            release.wait(30)

    @infertel.observe(model="stream-model", operation="chat", tracer_provider=provider)
    def stream() -> Iterator[str]:
        yield from ("a", "b", "c")

    with infertel.inference(model="done-model", operation="chat", tracer_provider=provider) as call:
        call.set_output_tokens(3)
    worker = threading.Thread(target=in_flight)
    worker.start()
    open_stream = stream()
    app = FastAPI()

    @app.get("/v1/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    app.include_router(router(filled["path"], prefix="/monitoring", refresh_s=0))
    try:
        assert entered.wait(10) and next(open_stream) == "a"
        with Served(app) as served:
            page = visit(context, f"{served.url}/monitoring/active", "mounted-active", ACTIVE_JS)
            assert sorted(page.data["active"], key=lambda r: r["stream"]) == [
                {"model": HOSTILE, "stream": "no"},
                {"model": "stream-model", "stream": "yes"},
            ]
            live = {row["model"]: (row["requests"], row["in_flight"]) for row in page.data["live"]}
            assert live == {"done-model": ("1", "0"), HOSTILE: ("0", "1"), "stream-model": ("0", "1")}
            assert "/monitoring/active" in page.data["nav"] and "/monitoring/traces" in page.data["nav"]
            overview = visit(context, f"{served.url}/monitoring/?range=15m", "mounted-overview", OVERVIEW_JS)
            assert {r["model"] for r in overview.data["rows"]} >= {m.name for m in MODELS}
            assert httpx.get(f"{served.url}/v1/hello", timeout=10).json() == {"hello": "world"}
    finally:
        open_stream.close()
        release.set()
        worker.join(10)
        handle.uninstall()
        provider.shutdown()


THEME_JS = """() => {
  const body = getComputedStyle(document.body), main = getComputedStyle(document.querySelector('main'));
  return {background: body.backgroundColor, color: main.color,
          overflow: document.documentElement.scrollWidth - window.innerWidth};
}"""


def _luminance(css_color: str) -> float:
    """WCAG relative luminance of an ``rgb(r, g, b)`` / ``rgba(...)`` colour."""
    channels = [float(c) / 255 for c in css_color[css_color.index("(") + 1 : -1].split(",")[:3]]
    r, g, b = ((c / 12.92) if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize(("scheme", "width"), [("light", 390), ("dark", 1280)])
def test_pages_fit_a_phone_and_read_in_light_and_dark(server: str, browser: Any, scheme: str, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 800}, color_scheme=scheme)
    try:
        for path, name in (("/?range=1h", "overview"), ("/traces?range=1h", "traces")):
            page = visit(ctx, f"{server}{path}", f"{name}-{scheme}-{width}", THEME_JS)
            assert page.data["overflow"] <= 0, (path, page.data)  # wide tables scroll inside their box
            background, text = _luminance(page.data["background"]), _luminance(page.data["color"])
            assert (background < 0.2) == (scheme == "dark"), page.data
            contrast = (max(background, text) + 0.05) / (min(background, text) + 0.05)
            assert contrast >= 4.5, (path, scheme, contrast)  # WCAG AA for body text
    finally:
        ctx.close()


def test_keep_alive_requests_are_not_held_back(server: str) -> None:
    """A browser reuses its connection: no request may wait for a delayed ACK (Nagle; 40 ms on Linux)."""
    import statistics

    with httpx.Client(base_url=server, timeout=10.0) as client:
        client.get("/api/stats")
        times = []
        for _ in range(11):
            t0 = time.perf_counter()
            assert client.get("/api/stats").status_code == 200
            times.append(time.perf_counter() - t0)
    assert statistics.median(times) < 0.025, times  # ~2 ms with TCP_NODELAY, ~44 ms without


def test_every_page_in_the_navigation_passes_the_page_checks(server: str, context: Any) -> None:
    """Pages other issues register (alerts, health, analysis, ...) meet the same bar as the dashboard's own."""
    home = visit(context, f"{server}/", "nav-home", "() => [...document.querySelectorAll('nav.pages a')]"
                 ".map(a => a.getAttribute('href'))")  # fmt: skip
    links = home.data
    assert {"/", "/resources", "/traces", "/logs"} <= set(links), links
    for href in links:
        name = "nav-" + (href.strip("/").replace("/", "-") or "home")
        page = visit(context, f"{server}{href}", name)
        assert page.text.strip(), href
