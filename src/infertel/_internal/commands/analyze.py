"""``infertel analyze``: the performance report of a window of the store (``infertel.analysis``)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from infertel._internal.commands import _query as q
from infertel._internal.commands import positive_int

NAME = "analyze"

_BASELINES = ("previous-hour", "previous-window", "yesterday", "none")  # infertel.analysis.BASELINES (import-light)


def add(commands: Any) -> None:
    """Add ``analyze``'s parser to the subparsers ``commands``."""
    parser = commands.add_parser(
        NAME,
        help="analyse performance: where the time goes, what saturates, regressions, cost",
        description="Analyse a window of the store: requests/s, errors by type, percentiles, where the time goes "
        "(queue, prefill, decode, rest) and which part makes the tail, which resource saturates, a regression "
        "test against a baseline window, and the cost per service and model. "
        "Example: infertel analyze --since 1h --baseline yesterday --model llama-3-8b",
    )
    parser.add_argument("--since", type=q.duration, default=3600.0, metavar="DURATION",
                        help="the window: the last 30m, 1h, 6h ... (default 1h)")  # fmt: skip
    parser.add_argument("--baseline", choices=_BASELINES, default="previous-hour",
                        help="the window compared against (default previous-hour)")  # fmt: skip
    parser.add_argument("--model", default=None, metavar="M", help="only this model")
    parser.add_argument("--service", default=None, metavar="S", help="only this service.name")
    parser.add_argument("--prices", default=None, metavar="PATH",
                        help="price table (JSON) for the cost; default INFERTEL_PRICES")  # fmt: skip
    parser.add_argument("--max-samples", type=positive_int, default=20_000, metavar="N",
                        help="most requests read per window (default 20000; sampled over time beyond)")  # fmt: skip
    q.add_common(parser)


def _json(report: Any) -> dict[str, Any]:
    document = report.as_dict()
    for key in ("start", "end", "baseline_start", "baseline_end"):
        ns = document.get(f"{key}_ns")
        document[f"{key}_time"] = None if ns is None else q.iso(ns)
    return document


def run(args: argparse.Namespace) -> int:
    """Print the report; returns the exit status.

    JSON shape: :meth:`infertel.analysis.Report.as_dict` (``start_ns``, ``end_ns``, ``baseline_start_ns``,
    ``baseline_end_ns``, ``series`` [{service, model, requests, requests_per_s, error_rate, error_rates,
    latency_s, ttft_s, tpot_s (each {p50, p90, p95, p99, max}), output_tokens_per_s, token_cost_usd,
    instance_cost_usd, cost_per_request_usd}], ``breakdown`` / ``baseline_breakdown`` {attributed,
    unattributed, queue_reported, tails: [{group, threshold_s, requests, mean_latency_s, seconds, shares,
    dominant}]}, ``tail_change_s``, ``saturation`` {resource, reason, correlations: [{resource, points,
    spearman, pearson, slope, low, high, saturated}]}, ``regression`` {alpha, min_change, metrics: [...],
    errors, regressed}) plus ``start_time``, ``end_time``, ``baseline_start_time``, ``baseline_end_time``
    (ISO 8601 UTC).
    """
    from infertel.analysis import analyze, render_text
    from infertel.cost import load_prices
    from infertel.environment_variables import INFERTEL_PRICES

    prices = None
    if args.prices is not None:
        prices = load_prices(args.prices, "--prices")
    elif os.environ.get(INFERTEL_PRICES, "").strip():
        prices = load_prices(os.environ[INFERTEL_PRICES], INFERTEL_PRICES)
    with q.open_store(args.store) as store:
        report = analyze(
            store, end_ns=q.now_ns(), since_s=args.since, baseline=args.baseline, model=args.model,
            service=args.service, prices=prices, max_samples=max(100, args.max_samples),
        )  # fmt: skip
    if args.json:
        q.write_json(_json(report))
    else:
        # Names come from the telemetry: no line of them may drive the terminal.
        q.write("\n".join(q.printable(line) for line in render_text(report).rstrip("\n").split("\n")))
    return 0
