"""``infertel traces``: recent traces from the store, newest first, with filters."""

from __future__ import annotations

import argparse
from typing import Any

from infertel._internal.commands import _query as q
from infertel._internal.commands import positive_int

NAME = "traces"


def add(commands: Any) -> None:
    """Add ``traces``' parser to the subparsers ``commands``."""
    parser = commands.add_parser(
        NAME,
        help="list recent traces from the store, newest first",
        description="List the most recent traces in the store, newest first: root span, service, models, span and "
        "error counts, duration. Example: infertel traces --model gpt-4o-mini --errors --since 10m",
    )
    parser.add_argument("--model", default=None, metavar="M", help="only traces with a span of this model")
    parser.add_argument("--service", default=None, metavar="S", help="only traces of this service.name")
    parser.add_argument("--errors", action="store_true", help="only traces with a failed span")
    parser.add_argument(
        "--since", type=q.duration, default=None, metavar="DURATION", help="only the last 30s, 10m, 1h, 7d ..."
    )
    parser.add_argument(
        "--min-duration", type=q.duration, default=None, metavar="DURATION", help="only traces lasting at least this"
    )
    parser.add_argument("--limit", type=positive_int, default=20, metavar="N", help="at most N traces (default 20)")
    parser.add_argument("--cursor", default=None, help="continue after a previous page (its next_cursor)")
    q.add_common(parser)


def summary_json(summary: Any) -> dict[str, Any]:
    """One ``TraceSummary`` in the JSON shape of ``infertel traces --json`` (and of the dashboard's API)."""
    return {
        "trace_id": summary.trace_id,
        "root_span_id": summary.root_span_id,
        "root_name": summary.root_name,
        "service": summary.service,
        "models": list(summary.models),
        "status": summary.status,
        "start_time": q.iso(summary.start_time_ns),
        "start_time_unix_nano": summary.start_time_ns,
        "end_time_unix_nano": summary.end_time_ns,
        "duration_s": summary.duration_s,
        "span_count": summary.span_count,
        "error_count": summary.error_count,
    }


def run(args: argparse.Namespace) -> int:
    """Print the traces; returns the exit status.

    JSON shape: ``{"traces": [{"trace_id", "root_span_id", "root_name", "service", "models", "status"
    ("ok"|"error"), "start_time" (ISO 8601 UTC), "start_time_unix_nano", "end_time_unix_nano", "duration_s",
    "span_count", "error_count"}], "next_cursor": str | null}``.
    """
    from infertel.dashboard.panels import format_unit

    with q.open_store(args.store) as store:
        page = store.search_traces(
            start_ns=q.since_ns(args.since, q.now_ns()), service=args.service, model=args.model,
            status="error" if args.errors else None, min_duration_s=args.min_duration, limit=args.limit,
            cursor=args.cursor,
        )  # fmt: skip
    if args.json:
        q.write_json({"traces": [summary_json(t) for t in page.traces], "next_cursor": page.next_cursor})
        return 0
    if not page.traces:
        q.write("No traces match.")
        return 0
    rows = [
        [
            q.local_time(t.start_time_ns), t.trace_id, q.printable(t.service or "-"), q.printable(t.root_name),
            q.printable(", ".join(t.models) or "-"), str(t.span_count), str(t.error_count),
            format_unit("s", t.duration_s),
        ]
        for t in page.traces
    ]  # fmt: skip
    headers = ["START", "TRACE ID", "SERVICE", "ROOT SPAN", "MODELS", "SPANS", "ERRORS", "DURATION"]
    q.write(q.table(headers, rows, right=[5, 6, 7]))
    if page.next_cursor:
        q.write(f"More: infertel traces --cursor {page.next_cursor} (with the same filters)")
    return 0
