"""``infertel capacity-plan``: growth scenarios from the store's request history (replicas, GPU-hours, cost, risk)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from infertel._internal.commands import CommandError, positive_int
from infertel._internal.commands import _query as q

NAME = "capacity-plan"

_STEP_S = 300.0


def growth_list(text: str) -> tuple[float, ...]:
    """An ``argparse`` type: comma-separated positive growth multiples, e.g. ``1,1.5,2,3``.

    Example:
        >>> growth_list("1, 1.5,2")
        (1.0, 1.5, 2.0)
    """
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive multiples like 1,1.5,2,3, got {text!r}")
    return values


def positive_float(text: str) -> float:
    """An ``argparse`` type: a number above 0.

    Example:
        >>> positive_float("2.5")
        2.5
    """
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add(commands: Any) -> None:
    """Add ``capacity-plan``'s parser to the subparsers ``commands``."""
    parser = commands.add_parser(
        NAME,
        help="growth scenarios: replicas and GPUs at peak, GPU-hours, cost and SLO risk, from the store's history",
        description="Forecast the request rate from the store's history (double-seasonal Holt-Winters with "
        "prediction intervals) and plan each growth scenario over the horizon: replicas and GPUs at the peak, "
        "GPU-hours for a fleet that follows the forecast, cost from your prices, the probability that the peak "
        "exceeds the planned fleet, and a risk level. Example: infertel capacity-plan --capacity-rps 2.5 "
        "--horizon 30d --growth 1,1.5,2,3 --price-per-gpu-hour 2.1",
    )
    parser.add_argument("--capacity-rps", type=positive_float, required=True, metavar="RPS",
                        help="sustainable requests/s of one replica at the SLO (measured)")  # fmt: skip
    parser.add_argument("--horizon", type=q.duration, default=30 * 86_400.0, metavar="DURATION",
                        help="planning horizon (default 30d)")  # fmt: skip
    parser.add_argument("--growth", type=growth_list, default=(1.0, 1.5, 2.0, 3.0), metavar="LIST",
                        help="traffic multiples reached at the horizon's end (default 1,1.5,2,3)")  # fmt: skip
    parser.add_argument("--history", type=q.duration, default=28 * 86_400.0, metavar="DURATION",
                        help="history read from the store (default 28d; at least 2 days)")  # fmt: skip
    parser.add_argument("--gpus-per-replica", type=positive_int, default=1, metavar="N")
    parser.add_argument("--price-per-gpu-hour", type=positive_float, default=None, metavar="PRICE")
    parser.add_argument("--price-per-1k-tokens", type=positive_float, default=None, metavar="PRICE")
    q.add_common(parser)


def _history(store: Any, start_ns: int, end_ns: int) -> tuple[list[float], float | None]:
    """Requests per 5-minute bucket (all services and models) and the mean tokens per request.

    Only whole buckets count: the range is cut to 5-minute boundaries, so the bucket still filling at
    ``end_ns`` (and the one cut at ``start_ns``) never reads as a quiet 5 minutes.
    """
    step_ns = int(_STEP_S * 1e9)
    start_ns = -(-start_ns // step_ns) * step_ns
    end_ns = end_ns // step_ns * step_ns
    if end_ns <= start_ns:
        return [], None
    series = store.timeseries("requests_per_s", start_ns, end_ns, _STEP_S, group_by=())
    totals: dict[int, float] = {}
    step_s = _STEP_S
    for s in series:
        for ts, value in s.points:
            totals[ts] = totals.get(ts, 0.0) + (value or 0.0)
    if len(totals) >= 2:
        stamps = sorted(totals)
        step_s = (stamps[1] - stamps[0]) / 1e9
    # leading buckets before the first request are "before the service existed", not zero traffic
    values = [totals[t] * step_s for t in sorted(totals)]
    while values and values[0] == 0.0:
        values.pop(0)
    tokens = None
    rows = store.overview(start_ns, end_ns, group_by=())
    requests = sum(r.requests for r in rows)
    if requests:
        seconds = (end_ns - start_ns) / 1e9
        tokens = sum((r.input_tokens_per_s + r.output_tokens_per_s) * seconds for r in rows) / requests
    return values, tokens


def run(args: argparse.Namespace) -> int:
    """Print the plan; returns the exit status.

    JSON shape: ``{"horizon_days", "capacity_rps_per_replica", "coverage", "history_days",
    "scenarios": [{"growth", "peak_rps", "peak_upper_rps", "replicas", "gpus", "gpu_hours", "cost",
    "breach_probability", "risk", "reason"}]}``; ``cost`` is ``null`` without prices.
    """
    from infertel.capacity import plan_capacity

    end_ns = q.now_ns()
    start_ns = end_ns - int(args.history * 1e9)
    with q.open_store(args.store) as store:
        values, tokens = _history(store, start_ns, end_ns)
    step_s = _STEP_S
    days = len(values) * step_s / 86_400.0
    if days < 2.0:
        raise CommandError(
            f"need at least 2 days of request history in the store to forecast a daily season, found {days:.1f}"
        )
    plan = plan_capacity(
        values,
        step_s=step_s,
        capacity_rps=args.capacity_rps,
        horizon_days=args.horizon / 86_400.0,
        growth=args.growth,
        gpus_per_replica=args.gpus_per_replica,
        price_per_gpu_hour=args.price_per_gpu_hour,
        price_per_1k_tokens=args.price_per_1k_tokens,
        tokens_per_request=tokens,
    )
    if args.json:
        q.write_json({**plan.to_json(), "history_days": round(days, 2)})
        return 0
    q.write(
        f"Capacity plan over {plan.horizon_days:g} days from {days:.1f} days of history; "
        f"{plan.capacity_rps:g} req/s per replica; fleet sized for the {plan.coverage:.0%} interval's upper bound."
    )
    headers = ["growth", "peak req/s", "upper", "replicas", "GPUs", "GPU-hours", "cost", "P(breach)", "risk"]
    rows = [
        [f"x{s.growth:g}", f"{s.peak_rps:.2f}", f"{s.peak_upper_rps:.2f}", str(s.replicas), str(s.gpus),
         f"{s.gpu_hours:,.0f}", "-" if s.cost is None else f"{s.cost:,.2f}", f"{s.breach_probability:.1%}", s.risk]
        for s in plan.scenarios
    ]  # fmt: skip
    q.write(q.table(headers, rows, right=range(1, 8)))
    for s in plan.scenarios:
        q.write(f"x{s.growth:g}: {dataclasses.asdict(s)['reason']}")
    return 0
