"""``analyze()``: the performance report of one window (and its baseline), as plain data."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from infertel.analysis._breakdown import Breakdown, breakdown, changes
from infertel.analysis._correlate import Saturation, saturation
from infertel.analysis._regression import Regression, compare
from infertel.analysis._samples import MAX_SAMPLES, RequestSample, SampleSet, read_samples
from infertel.analysis._stats import quantile
from infertel.cost import PriceTable, load_prices

BASELINES = ("previous-hour", "previous-window", "yesterday", "none")
"""Named baseline windows: the hour before the window, the window's own length before it, 24 h earlier, none."""

QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))

_HOUR_NS = 3600 * 10**9
_DAY_NS = 24 * _HOUR_NS
_STEP_NS = 10 * 10**9


@dataclass(frozen=True)
class SeriesStats:
    """One (service, model) series: traffic, errors by type, the percentile table and the cost.

    Percentiles (seconds) are computed on the requests read (all of them unless ``sampled``);
    ``requests``, ``requests_per_s`` and the error rates come from the store's counts.
    Cost in USD: ``token_cost_usd`` (from ``infertel.cost.usd`` on the spans or the price table),
    ``instance_cost_usd`` (instance-hour price x window hours x instances seen), None when unpriced.
    """

    service: str | None
    model: str | None
    requests: int
    requests_per_s: float
    error_rate: float | None
    error_rates: dict[str, float]
    latency_s: dict[str, float | None]
    ttft_s: dict[str, float | None]
    tpot_s: dict[str, float | None]
    output_tokens_per_s: float
    token_cost_usd: float | None
    instance_cost_usd: float | None
    cost_per_request_usd: float | None
    tail_dominant: str | None = None
    """The part (queue, prefill, decode, rest) that makes most of this series' p95 tail; None: not streamed."""


@dataclass(frozen=True)
class Report:
    """The analysis of one window. Times are Unix nanoseconds (``*_ns``); JSON via :meth:`as_dict`."""

    start_ns: int
    end_ns: int
    baseline_start_ns: int | None
    baseline_end_ns: int | None
    model: str | None
    service: str | None
    requests_read: int
    requests_total: int
    series: list[SeriesStats]
    breakdown: Breakdown
    baseline_breakdown: Breakdown | None
    tail_change_s: dict[str, float] | None
    saturation: Saturation
    regression: Regression | None

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (stable keys; see ``infertel analyze --json``).

        Example:
            >>> from infertel_exporters.sqlite import SQLiteStore
            >>> with SQLiteStore(":memory:") as store:
            ...     analyze(store, start_ns=0, end_ns=10**9, baseline="none").as_dict()["series"]
            []
        """
        return asdict(self)


def _table(values: Sequence[float]) -> dict[str, float | None]:
    return {name: quantile(values, q) for name, q in QUANTILES}


def _window(baseline: Any, start_ns: int, end_ns: int) -> tuple[int, int] | None:
    if baseline is None or baseline == "none":
        return None
    if isinstance(baseline, tuple) and len(baseline) == 2:
        return int(baseline[0]), int(baseline[1])
    if baseline == "previous-hour":
        return start_ns - _HOUR_NS, end_ns - _HOUR_NS
    if baseline == "previous-window":
        return 2 * start_ns - end_ns, start_ns
    if baseline == "yesterday":
        return start_ns - _DAY_NS, end_ns - _DAY_NS
    accepted = ", ".join(BASELINES)
    raise ValueError(f"baseline: {baseline!r} is not accepted (accepted: {accepted}, or (start_ns, end_ns))")


def _cost(members: Sequence[RequestSample], scale: float, prices: PriceTable | None, model: str | None,
          hours: float) -> tuple[float | None, float | None]:  # fmt: skip
    token = None
    for s in members:
        cost = s.cost_usd
        if cost is None and prices is not None:
            cost = prices.request_cost(s.model, s.input_tokens, s.output_tokens)
        if cost is not None:
            token = (token or 0.0) + cost
    instance = None
    price = prices.price(model) if prices is not None else None
    if price is not None and price.instance_hour is not None:
        instances = len({s.instance for s in members if s.instance is not None}) or 1
        instance = price.instance_hour * hours * instances
    return (None if token is None else token * scale), instance


def _series(store: Any, window: SampleSet, prices: PriceTable | None, model: str | None,
            service: str | None) -> list[SeriesStats]:  # fmt: skip
    where = {"service": service} if service else None
    rows = store.overview(window.start_ns, window.end_ns, group_by=("service", "model"), where=where)
    by_type = store.overview(window.start_ns, window.end_ns, group_by=("service", "model", "error_type"), where=where)
    out = []
    for row in rows:
        svc, mdl = row.group.get("service") or None, row.group.get("model") or None
        if model is not None and mdl != model:
            continue
        members = [s for s in window.samples if (s.service or None) == svc and (s.model or None) == mdl]
        ok = [s for s in members if s.error_type is None]
        rates = {
            r.group["error_type"]: r.requests / row.requests
            for r in by_type
            if r.group.get("service") == row.group.get("service") and r.group.get("model") == row.group.get("model")
            and r.group.get("error_type") and row.requests
        }  # fmt: skip
        scale = row.requests / len(members) if members else 0.0
        token, instance = _cost(members, scale, prices, mdl, window.seconds / 3600)
        total = None if token is None and instance is None else (token or 0.0) + (instance or 0.0)
        out.append(SeriesStats(
            service=svc, model=mdl, requests=row.requests, requests_per_s=row.requests / window.seconds,
            error_rate=row.error_rate, error_rates=dict(sorted(rates.items())),
            latency_s=_table([s.duration_s for s in ok]),
            ttft_s=_table([s.ttft_s for s in ok if s.ttft_s is not None]),
            tpot_s=_table([s.tpot_s for s in ok if s.tpot_s is not None]),
            output_tokens_per_s=row.output_tokens_per_s, token_cost_usd=token, instance_cost_usd=instance,
            cost_per_request_usd=None if total is None or not row.requests else total / row.requests,
            tail_dominant=tail.dominant if (tail := breakdown(members).tail("p95")) is not None else None,
        ))  # fmt: skip
    return out


def analyze(
    store: Any,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    since_s: float = 3600.0,
    baseline: Any = "previous-hour",
    model: str | None = None,
    service: str | None = None,
    prices: Any = None,
    max_samples: int = MAX_SAMPLES,
) -> Report:
    """Analyse one window of the store: traffic, errors, percentiles, where the time goes, saturation, regression.

    Args:
        store: An ``infertel_exporters.sqlite.SQLiteStore`` (``read_only=True`` is enough), or its path.
        start_ns: Window start (Unix ns); default ``end_ns - since_s``.
        end_ns: Window end (Unix ns, exclusive); default now.
        since_s: Window length when ``start_ns`` is not given.
        baseline: ``"previous-hour"`` (the window shifted one hour back: for windows longer than an
            hour it overlaps them, use ``"previous-window"``), ``"previous-window"`` (the same length
            just before), ``"yesterday"`` (shifted 24 h back), ``"none"``/None, or a ``(start_ns, end_ns)`` tuple.
        model: Only this model.
        service: Only this ``service.name``.
        prices: A price table (see :func:`infertel.cost.load_prices`) for requests recorded without
            ``infertel.cost.usd`` and for the instance-hour cost.
        max_samples: Most requests read per window (sampled evenly over time beyond it).

    Raises:
        ValueError: A bad window, baseline or price table.

    Example:
        >>> from infertel_exporters.sqlite import SQLiteStore
        >>> with SQLiteStore(":memory:") as store:
        ...     report = analyze(store, since_s=600, baseline="none")
        >>> report.saturation.resource is None
        True
    """
    if not hasattr(store, "overview"):
        from infertel_exporters.sqlite import SQLiteStore

        with SQLiteStore(store, read_only=True) as opened:
            return analyze(
                opened, start_ns=start_ns, end_ns=end_ns, since_s=since_s, baseline=baseline, model=model,
                service=service, prices=prices, max_samples=max_samples,
            )  # fmt: skip
    end = time.time_ns() if end_ns is None else int(end_ns)
    start = end - int(since_s * 1e9) if start_ns is None else int(start_ns)
    # The store counts requests in 10 s buckets: align the window on them, so counts and samples agree.
    start, end = start // _STEP_NS * _STEP_NS, -(-end // _STEP_NS) * _STEP_NS
    if start >= end:
        raise ValueError(f"window: the start ({start}) must be before the end ({end})")
    if max_samples < 100:
        raise ValueError(f"max_samples: {max_samples!r} is not accepted (accepted: an integer >= 100)")
    table = load_prices(prices) if prices is not None else None
    base_window = _window(baseline, start, end)
    current = read_samples(store, start, end, model=model, service=service, limit=max_samples)
    past = None
    if base_window is not None:
        past = read_samples(store, *base_window, model=model, service=service, limit=max_samples)
    now_breakdown = breakdown(current.samples)
    past_breakdown = breakdown(past.samples) if past is not None else None
    return Report(
        start_ns=start, end_ns=end,
        baseline_start_ns=None if base_window is None else base_window[0],
        baseline_end_ns=None if base_window is None else base_window[1],
        model=model, service=service, requests_read=len(current.samples), requests_total=current.total_requests,
        series=_series(store, current, table, model, service),
        breakdown=now_breakdown, baseline_breakdown=past_breakdown,
        tail_change_s=None if past_breakdown is None else changes(now_breakdown, past_breakdown),
        saturation=saturation(store, current.samples, start, end, service=service),
        regression=None if past is None else compare(past.samples, current.samples),
    )  # fmt: skip
