"""The dashboard's pages over HTTP (real uvicorn): content, structure, headers, escaping and the token."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx  # noqa: E402
from dashboard_support import EVIL, SECURITY_HEADERS, Filled, Served, fill_store, style_of  # noqa: E402
from markupsafe import escape  # noqa: E402

from infertel.dashboard import create_app  # noqa: E402
from infertel.dashboard._security import style_hash  # noqa: E402
from infertel.dashboard.panels import panels  # noqa: E402

pytestmark = pytest.mark.integration

PAGES = ("/", "/resources", "/traces", "/logs")
ESCAPED = str(escape(EVIL))  # as Jinja2 writes it: &lt;script&gt;alert(&#34;x&#34;)...


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    path = tmp_path_factory.mktemp("pages") / "store.db"
    fill_store(path, service="svc-b", models=("model-c",), requests=3, resource_metrics=True)
    return fill_store(path, service=EVIL, models=("model-a", EVIL), requests=3, evil_attribute=EVIL)


@pytest.fixture(scope="module")
def server(filled: Filled) -> Iterator[Served]:
    with Served(create_app(filled.path, refresh_s=7, trace_url="http://127.0.0.1:16686/trace/{trace_id}")) as s:
        yield s


def page(server: Served, path: str, **params: str) -> str:
    response = httpx.get(server.url + path, params=params, timeout=30)
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.text


def assert_inert(text: str) -> None:
    """No script, no event handler, no style attribute, nothing loaded from elsewhere."""
    assert "<script" not in text.lower()
    assert not re.search(r"\son[a-z]+\s*=", text)
    assert " style=" not in text
    assert not re.search(r"\b(src|srcset)\s*=", text)
    assert re.findall(r"<link\b[^>]*>", text) == ['<link rel="icon" href="data:,">']  # no favicon request
    assert "@import" not in text and "url(" not in style_of(text)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_the_headers_and_loads_nothing_from_elsewhere(server: Served, path: str) -> None:
    response = httpx.get(server.url + path, timeout=30)
    assert response.status_code == 200
    text = response.text
    expected = {
        **SECURITY_HEADERS,
        "content-security-policy": f"default-src 'none'; style-src {style_hash(style_of(text))}; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    }
    assert {k: response.headers[k] for k in expected} == expected
    assert '<meta http-equiv="refresh" content="7">' in text
    assert_inert(text)
    nav = re.findall(r'<nav class="pages".*?</nav>', text, flags=re.S)[0]
    assert re.findall(r'<a href="([^"]+)"', nav) == ["/", "/resources", "/traces", "/logs"]


def test_stored_markup_renders_inert_everywhere(server: Served, filled: Filled) -> None:
    escaped = ESCAPED
    texts = [page(server, p) for p in PAGES]
    failing = next(
        t for t, spans in filled.traces().items() if any(s.status.status_code.name == "ERROR" for s in spans)
    )
    texts.append(page(server, f"/traces/{failing}"))
    texts.append(page(server, "/traces", model=EVIL))
    texts.append(page(server, "/logs", text="<script>"))
    for text in texts:
        assert_inert(text)
        assert EVIL not in text
    overview, trace = texts[0], texts[4]
    assert escaped in overview  # the model name and the service, in cells and in data-* attributes
    assert f'data-model="{escaped}"' in overview
    assert f"<dd>{escaped}</dd>" in trace  # the attribute value on the server span


def test_overview_shows_every_model_with_status_colours_and_thresholds(server: Served, filled: Filled) -> None:
    text = page(server, "/", range="1h")
    rows = re.findall(r'<tr class="overview-row" data-service="([^"]*)" data-model="([^"]*)">', text)
    assert sorted(rows) == sorted([("svc-b", "model-c"), (ESCAPED, "model-a"), (ESCAPED, ESCAPED)])
    for p in panels("overview"):
        assert f'id="chart-{p.id}"' in text
    assert re.search(r'<td class="num (ok|warn|crit)" title="Error rate: (ok|warn|crit)">', text)
    assert "warn ≥ 1.0%" in text and "crit ≥ 5.0%" in text  # the error-rate thresholds beside its chart
    chart = re.findall(r'<section class="panel chart-panel" id="chart-requests_per_s".*?</section>', text, re.S)[0]
    assert '<svg class="chart"' in chart and '<table class="data" id="data-requests_per_s">' in chart
    headers = re.findall(r'<th scope="col" class="num">([^<]*)</th>', chart)
    assert sorted(headers) == sorted(["model-a", "model-c", ESCAPED])


def test_resources_show_stored_metrics_and_no_data_cleanly(server: Served) -> None:
    text = page(server, "/resources")
    for p in panels("resources"):
        assert f'id="chart-{p.id}"' in text
    cpu = re.findall(r'id="chart-process_memory".*?</section>', text, re.S)[0]
    assert '<svg class="chart"' in cpu
    gpu = re.findall(r'id="chart-gpu_power".*?</section>', text, re.S)[0]
    assert '<p class="empty no-data">no data (no GPU metrics in the store)</p>' in gpu


def test_trace_page_waterfall_in_tree_order_with_logs_and_link(server: Served, filled: Filled) -> None:
    tid, spans = next(iter(filled.traces().items()))
    text = page(server, f"/traces/{tid}")
    rows = re.findall(r'<tr class="span-row[^"]*" id="row-([0-9a-f]{16})" data-span-id="[^"]+" '
                      r'data-parent-id="([0-9a-f]*)" data-depth="(\d+)">', text)  # fmt: skip
    root = next(s for s in spans if s.parent is None)
    child = next(s for s in spans if s.parent is not None)
    assert rows == [
        (f"{root.context.span_id:016x}", "", "0"),
        (f"{child.context.span_id:016x}", f"{root.context.span_id:016x}", "1"),
    ]
    assert f'<a id="external-trace" href="http://127.0.0.1:16686/trace/{tid}"' in text
    assert f'id="span-{child.context.span_id:016x}"' in text
    assert "<dt>gen_ai.request.model</dt>" in text
    assert 'id="trace-logs"' in text and "done</pre>" in text
    assert text.count('<svg class="wf"') == 2


def test_traces_page_filters_and_pages(server: Served, filled: Filled) -> None:
    text = page(server, "/traces", limit="2")
    assert len(re.findall(r'<tr class="trace-row', text)) == 2
    older = re.findall(r'<a id="next-page" href="([^"]+)">', text)[0]
    assert "cursor=" in older and "limit=2" in html.unescape(older)
    nxt = httpx.get(server.url + html.unescape(older), timeout=30)
    assert nxt.status_code == 200 and len(re.findall(r'<tr class="trace-row', nxt.text)) == 2
    errors = page(server, "/traces", status="error", model="model-c")
    ids = re.findall(r'<tr class="trace-row error" data-trace-id="([0-9a-f]{32})">', errors)
    assert len(ids) == 1  # 3 requests of model-c, the third fails
    bad = httpx.get(server.url + "/traces", params={"min_duration": "-1"}, timeout=30)
    assert bad.status_code == 422 and "min_duration: expected a number of seconds &gt;= 0" in bad.text


def test_logs_page_by_level(server: Served) -> None:
    text = page(server, "/logs", level="error")
    levels = re.findall(r'<tr class="log-row level-([a-z]+)">', text)
    assert levels and set(levels) == {"error"}


def test_token_gate(filled: Filled) -> None:
    with Served(create_app(filled.path, token="s3cret", refresh_s=0)) as served:
        denied = httpx.get(f"{served.url}/api/overview", timeout=30)
        assert (denied.status_code, denied.headers["www-authenticate"]) == (401, "Bearer")
        assert denied.json() == {
            "detail": "a valid bearer token is required (Authorization: Bearer, or ?token= once in a browser)"
        }
        assert denied.headers["x-content-type-options"] == "nosniff"
        wrong = httpx.get(f"{served.url}/", headers={"Authorization": "Bearer nope"}, timeout=30)
        assert wrong.status_code == 401 and "Token required" in wrong.text
        ok = httpx.get(f"{served.url}/api/stats", headers={"Authorization": "Bearer s3cret"}, timeout=30)
        assert (ok.status_code, ok.json()) == (200, {"live": False, "windows": []})
        assert httpx.get(f"{served.url}/openapi.json", timeout=30).status_code == 401
        redirect = httpx.get(f"{served.url}/traces", params={"token": "s3cret", "status": "error"}, timeout=30)
        assert redirect.status_code == 303
        assert redirect.headers["location"] == "/traces?status=error"
        cookie = redirect.headers["set-cookie"]
        assert cookie.startswith("infertel_dashboard_token=s3cret;")
        assert {p.strip().lower() for p in cookie.split(";")[1:]} >= {"httponly", "samesite=strict", "path=/"}
        with httpx.Client(base_url=served.url, timeout=30) as browser:
            browser.cookies.set("infertel_dashboard_token", "s3cret")
            assert browser.get("/traces").status_code == 200
            assert browser.get("/api/traces").status_code == 200


def test_token_from_the_environment(filled: Filled, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERTEL_DASHBOARD_TOKEN", "from-env")
    with Served(create_app(filled.path, refresh_s=0)) as served:
        assert httpx.get(f"{served.url}/api/stats", timeout=30).status_code == 401
        ok = httpx.get(f"{served.url}/api/stats", headers={"Authorization": "Bearer from-env"}, timeout=30)
        assert ok.status_code == 200


def test_bad_settings_fail_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"trace_url must contain '\{trace_id\}'"):
        create_app(tmp_path / "x.db", trace_url="http://jaeger/")
    with pytest.raises(ValueError, match="refresh_s must be an integer >= 0"):
        create_app(tmp_path / "x.db", refresh_s=-1)
