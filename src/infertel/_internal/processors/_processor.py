"""The span processor that turns GenAI spans into live statistics."""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from infertel import semconv
from infertel._internal import compat
from infertel._internal.compat import public_ended_span_fields, public_span_attributes, public_span_id
from infertel._internal.errors import log_internal_error, reraise_enabled
from infertel._internal.processors._stats import FOLD_BATCH, MAX_TRACKED_IN_FLIGHT, InferenceStats

_logger = logging.getLogger(__name__)

_OP = semconv.GEN_AI_OPERATION_NAME
_MODEL = semconv.GEN_AI_REQUEST_MODEL
_ERROR_TYPE = semconv.ERROR_TYPE
_TTFT = semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
_TPOT = semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN
_INPUT = semconv.GEN_AI_USAGE_INPUT_TOKENS
_OUTPUT = semconv.GEN_AI_USAGE_OUTPUT_TOKENS
_ERROR = StatusCode.ERROR

MAX_PENDING_PARENTS = 4096
"""Parents of counted GenAI spans remembered until they end (oldest forgotten first)."""


# The span reads of the hot path (see compat: the SDK span's plain attribute dict and fields when
# the probe found them, else the public properties; spans of other shapes take the public ones).
_attributes_of = compat.span_attributes
_span_id_of = compat.span_id
_ended_fields_of = compat.ended_span_fields


class InferenceStatsSpanProcessor(SpanProcessor):
    """Feeds GenAI spans into :class:`InferenceStats` (latency/TTFT/TPOT quantiles, throughput, errors).

    A span counts when it carries ``gen_ai.operation.name``; its series is
    ``(gen_ai.request.model, gen_ai.operation.name, *extra_attributes)``. ``on_start`` counts it
    in flight (when the operation name is set at start), ``on_end`` records latency
    (end - start), ``gen_ai.response.time_to_first_chunk``, ``infertel.time_per_output_token``,
    ``gen_ai.usage.*`` and ``error.type`` (or ``_OTHER`` for an ERROR status without one).
    One request is counted once: a GenAI span whose child of the same series was already
    counted (an HTTP server span around the in-process model call, a wrapper function observed
    with the same model and operation) is not counted again; the innermost measurement wins.
    Other spans cost one dictionary lookup.

    Threading and exceptions: ``on_start`` and ``on_end`` are called synchronously on the
    thread that starts or ends the span, from any number of threads and event loops at once;
    they take no lock (a lock-free append, plus an occasional batch fold when no other thread
    holds the statistics lock) and never block on I/O. They never raise into
    ``span.start()`` / ``span.end()``: failures follow the ``handle_internal_errors`` policy
    (logged once per call site, data point dropped; re-raised under the test-suite switch).
    ``shutdown`` stops recording; ``force_flush`` has nothing to flush and returns ``True``.

    Args:
        stats: Where statistics go; a new :class:`InferenceStats` built from ``options`` when omitted.
        **options: Keyword options of :class:`InferenceStats` (``windows_s``, ``quantiles``, ...).

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider
        >>> provider = TracerProvider()
        >>> processor = InferenceStatsSpanProcessor(windows_s=(60,))
        >>> provider.add_span_processor(processor)
        >>> with provider.get_tracer("demo").start_as_current_span(
        ...     "chat m", attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
        ... ):
        ...     pass
        >>> processor.stats.snapshot(60)["m", "chat"].requests
        1
    """

    def __init__(self, stats: InferenceStats | None = None, **options: Any) -> None:
        self.stats = stats if stats is not None else InferenceStats(**options)
        self._extras = self.stats.extra_attributes
        self._buffer = self.stats.buffer
        self._started = self.stats.in_flight_spans
        self._clock = self.stats.clock
        self._counted_children: dict[int, Any] = {}
        """Parent span id -> series key of a GenAI child already counted (bounded, FIFO)."""
        self._active = True

    # on_start / on_end apply the policy of ``handle_internal_errors`` (re-raise under the test
    # switch, else log once per call site and drop) written out as try/except: a ``with`` block
    # costs 0.1-0.3 µs here, a tenth of the whole budget per span, and try is free in 3.11+.
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Count a GenAI span in flight (see the class docstring for the contract)."""
        try:
            try:
                attrs = _attributes_of(span)
            except AttributeError:  # not an SDK span (see compat)
                attrs = public_span_attributes(span)
            operation = attrs.get(_OP)
            if operation is None or not self._active:
                return
            started = self._started
            if len(started) >= MAX_TRACKED_IN_FLIGHT:
                return
            # The live attribute dict, not a key: the series key is derived when in-flight counts
            # are read.
            try:
                span_id = _span_id_of(span)
            except AttributeError:
                span_id = public_span_id(span)
            started[span_id] = attrs
        except Exception as exc:
            if reraise_enabled():
                raise
            log_internal_error(exc)

    def on_end(self, span: ReadableSpan) -> None:
        """Record an ended GenAI span (see the class docstring for the contract)."""
        try:
            try:
                attrs = _attributes_of(span)
            except AttributeError:  # not an SDK span (see compat)
                attrs = public_span_attributes(span)
            operation = attrs.get(_OP)
            if operation is None or not self._active:
                return
            try:
                span_id, start, end, status_code, parent_id = _ended_fields_of(span)
            except AttributeError:
                span_id, start, end, status_code, parent_id = public_ended_span_fields(span)
            started = self._started
            if started:
                started.pop(span_id, None)
            latency = (end - start) / 1e9 if start is not None and end is not None and end > start else 0.0
            error_type = attrs.get(_ERROR_TYPE)
            if error_type is None and status_code is _ERROR:
                error_type = "_OTHER"
            extras = self._extras
            if extras:
                key: tuple[Any, ...] = (attrs.get(_MODEL), operation, *[attrs.get(a) for a in extras])
            else:
                key = (attrs.get(_MODEL), operation)
            counted = self._counted_children
            if counted and counted.pop(span_id, None) == key:
                return  # a child of the same series already counted this request
            if parent_id is not None:
                while len(counted) >= MAX_PENDING_PARENTS:
                    # Spans end on many threads: another one may evict the same oldest entry, or
                    # change the dict between iter() and next(); either way one entry is gone.
                    try:
                        counted.pop(next(iter(counted)), None)
                    except (RuntimeError, StopIteration):
                        break
                counted[parent_id] = key
            buffer = self._buffer
            buffer.append(
                (
                    self._clock(),
                    key,
                    latency,
                    attrs.get(_TTFT),
                    attrs.get(_TPOT),
                    attrs.get(_INPUT),
                    attrs.get(_OUTPUT),
                    error_type,
                )
            )
            if len(buffer) >= FOLD_BATCH:
                self.stats.fold_if_idle()
        except Exception as exc:
            if reraise_enabled():
                raise
            log_internal_error(exc)

    def reset_after_fork(self) -> None:
        """In a forked child: forget the parent's counted spans (its statistics reset themselves)."""
        self._counted_children.clear()

    def shutdown(self) -> None:
        """Stop recording (statistics already gathered stay readable)."""
        self._active = False

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is buffered for export; returns ``True``."""
        return True
