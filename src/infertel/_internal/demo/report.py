"""The demo's summary: per-model figures read back from the store (or the demo's own measurements)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from infertel import semconv
from infertel._internal.demo import plain
from infertel._internal.demo.engine import Outcome


def quantile(values: Sequence[float], q: float) -> float:
    """Exact ``q``-quantile of ``values`` (linear interpolation between order statistics; NaN if empty).

    Example:
        >>> quantile([1.0, 2.0, 3.0, 4.0], 0.5)
        2.5
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class ModelSummary:
    """One row of the summary table."""

    model: str
    requests: int
    errors: int
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    ttft_p50_s: float
    output_tokens_per_s: float


def _summary(model: str, latencies: list[float], errors: int, ttfts: list[float], rates: list[float]) -> ModelSummary:
    return ModelSummary(
        model=model,
        requests=len(latencies),
        errors=errors,
        latency_p50_s=quantile(latencies, 0.50),
        latency_p95_s=quantile(latencies, 0.95),
        latency_p99_s=quantile(latencies, 0.99),
        ttft_p50_s=quantile(ttfts, 0.50),
        output_tokens_per_s=statistics.median(rates) if rates else math.nan,
    )


def from_spans(spans: Iterable[Any]) -> list[ModelSummary]:
    """Per-model summaries from spans read back from the store (``StoredSpan`` objects).

    Latency is the span's duration; TTFT the ``gen_ai.response.time_to_first_chunk`` attribute of
    streams; tokens/s the ``infertel.output_tokens_per_second`` attribute, else output tokens
    over the duration, median over successful calls.
    """
    groups: dict[str, list[Any]] = {}
    for span in spans:
        model = span.attributes.get(semconv.GEN_AI_REQUEST_MODEL)
        if model is not None:
            groups.setdefault(str(model), []).append(span)
    rows = []
    for model, members in sorted(groups.items()):
        latencies = [s.duration_s for s in members]
        errors = sum(1 for s in members if s.status_code == "ERROR")
        ttfts = [float(s.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]) for s in members
                 if semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in s.attributes]  # fmt: skip
        rates = []
        for s in members:
            if s.status_code == "ERROR":
                continue
            rate = s.attributes.get(semconv.INFERTEL_OUTPUT_TOKENS_PER_SECOND)
            tokens = s.attributes.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
            if rate is None and tokens and s.duration_s > 0:
                rate = tokens / s.duration_s
            if rate is not None:
                rates.append(float(rate))
        rows.append(_summary(model, latencies, errors, ttfts, rates))
    return rows


def from_outcomes(outcomes: Iterable[Outcome]) -> list[ModelSummary]:
    """Per-model summaries from the demo's own measurements (when telemetry went over OTLP)."""
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.model, []).append(outcome)
    rows = []
    for model, members in sorted(groups.items()):
        ok = [o for o in members if o.error_type is None]
        rates = [o.output_tokens / o.latency_s for o in ok if o.output_tokens and o.latency_s > 0]
        ttfts = [o.ttft_s for o in members if o.ttft_s is not None]
        errors = len(members) - len(ok)
        rows.append(_summary(model, [o.latency_s for o in members], errors, ttfts, rates))
    return rows


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:,.0f}"


_COLUMNS = ("model", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "TTFT p50 ms", "output tok/s")


def table(rows: Sequence[ModelSummary], *, title: str, caption: str | None = None) -> Any:
    """The table printed at the end of ``infertel demo`` (latencies in milliseconds).

    A rich ``Table`` with ``infertel[demo]`` installed, else the same table as plain text.
    """
    try:
        from rich import box
        from rich.table import Table
    except ImportError:
        cells = [_cells(row) for row in rows]
        if len(rows) > 1:
            cells.append(_total(rows))
        return plain.table(_COLUMNS, cells, title=title, caption=caption)
    out = Table(title=title, caption=caption, title_justify="left", caption_justify="left", box=box.SIMPLE_HEAD)
    out.add_column(_COLUMNS[0], style="bold cyan", no_wrap=True)
    for name in _COLUMNS[1:]:
        out.add_column(name, justify="right", no_wrap=True)
    for row in rows:
        out.add_row(*_cells(row))
    if len(rows) > 1:
        out.add_section()
        out.add_row(*_total(rows))
    return out


def _total(rows: Sequence[ModelSummary]) -> list[str]:
    return ["all", f"{sum(r.requests for r in rows):,}", str(sum(r.errors for r in rows)), *[""] * 5]


def _cells(row: ModelSummary) -> list[str]:
    return [
        row.model,
        f"{row.requests:,}",
        f"[red]{row.errors}[/red]" if row.errors else "0",
        _ms(row.latency_p50_s),
        _ms(row.latency_p95_s),
        _ms(row.latency_p99_s),
        _ms(row.ttft_p50_s),
        "-" if math.isnan(row.output_tokens_per_s) else f"{row.output_tokens_per_s:,.0f}",
    ]
