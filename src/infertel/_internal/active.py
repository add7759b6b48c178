"""Requests in flight now in this process: a read-only view for the dashboard's "Active requests" page.

Two sources, both already kept by infertel and only read here:

* the statistics processor's in-flight table (every GenAI span started and not ended, up to
  ``MAX_TRACKED_IN_FLIGHT``: span id -> the span's live attributes);
* the stream reaper's registry of open streams (the :class:`Inference` of every stream whose span
  has not ended: its span, start time and the chunks and tokens seen so far).

A stream's age is exact (its span's start). A non-streaming span's table entry holds no start
time (the hot path stores only its attributes), so its age is counted from the first call of
:func:`active_requests` that saw it, and marked ``age_exact=False``: a lower bound.

Threading: :func:`active_requests` may run on any thread; it copies both tables with one C-level
``list()``/``dict()`` call each (safe against concurrent ``on_start``/``on_end``) and takes only
its own lock. It never raises: a failure is logged once and returns what was read so far.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from infertel import semconv
from infertel._internal.errors import handle_internal_errors

_logger = logging.getLogger(__name__)

_first_seen: dict[int, int] = {}
"""Span id -> ``time.time_ns()`` when a non-streaming in-flight span was first seen here."""
_lock = threading.Lock()


@dataclass(frozen=True)
class ActiveRequest:
    """One request in flight now.

    Attributes:
        span_id: The span's id, 16 lower-case hex digits.
        trace_id: The trace's id (32 hex digits) when known (streams), else ``None``.
        model: ``gen_ai.request.model``.
        operation: ``gen_ai.operation.name``.
        start_time_ns: Wall-clock start (Unix ns): the span's start for streams, the first time seen otherwise.
        age_s: Seconds since ``start_time_ns``.
        age_exact: ``False`` when the age is a lower bound (a non-streaming span seen late).
        stream: Whether the request is a stream.
        chunks: Chunks streamed so far, at least (the stream proxy folds most of its count in at
            the end; 0 for a non-stream).
        output_tokens: Output tokens so far when known (set explicitly, else counted: at least).

    Example:
        >>> ActiveRequest("00f067aa0ba902b7", None, "m", "chat", 0, 1.5, False, False, 0, None).age_s
        1.5
    """

    span_id: str
    trace_id: str | None
    model: str | None
    operation: str | None
    start_time_ns: int
    age_s: float
    age_exact: bool
    stream: bool
    chunks: int
    output_tokens: int | None


def _open_streams() -> list[Any]:
    from infertel._internal.instrument import reaper

    return list(reaper._open.values())


def _in_flight() -> dict[int, Any]:
    from infertel._internal.processors import current

    handle = current()
    return {} if handle is None else dict(handle.stats.in_flight_spans)


def _stream_request(inv: Any, now_ns: int) -> ActiveRequest:
    span = inv.span
    ctx = span.get_span_context()
    attrs = span.attributes or {}
    start = span.start_time or now_ns
    # The stream proxy counts plain chunks in its own frame and folds them in when the stream ends:
    # what is read here is a lower bound of the chunks (and counted tokens) streamed so far.
    pending = int(inv._fast_chunks)
    output = inv._output if inv._output is not None else ((inv._counted + pending) or None)
    return ActiveRequest(
        span_id=f"{ctx.span_id:016x}",
        trace_id=f"{ctx.trace_id:032x}",
        model=_text(attrs.get(semconv.GEN_AI_REQUEST_MODEL)),
        operation=_text(attrs.get(semconv.GEN_AI_OPERATION_NAME)),
        start_time_ns=start,
        age_s=max(0.0, (now_ns - start) / 1e9),
        age_exact=True,
        stream=True,
        chunks=int(inv._chunks) + pending,
        output_tokens=output,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def active_requests(*, now_ns: int | None = None) -> list[ActiveRequest]:
    """Requests in flight now in this process, oldest first.

    Args:
        now_ns: The current wall-clock time in Unix ns (default ``time.time_ns()``).

    Returns:
        One entry per GenAI span started and not ended (streams included); empty when
        ``configure()`` installed no statistics and no stream is open.

    Example:
        >>> import infertel
        >>> with infertel.inference(model="m", operation="chat"):
        ...     [r.model for r in active_requests()]  # doctest: +SKIP
        ['m']
    """
    now = time.time_ns() if now_ns is None else now_ns
    found: dict[str, ActiveRequest] = {}
    with handle_internal_errors:
        for inv in _open_streams():
            request = _stream_request(inv, now)
            found[request.span_id] = request
        table = _in_flight()
        with _lock:
            for gone in [k for k in _first_seen if k not in table]:
                del _first_seen[gone]
            for span_id, attrs in table.items():
                key = f"{span_id:016x}"
                if key in found:
                    continue
                seen = _first_seen.setdefault(span_id, now)
                if isinstance(attrs, tuple):  # a series key (model, operation, ...) from record_start()
                    model, operation = (attrs + (None, None))[:2]
                else:
                    model, operation = attrs.get(semconv.GEN_AI_REQUEST_MODEL), attrs.get(semconv.GEN_AI_OPERATION_NAME)
                found[key] = ActiveRequest(
                    span_id=key, trace_id=None, model=_text(model), operation=_text(operation), start_time_ns=seen,
                    age_s=max(0.0, (now - seen) / 1e9), age_exact=False, stream=False, chunks=0, output_tokens=None,
                )  # fmt: skip
    return sorted(found.values(), key=lambda r: r.start_time_ns)
