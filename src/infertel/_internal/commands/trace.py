"""``infertel trace TRACE_ID``: one trace's span tree with durations, and its correlated log records."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from typing import Any

from infertel._internal.commands import CommandError
from infertel._internal.commands import _query as q

NAME = "trace"


def add(commands: Any) -> None:
    """Add ``trace``'s parser to the subparsers ``commands``."""
    parser = commands.add_parser(
        NAME,
        help="show one trace: its span tree with durations",
        description="Show one trace from the store: every span indented under its parent, with kind, status, "
        "start offset and duration, then the log records correlated by trace id. "
        "Example: infertel trace 4bf92f3577b34da6a3ce929d0e0e4736",
    )
    parser.add_argument("trace_id", type=q.trace_id, metavar="TRACE_ID", help="32 hexadecimal digits")
    q.add_common(parser)


def walk(spans: Sequence[Any]) -> Iterator[tuple[int, Any]]:
    """``(depth, span)`` depth-first, children by start time; a span whose parent is not stored is a root.

    Example:
        >>> [(d, s.span_id) for d, s in walk(store.trace(trace_id))]  # doctest: +SKIP
        [(0, 'a1...'), (1, 'b2...')]
    """
    ids = {span.span_id for span in spans}
    children: dict[str | None, list[Any]] = {}
    for span in spans:
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(span)
    for siblings in children.values():
        siblings.sort(key=lambda s: (s.start_time_ns, s.span_id))
    stack = [(0, span) for span in reversed(children.get(None, []))]
    while stack:
        depth, span = stack.pop()
        yield depth, span
        stack.extend((depth + 1, child) for child in reversed(children.get(span.span_id, [])))


def _span_json(span: Any, start_ns: int) -> dict[str, Any]:
    return {
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "name": span.name,
        "kind": span.kind,
        "status_code": span.status_code,
        "status_message": span.status_message,
        "service": span.resource.get("service.name"),
        "model": span.model,
        "operation": span.operation,
        "start_time": q.iso(span.start_time_ns),
        "start_time_unix_nano": span.start_time_ns,
        "end_time_unix_nano": span.end_time_ns,
        "offset_s": (span.start_time_ns - start_ns) / 1e9,
        "duration_s": span.duration_s,
        "attributes": span.attributes,
        "events": [
            {"name": e.name, "time": q.iso(e.timestamp_ns), "time_unix_nano": e.timestamp_ns,
             "attributes": e.attributes}
            for e in span.events
        ],
        "links": [
            {"trace_id": link.trace_id, "span_id": link.span_id, "attributes": link.attributes}
            for link in span.links
        ],
        "resource": span.resource,
        "children": [],
    }  # fmt: skip


def log_json(log: Any) -> dict[str, Any]:
    """One ``StoredLog`` in the JSON shape of ``infertel logs --json`` (no resource, its ``service`` instead)."""
    return {
        "time": q.iso(log.time_ns),
        "time_unix_nano": log.time_ns,
        "severity_number": log.severity_number,
        "severity_text": log.severity_text,
        "level": q.level_name(log.severity_number, log.severity_text),
        "body": log.body,
        "event_name": log.event_name,
        "attributes": log.attributes,
        "trace_id": log.trace_id,
        "span_id": log.span_id,
        "service": log.service,
    }


def message(log: Any) -> str:
    """A log record's text for a table: its body, else its event name and exception message."""
    if log.body is not None:
        return q.printable(log.body)
    parts = [log.event_name or ""]
    if log.attributes.get("exception.message") is not None:
        parts.append(str(log.attributes["exception.message"]))
    return q.printable(": ".join(part for part in parts if part) or "-")


def document(trace_id: str, spans: Sequence[Any], logs: Sequence[Any]) -> dict[str, Any]:
    """The JSON of ``infertel trace --json``: the trace's totals, its span tree, its log records."""
    start_ns = min(s.start_time_ns for s in spans)
    end_ns = max(s.end_time_ns for s in spans)
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for depth, span in walk(spans):
        node = _span_json(span, start_ns)
        nodes[span.span_id] = node
        (roots if depth == 0 else nodes[span.parent_span_id]["children"]).append(node)
    services = sorted({s.resource.get("service.name") for s in spans if s.resource.get("service.name")})
    return {
        "trace_id": trace_id,
        "services": services,
        "start_time": q.iso(start_ns),
        "start_time_unix_nano": start_ns,
        "end_time_unix_nano": end_ns,
        "duration_s": (end_ns - start_ns) / 1e9,
        "span_count": len(spans),
        "error_count": sum(s.status_code == "ERROR" for s in spans),
        "spans": roots,
        "logs": [log_json(log) for log in logs],
    }


def run(args: argparse.Namespace) -> int:
    """Print the trace; returns the exit status (2 when the store has no such trace).

    JSON shape: ``{"trace_id", "services", "start_time", "start_time_unix_nano", "end_time_unix_nano",
    "duration_s", "span_count", "error_count", "spans": [span], "logs": [log]}``; a span is ``{"span_id",
    "parent_span_id", "name", "kind", "status_code", "status_message", "service", "model", "operation",
    "start_time", "start_time_unix_nano", "end_time_unix_nano", "offset_s", "duration_s", "attributes",
    "events": [{"name", "time", "time_unix_nano", "attributes"}], "links", "resource", "children": [span]}``;
    a log as in ``infertel logs --json``.
    """
    from infertel.dashboard.panels import format_unit

    with q.open_store(args.store) as store:
        spans = store.trace(args.trace_id)
        logs = store.trace_logs(args.trace_id) if spans else []
        path = store.path
    if not spans:
        raise CommandError(f"no trace {args.trace_id} in {path}")
    doc = document(args.trace_id, spans, logs)
    if args.json:
        q.write_json(doc)
        return 0
    start_ns = doc["start_time_unix_nano"]
    plural = "s" if doc["span_count"] != 1 else ""
    q.write(
        f"Trace {args.trace_id}  {q.printable(', '.join(doc['services']) or '-')}  "
        f"started {q.local_time(start_ns, millis=True)}  {format_unit('s', doc['duration_s'])}  "
        f"{doc['span_count']} span{plural}, {doc['error_count']} failed"
    )
    q.write("")
    rows = []
    for depth, span in walk(spans):
        status = span.status_code + (f": {q.printable(span.status_message)}" if span.status_message else "")
        offset = "+" + format_unit("s", (span.start_time_ns - start_ns) / 1e9)
        rows.append([
            "  " * depth + q.printable(span.name), span.kind, offset, format_unit("s", span.duration_s),
            q.printable(span.model or "-"), status,
        ])  # fmt: skip
    q.write(q.table(["SPAN", "KIND", "START", "DURATION", "MODEL", "STATUS"], rows, right=[2, 3]))
    if logs:
        q.write("")
        log_rows = [
            [q.local_time(log.time_ns, millis=True), q.level_name(log.severity_number, log.severity_text),
             log.span_id or "-", message(log)]
            for log in logs
        ]  # fmt: skip
        q.write(q.table(["TIME", "LEVEL", "SPAN", "MESSAGE"], log_rows))
    return 0
