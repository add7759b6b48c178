"""``infertel stats``: the overview table per service and model over a recent period, from the store."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from infertel._internal.commands import _query as q

NAME = "stats"

GROUP_KEYS: tuple[str, ...] = ("service", "model", "operation", "error_type")
"""What ``--by`` accepts (the store's ``overview`` group keys)."""


def group_keys(text: str) -> tuple[str, ...]:
    """An ``argparse`` type: comma-separated group keys from :data:`GROUP_KEYS`, e.g. ``service,model``.

    Example:
        >>> group_keys("service, model")
        ('service', 'model')
    """
    keys = tuple(key.strip().lower() for key in text.split(",") if key.strip())
    bad = [key for key in keys if key not in GROUP_KEYS]
    if not keys or bad or len(set(keys)) != len(keys):
        raise argparse.ArgumentTypeError(
            f"expected distinct comma-separated keys from {', '.join(GROUP_KEYS)}, got {text!r}"
        )
    return keys


def add(commands: Any) -> None:
    """Add ``stats``' parser to the subparsers ``commands``."""
    parser = commands.add_parser(
        NAME,
        help="the overview table per service and model (requests, errors, latency, tokens/s) from the store",
        description="Summarise the requests in the store over the last period, per service and model: requests, "
        "errors, requests/s, latency p50/p95/p99, time to first token and time per output token p95, input "
        "and output tokens/s, requests in flight. Example: infertel stats --since 1h",
    )
    parser.add_argument(
        "--since",
        type=q.duration,
        default=3600.0,
        metavar="DURATION",
        help="the period, 30s, 10m, 1h, 7d ... (default 1h)",
    )
    parser.add_argument(
        "--by", type=group_keys, default=("service", "model"), metavar="KEYS",
        help=f"group by these comma-separated keys ({', '.join(GROUP_KEYS)}; default service,model)",
    )  # fmt: skip
    q.add_common(parser)


def run(args: argparse.Namespace) -> int:
    """Print the table; returns the exit status.

    JSON shape: ``{"start_time", "end_time" (ISO 8601 UTC), "start_time_unix_nano", "end_time_unix_nano",
    "group_by": [key], "rows": [{"group": {key: value}, "requests", "errors", "requests_per_s", "error_rate",
    "latency_s": {"p50", "p95", "p99"}, "ttft_s": {...}, "tpot_s": {...}, "input_tokens_per_s",
    "output_tokens_per_s", "in_flight"}]}``, rows by requests, most first; ``null`` where there is no data.
    """
    from infertel.dashboard.panels import format_value, panel

    end_ns = q.now_ns()
    start_ns = end_ns - int(args.since * 1e9)
    with q.open_store(args.store) as store:
        rows = store.overview(start_ns, end_ns, group_by=args.by)
    if args.json:
        q.write_json({
            "start_time": q.iso(start_ns), "end_time": q.iso(end_ns), "start_time_unix_nano": start_ns,
            "end_time_unix_nano": end_ns, "group_by": list(args.by), "rows": [dataclasses.asdict(r) for r in rows],
        })  # fmt: skip
        return 0
    if not rows:
        q.write(f"No requests in the last {_period(args.since)}.")
        return 0

    def show(panel_id: str, value: float | None) -> str:
        return format_value(panel(panel_id), value)

    headers = [key.upper().replace("_", " ") for key in args.by] + [
        "REQUESTS", "ERRORS", "ERROR RATE", "REQ/S", "P50", "P95", "P99", "TTFT P95", "TPOT P95", "IN TOK/S",
        "OUT TOK/S", "IN FLIGHT",
    ]  # fmt: skip
    table_rows = [
        [q.printable(row.group.get(key) or "-") for key in args.by] + [
            str(row.requests), str(row.errors), show("error_rate", row.error_rate),
            show("requests_per_s", row.requests_per_s).removesuffix(" req/s"),
            show("latency_p50", row.latency_s.get("p50")), show("latency_p95", row.latency_s.get("p95")),
            show("latency_p99", row.latency_s.get("p99")), show("ttft_p95", row.ttft_s.get("p95")),
            show("tpot_p95", row.tpot_s.get("p95")),
            show("input_tokens_per_s", row.input_tokens_per_s).removesuffix(" tok/s"),
            show("output_tokens_per_s", row.output_tokens_per_s).removesuffix(" tok/s"),
            show("in_flight", row.in_flight),
        ]
        for row in rows
    ]  # fmt: skip
    q.write(f"Last {_period(args.since)}, by {', '.join(args.by)}:")
    q.write(q.table(headers, table_rows, right=list(range(len(args.by), len(headers)))))
    return 0


def _period(seconds: float) -> str:
    """``3600`` -> ``1h``, ``90`` -> ``90s``: the period as the user would write it."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
