"""Charts and overview tables: the panel model and the store's rollups turned into what a template shows.

Everything here is computed once per request from one store query per panel; the templates only
loop over the result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from infertel.dashboard import _svg
from infertel.dashboard._cache import SeriesCache
from infertel.dashboard._context import TimeRange
from infertel.dashboard._format import timestamp
from infertel.dashboard.panels import Panel, format_unit, format_value, panel, status_of

MAX_SERIES = 8
"""Series drawn per chart (the largest by mean); the others are counted under the chart."""


@dataclass(frozen=True)
class Chart:
    """One panel's chart over a range: SVG, legend, thresholds and the data table under it."""

    panel: Panel
    svg: Markup
    legend: list[tuple[str, str]]
    thresholds: list[tuple[str, str]]
    columns: list[str]
    body: Markup
    hidden: int
    error: str | None

    @property
    def empty(self) -> bool:
        """Whether no series had a single value."""
        return not self.legend


def series_name(labels: Mapping[str, str]) -> str:
    """A series' name in legends and table headers: its label values joined, or ``all``.

    Example:
        >>> series_name({"model": "m", "service": "s"}), series_name({})
        ('m / s', 'all')
    """
    return " / ".join(str(v) for v in labels.values()) if labels else "all"


def thresholds_of(p: Panel) -> list[tuple[str, str]]:
    """``(status, "≥ 1%")`` per threshold of ``p``, as shown beside its chart and in its table header.

    Example:
        >>> thresholds_of(panel("error_rate"))
        [('warn', '≥ 1.0%'), ('crit', '≥ 5.0%')]
    """
    sign = "≥" if p.higher_is_worse else "≤"
    return [(t.status, f"{sign} {format_value(p, t.value)}") for t in p.thresholds]


def _mean(points: Sequence[tuple[int, float | None]]) -> float:
    values = [v for _, v in points if v is not None and math.isfinite(v)]
    return sum(values) / len(values) if values else -math.inf


def chart(store: Any, p: Panel, tr: TimeRange, where: Mapping[str, str], cache: SeriesCache | None = None) -> Chart:
    """Query ``p.store_query`` over ``tr`` and build its chart (an empty one when there is no data).

    With ``cache``, closed buckets of earlier calls are reused and only the tail is queried.

    Example:
        >>> c = chart(store, panel("requests_per_s"), time_range("1h"), {})  # doctest: +SKIP
    """
    error = None
    merged = {**dict(p.where), **where}
    try:
        if cache is None:
            found = store.timeseries(
                p.store_query, tr.start_ns, tr.end_ns, tr.step_s, group_by=p.group_by, where=merged
            )
        else:
            found = cache.timeseries(store, p.store_query, tr.start_ns, tr.end_ns, tr.step_s, p.group_by, merged)
    except ValueError as exc:  # a query this store does not know (an older or newer panel model)
        found, error = [], str(exc)
    found = [s for s in found if any(v is not None for _, v in s.points)]
    found.sort(key=lambda s: _mean(s.points), reverse=True)
    shown, hidden = found[:MAX_SERIES], max(0, len(found) - MAX_SERIES)
    names = [series_name(s.labels) for s in shown]

    def fmt(value: float) -> str:
        return format_unit(p.unit, value)

    svg = _svg.line_chart(
        [(n, s.points) for n, s in zip(names, shown, strict=True)],
        start_ns=tr.start_ns, end_ns=tr.end_ns, fmt=fmt,
        thresholds=[(t.value, t.status) for t in p.thresholds], label=f"{p.title} over the last {tr.name}",
    )  # fmt: skip
    times = sorted({t for s in shown for t, _ in s.points})
    by_series = [dict(s.points) for s in shown]
    body = _table_body(p, times, by_series)
    legend = [(f"s{i % _svg.PALETTE}", n) for i, n in enumerate(names)]
    return Chart(p, svg, legend, thresholds_of(p), names, body, hidden, error)


def _table_body(p: Panel, times: Sequence[int], by_series: Sequence[Mapping[int, float | None]]) -> Markup:
    """The data table's ``<tbody>`` rows, built in one pass (a chart has up to ~60 x 8 cells).

    Cells hold only what ``format_value`` makes of a number (digits, a unit, "—") and times
    from ``timestamp``: no text from the store, so nothing here needs escaping.
    """
    fmt = format_value
    cells = '</td><td class="num">'
    lines = [
        f'<tr><th scope="row">{timestamp(t)[:19]}</th><td class="num">'
        + cells.join([fmt(p, values.get(t)) for values in by_series])
        + "</td></tr>"
        for t in times
    ]
    return Markup("\n".join(lines))


OVERVIEW_COLUMNS: tuple[tuple[str, str, str, str | None], ...] = (
    ("requests_per_s", "req/s", "requests_per_s", None),
    ("error_rate", "errors", "error_rate", None),
    ("latency_p50", "p50", "latency_s", "p50"),
    ("latency_p95", "p95", "latency_s", "p95"),
    ("latency_p99", "p99", "latency_s", "p99"),
    ("ttft_p50", "TTFT p50", "ttft_s", "p50"),
    ("ttft_p95", "TTFT p95", "ttft_s", "p95"),
    ("tpot_p50", "TPOT p50", "tpot_s", "p50"),
    ("tpot_p95", "TPOT p95", "tpot_s", "p95"),
    ("input_tokens_per_s", "in tok/s", "input_tokens_per_s", None),
    ("output_tokens_per_s", "out tok/s", "output_tokens_per_s", None),
    ("in_flight", "in flight", "in_flight", None),
)
"""(panel id, column header, OverviewRow field, percentile key) of the overview table."""


@dataclass(frozen=True)
class Cell:
    """One value of the overview table with its status class and the thresholds it was judged by."""

    text: str
    status: str
    title: str


def _panel_or_none(panel_id: str) -> Panel | None:
    try:
        return panel(panel_id)
    except ValueError:
        return None


def overview_table(rows: Sequence[Any]) -> tuple[list[tuple[str, str]], list[tuple[dict[str, str], int, list[Cell]]]]:
    """The overview table: headers ``(text, thresholds)`` and per row ``(group, requests, cells)``.

    Example:
        >>> headers, body = overview_table([])
        >>> headers[0][0], body
        ('req/s', [])
    """
    columns = [(_panel_or_none(pid), header, field, key) for pid, header, field, key in OVERVIEW_COLUMNS]
    headers = [
        (header, ", ".join(f"{s} {text}" for s, text in thresholds_of(p)) if p else "") for p, header, _, _ in columns
    ]
    body = []
    for row in rows:
        cells = []
        for p, _, field, key in columns:
            raw = getattr(row, field)
            value = raw.get(key) if key is not None else raw
            if p is None:
                cells.append(Cell("—" if value is None else f"{value:.4g}", "none", ""))
                continue
            if not p.thresholds:  # nothing to judge by (throughput): no colour
                cells.append(Cell(format_value(p, value), "none", p.title))
                continue
            status = status_of(p, value)
            cells.append(Cell(format_value(p, value), status, f"{p.title}: {status}"))
        body.append((dict(row.group), row.requests, cells))
    return headers, body
