"""``infertel logs``: log records from the store, newest first, by level, text, service and trace."""

from __future__ import annotations

import argparse
from typing import Any

from infertel._internal.commands import _query as q
from infertel._internal.commands import positive_int

NAME = "logs"


def add(commands: Any) -> None:
    """Add ``logs``' parser to the subparsers ``commands``."""
    parser = commands.add_parser(
        NAME,
        help="list log records from the store, newest first",
        description="List the log records in the store, newest first, filtered by level, text, service or trace "
        "id. Example: infertel logs --level warn --grep timeout --since 1h",
    )
    parser.add_argument(
        "--level", type=q.level, default=None, metavar="LEVEL",
        help=f"only this severity and above: {', '.join(q.LEVELS)}",
    )  # fmt: skip
    parser.add_argument("--grep", default=None, metavar="TEXT", help="only records whose body or message contains TEXT")
    parser.add_argument("--trace", type=q.trace_id, default=None, metavar="TRACE_ID", help="only records of this trace")
    parser.add_argument("--service", default=None, metavar="S", help="only records of this service.name")
    parser.add_argument(
        "--since", type=q.duration, default=None, metavar="DURATION", help="only the last 30s, 10m, 1h, 7d ..."
    )
    parser.add_argument("--limit", type=positive_int, default=50, metavar="N", help="at most N records (default 50)")
    parser.add_argument("--cursor", default=None, help="continue after a previous page (its next_cursor)")
    q.add_common(parser)


def run(args: argparse.Namespace) -> int:
    """Print the records; returns the exit status.

    JSON shape: ``{"logs": [{"time" (ISO 8601 UTC), "time_unix_nano", "severity_number", "severity_text",
    "level" (TRACE|DEBUG|INFO|WARN|ERROR|FATAL), "body", "event_name", "attributes", "trace_id", "span_id",
    "service"}], "next_cursor": str | null}``, newest first.
    """
    from infertel._internal.commands.trace import log_json, message

    if args.grep is not None and not args.grep.strip():
        raise ValueError("--grep must not be empty")
    with q.open_store(args.store) as store:
        page = store.search_logs(
            start_ns=q.since_ns(args.since, q.now_ns()), min_severity=args.level, service=args.service,
            text=args.grep, trace_id=args.trace, limit=args.limit, cursor=args.cursor,
        )  # fmt: skip
    if args.json:
        q.write_json({"logs": [log_json(log) for log in page.logs], "next_cursor": page.next_cursor})
        return 0
    if not page.logs:
        q.write("No log records match.")
        return 0
    rows = [
        [q.local_time(log.time_ns, millis=True), q.level_name(log.severity_number, log.severity_text),
         q.printable(log.service or "-"), log.trace_id or "-", message(log)]
        for log in page.logs
    ]  # fmt: skip
    q.write(q.table(["TIME", "LEVEL", "SERVICE", "TRACE ID", "MESSAGE"], rows))
    if page.next_cursor:
        q.write(f"More: infertel logs --cursor {page.next_cursor} (with the same filters)")
    return 0
