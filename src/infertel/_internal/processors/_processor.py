"""The span processor that turns GenAI spans into live statistics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from infertel import semconv
from infertel._internal import compat
from infertel._internal.errors import log_internal_error, reraise_enabled
from infertel._internal.processors._stats import FOLD_BATCH, MAX_TRACKED_IN_FLIGHT, InferenceStats

_logger = logging.getLogger(__name__)

_OP = semconv.GEN_AI_OPERATION_NAME


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
    Other spans cost one dictionary lookup per call.

    Threading and exceptions: ``on_start`` and ``on_end`` are called synchronously on the
    thread that starts or ends the span, from any number of threads and event loops at once;
    they take no lock (a lock-free append, plus an occasional batch fold when no other thread
    holds the statistics lock) and never block on I/O. They never raise into
    ``span.start()`` / ``span.end()``: failures follow the ``handle_internal_errors`` policy
    (logged once per call site, data point dropped; re-raised under the test-suite switch).
    ``shutdown`` stops recording; ``force_flush`` has nothing to flush and returns ``True``, or
    ``False`` when ended spans were dropped since the last call (only when folding stalls while
    ``MAX_BUFFER`` spans end; :meth:`InferenceStats.losses` counts them).

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
        self._losses_seen = 0
        self._set_hot_path(_hot_path(self.stats))

    def _set_hot_path(self, hot: tuple[Callable[..., None], Callable[[Any], None]]) -> None:
        self._hot = hot
        # The closures go on the instance too, so that the SDK's ``processor.on_start(...)`` finds
        # them before the methods below (unless a subclass overrides those: then its own run, and
        # reach the closures through ``super()``).
        for name, function in zip(("on_start", "on_end"), hot, strict=True):
            if getattr(type(self), name) is getattr(InferenceStatsSpanProcessor, name):
                vars(self)[name] = function

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Count a GenAI span in flight (see the class docstring for the contract)."""
        self._hot[0](span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        """Record an ended GenAI span (see the class docstring for the contract)."""
        self._hot[1](span)

    def reset_after_fork(self) -> None:
        """In a forked child: nothing of the processor's own to forget (its statistics reset themselves)."""
        self._losses_seen = 0

    def shutdown(self) -> None:
        """Stop recording (statistics already gathered stay readable)."""
        self._set_hot_path((_ignore, _ignore))

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is buffered for export; ``False`` when ended spans were dropped since the last call.

        A drop only happens when folding stalls while :data:`~._stats.MAX_BUFFER` spans end.
        """
        losses = self.stats.losses()
        seen, self._losses_seen = self._losses_seen, losses
        return losses == seen


def _ignore(span: Any, parent_context: Any = None) -> None:
    """``on_start`` / ``on_end`` of a processor that was shut down."""


def _hot_path(stats: InferenceStats) -> tuple[Callable[..., None], Callable[[Any], None]]:
    """``(on_start, on_end)`` of a processor feeding ``stats``.

    Built by :func:`compat.statistics_span_hooks`, which reads an SDK span's private fields inline
    (see there why) and falls back to :func:`_public_hooks`, the same pair through the public span
    properties (for a span of another shape, or every span when its probe failed). ``on_end``
    appends one record per GenAI span (``_fold.SPAN_RECORD_FIELDS``: the clock, the operation, the
    span's attribute mapping, ids, elapsed time and status) to the statistics buffer
    (:mod:`._buffer`: the C extension's reads the six attribute values the fold needs right then,
    a list keeps the tuple); the latency, the series key and the checks are done by the fold, for
    a whole batch at once, on the background folder's thread. The containers captured here are
    never replaced (a fork clears them in place).
    """
    return compat.statistics_span_hooks(stats, _OP, MAX_TRACKED_IN_FLIGHT, FOLD_BATCH, _public_hooks(stats))


def _public_hooks(stats: InferenceStats) -> tuple[Callable[..., None], Callable[[Any], None]]:
    """``(on_start, on_end)`` reading the public span properties (the same records as compat's pair).

    Closures, so that every name they use is a fast local; the ``handle_internal_errors`` policy is
    written out as try/except (a ``with`` block costs 0.1-0.3 µs). A time the span lacks reads 0.
    """
    started, buffer, clock, buffer_full = stats.in_flight_spans, stats.buffer, stats.clock, stats.buffer_full
    append = buffer.append
    op, max_tracked, fold_batch = _OP, MAX_TRACKED_IN_FLIGHT, FOLD_BATCH

    def on_start(span: Any, parent_context: Context | None = None) -> None:
        try:
            attributes = span.attributes or {}
            if attributes.get(op) is not None and len(started) < max_tracked:
                started[span.context.span_id] = attributes
        except Exception as exc:
            if reraise_enabled():
                raise
            log_internal_error(exc)

    def on_end(span: Any) -> None:
        try:
            attributes = span.attributes or {}
            value = attributes.get(op)
            if value is None:
                return  # not a GenAI span
            parent = span.parent
            span_id = span.context.span_id
            record = (
                clock(),
                value,
                attributes,
                span_id,
                (span.end_time or 0) - (span.start_time or 0),
                span.status.status_code,
                None if parent is None else parent.span_id,
            )
            if started:
                started.pop(span_id, None)
            append(record)
            if len(buffer) >= fold_batch:
                buffer_full()
        except Exception as exc:
            if reraise_enabled():
                raise
            log_internal_error(exc)

    return on_start, on_end
