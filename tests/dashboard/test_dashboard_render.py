"""Pure pieces of the dashboard: SVG charts, formatting, the waterfall order, filters, security helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("jinja2")

from fastapi import HTTPException  # noqa: E402

from infertel.dashboard import _format, _svg  # noqa: E402
from infertel.dashboard._context import RANGES, time_range  # noqa: E402
from infertel.dashboard._hosts import is_loopback  # noqa: E402
from infertel.dashboard._security import security_headers, style_hash  # noqa: E402
from infertel.dashboard._style import CSS  # noqa: E402
from infertel.dashboard._views import log_filters, trace_filters, waterfall  # noqa: E402


def test_line_chart_paths_gaps_thresholds_and_escaping() -> None:
    svg = _svg.line_chart(
        [("<a>", [(0, 1.0), (10, None), (20, 3.0), (30, 4.0)]), ("b", [(0, 2.0)])],
        start_ns=0, end_ns=30, fmt=lambda v: f"{v:g}<u>", thresholds=[(5.0, "warn"), (100.0, "crit")], label='"x"',
    )  # fmt: skip
    assert svg.startswith('<svg class="chart" viewBox="0 0 600 200" role="img" aria-label="&#34;x&#34;"')
    paths = re.findall(r'<path class="line (s\d)" d="([^"]+)"><title>([^<]*)</title>', svg)
    assert [(cls, title) for cls, _, title in paths] == [("s0", "&lt;a&gt;"), ("s1", "b")]
    first = paths[0][1]
    assert first.count("M") == 2 and first.count("L") == 1  # the None point breaks the line
    dots = re.findall(r'<circle class="dot (s\d)" cx="[\d.]+" cy="[\d.]+" r="2.5"><title>([^<]*)</title>', svg)
    assert dots == [("s0", "&lt;a&gt;"), ("s1", "b")]  # points without neighbours show as dots
    assert svg.count('class="thr-warn"') == 1 and 'class="thr-crit"' not in svg  # 100 is off the chart
    assert "5<u>" not in svg and "5&lt;u&gt;" in svg  # y axis reaches the warn threshold, labels escaped
    assert "<script" not in svg


def test_line_chart_without_data_has_only_axes() -> None:
    svg = _svg.line_chart([], start_ns=0, end_ns=10**9, fmt=str)
    assert 'class="line' not in svg and svg.endswith("</svg>")


def test_bar_positions_on_the_trace_axis() -> None:
    bar = _svg.bar(25, 75, origin_ns=0, total_ns=100, error=True)
    assert '<rect class="error" x="250.0" y="1" width="500.0" height="8"/>' in bar
    tiny = _svg.bar(100, 100, origin_ns=0, total_ns=100, error=False)
    assert '<rect x="998.0" y="1" width="2.0" height="8"/>' in tiny


@dataclass
class _Span:
    span_id: str
    parent_span_id: str | None
    start_time_ns: int
    end_time_ns: int
    status_code: str = "OK"


def test_waterfall_is_tree_order_with_depths() -> None:
    spans = [
        _Span("c2", "b", 30, 40),
        _Span("a", None, 0, 100),
        _Span("b", "a", 10, 90),
        _Span("c1", "b", 20, 30),
        _Span("d", "a", 95, 99),
        _Span("orphan", "gone", 50, 60),
        _Span("x", "y", 1, 2),
        _Span("y", "x", 1, 2),
    ]
    rows, origin, total = waterfall(spans)
    assert [(r.span.span_id, r.depth) for r in rows] == [
        ("a", 0), ("b", 1), ("c1", 2), ("c2", 2), ("d", 1), ("orphan", 0), ("x", 0), ("y", 0),
    ]  # fmt: skip
    assert (origin, total) == (0, 100)
    assert rows[2].offset_s == pytest.approx(20e-9)


def test_formatting() -> None:
    assert [_format.duration(v) for v in (0.0004, 0.42, 2.5, 250.0, None)] == [
        "400 µs", "420 ms", "2.50 s", "250 s", "—",
    ]  # fmt: skip
    assert [_format.severity_name(n) for n in (1, 5, 9, 13, 17, 21, 24)] == [
        "trace", "debug", "info", "warn", "error", "fatal", "fatal",
    ]  # fmt: skip
    assert _format.timestamp(1_700_000_000_123_456_789) == "2023-11-14 22:13:20.123"
    assert [_format.number(v) for v in (12.3456, 3.0, 9999, 123456, 2.5e6, 7e9, None)] == [
        "12.35", "3", "9999", "123k", "2.5M", "7G", "—",
    ]  # fmt: skip
    assert _format.value({"a": [1, "<b>"]}) == '{"a": [1, "<b>"]}'


def test_time_ranges_and_filters() -> None:
    assert {k: time_range(k, now_ns=10**15).step_s for k in RANGES} == {
        "15m": 20, "1h": 60, "6h": 360, "24h": 1800, "7d": 10800,
    }  # fmt: skip
    with pytest.raises(HTTPException) as info:
        time_range("2h")
    assert info.value.detail == "range: expected one of 15m, 1h, 6h, 24h, 7d, got '2h'"
    f = trace_filters({"attribute": " http.route = /v1/chat ", "status": "ok", "limit": "10", "range": "6h"})
    assert (f.attribute, f.status, f.limit, f.range.name) == (("http.route", "/v1/chat"), "ok", 10, "6h")
    for query, message in (
        ({"attribute": "novalue"}, "attribute: expected key=value, got 'novalue'"),
        ({"status": "bad"}, "status: expected ok or error, got 'bad'"),
        ({"limit": "0"}, "limit: expected an integer from 1 to 500, got '0'"),
        ({"min_duration": "nan"}, "min_duration: expected a number of seconds >= 0, got 'nan'"),
    ):
        with pytest.raises(HTTPException) as info:
            trace_filters(query)
        assert (info.value.status_code, info.value.detail) == (422, message)
    logs = log_filters({"level": "WARN", "trace_id": "AB" * 16})
    assert (logs.level, logs.trace_id) == ("warn", "ab" * 16)


def test_security_helpers() -> None:
    hosts = ("127.0.0.1", "127.5.5.5", "::1", "[::1]", "localhost", "0.0.0.0", "::", "example")
    assert [is_loopback(h) for h in hosts] == [
        True, True, True, True, True, False, False, False,
    ]  # fmt: skip
    headers = security_headers(CSS)
    assert headers["Content-Security-Policy"] == (
        f"default-src 'none'; style-src {style_hash(CSS)}; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    assert style_hash("a") == "'sha256-ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs='"
