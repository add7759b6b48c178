"""The Analysis page and api/analysis in a real dashboard served by uvicorn over HTTP."""

from __future__ import annotations

import re
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx  # noqa: E402
from analysis_fill import Req, S, write  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from served import Served  # noqa: E402

import infertel.analysis  # noqa: E402
import infertel.dashboard  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture
def registered():
    infertel.analysis.register_dashboard()
    yield
    infertel.dashboard.unregister("/analysis")
    infertel.dashboard.unregister("analysis")


def test_analysis_page_and_api(tmp_path, registered) -> None:
    store = tmp_path / "t.db"
    now = time.time_ns()
    # The last 50 minutes: decode-heavy requests of two models, some failing; the 50 before: none.
    reqs = [Req(now - (3000 - i * 20) * S, ttft=0.1, tpot=0.03, output=100 + i, model="llama" if i % 3 else "qwen")
            for i in range(140)]  # fmt: skip
    reqs += [Req(now - (2990 - i * 200) * S, 0, 0, 0, error="TimeoutError") for i in range(7)]
    write(store, reqs)
    app = FastAPI()
    app.include_router(infertel.dashboard.router(store, prefix="/monitoring", token="t0k", refresh_s=0, live=False))
    with Served(app) as served, httpx.Client(base_url=f"http://127.0.0.1:{served.port}/monitoring") as http:
        assert http.get("/api/analysis").status_code == 401
        auth = {"Authorization": "Bearer t0k"}
        document = http.get("/api/analysis?range=1h&baseline=none", headers=auth).json()["report"]
        series = {(s["service"], s["model"]): s for s in document["series"]}
        assert {k: v["requests"] for k, v in series.items()} == {
            ("chat-api", "llama"): 93 + 7, ("chat-api", "qwen"): 47,
        }  # fmt: skip
        assert series[("chat-api", "llama")]["error_rates"] == {"TimeoutError": pytest.approx(7 / 100)}
        assert {v["tail_dominant"] for v in series.values()} == {"decode"}
        assert document["regression"] is None and document["breakdown"]["tails"][1]["dominant"] == "decode"
        page = http.get("/analysis?range=1h&baseline=previous-window&model=llama", headers=auth)
        assert page.status_code == 200 and "<script" not in page.text
        rows = re.findall(r'<tr class="analysis-row" data-service="([^"]*)" data-model="([^"]*)">', page.text)
        assert rows == [("chat-api", "llama")]
        assert re.findall(r'data-group="(p\d+)"', page.text) == ["p50", "p95", "p99"]
        assert 'id="analysis-verdict"' in page.text  # the previous 1 h window is empty: insufficient data
        assert re.findall(
            r'data-metric="(\w+)"><th scope="row">[^<]+</th>(?:<td[^>]*>[^<]*</td>){4}<td>([^<]+)</td>', page.text
        ) == [(m, "insufficient data") for m in ("latency", "ttft", "tpot", "errors")]
        assert http.get("/analysis?baseline=last-week", headers=auth).status_code == 422
        nav = re.findall(r'<nav class="pages"[^>]*>(.*?)</nav>', page.text, re.S)[0]
        assert ">Analysis<" in nav
