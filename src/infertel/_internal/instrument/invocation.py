"""One inference call: its span, token counts, stream timing, and the metrics recorded at its end.

An :class:`Inference` is created by ``@observe`` for every call and by ``inference(...)`` for
every block; ``current_inference()`` returns the one active in the current context. Its
public methods run on the user's thread and never raise: failures are internal errors
(``handle_internal_errors``) and bad values are dropped with a rate-limited warning.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from infertel import semconv
from infertel._internal.errors import call_user_callback, handle_internal_errors
from infertel._internal.instrument import content, tokens
from infertel._internal.instrument.exceptions import error_type, exception_event
from infertel._internal.instrument.response import ResponseReader
from infertel._internal.instrument.site import Binding, Site
from infertel._internal.instrument.tokens import finish_reason, valid_count
from infertel._internal.limits import MAX_NAME_LENGTH, bound_name, bound_value, exception_message
from infertel._internal.metrics.scope import suppressed as _metrics_suppressed
from infertel.cost import _runtime as _cost

_perf_ns = time.perf_counter_ns
_PLAIN_CHUNKS = (str, bytes, int, float)
_MAX_HANDLES = 256
_INTERNAL = SpanKind.INTERNAL
MAX_CHUNK_GAPS = 100_000
"""Chunk gaps kept per client stream for ``gen_ai.client.operation.time_per_output_chunk`` (bounded memory)."""


class Inference(ResponseReader):
    """The invocation of one model call; see ``infertel.inference`` and ``infertel.current_inference``.

    Example:
        >>> import infertel
        >>> with infertel.inference(model="llama-3-8b", operation="chat") as inv:
        ...     inv.set_input_tokens(12)
        ...     for token in ["Hel", "lo"]:
        ...         inv.record_chunk(token)
    """

    __slots__ = (  # and ResponseReader's
        "_site",
        "_binding",
        "_span",
        "_start_ns",
        "_first_ns",
        "_last_ns",
        "_chunks",
        "_error_type",
        "_ended",
        "_gaps",
        "_stream",
        "_fast_chunks",
        "_output_pending",
    )

    def __init__(self, site: Site, binding: Binding, span: Span, stream: bool = False) -> None:
        self._site = site
        self._binding = binding
        self._span = span
        self._start_ns = _perf_ns()
        self._first_ns = 0
        self._last_ns = 0
        self._chunks = 0
        self._counted = 0
        self._input: int | None = None
        self._input_priority = 0
        self._output: int | None = None
        self._output_priority = 0
        self._response_model: str | None = None
        self._response_id: str | None = None
        self._finish_reasons: list[str] | None = None
        self._error_type: str | None = None
        self._ended = False
        self._gaps: list[float] | None = [] if site.metrics.per_chunk else None
        self._text: list[str] | None = [] if binding.capture else None
        self._text_left = binding.max_length
        self._stream = stream
        self._fast_chunks = 0
        self._output_pending: Any = None

    # --- public API -----------------------------------------------------------------------------
    @property
    def span(self) -> Span:
        """The OpenTelemetry span of this call."""
        return self._span

    def set_input_tokens(self, count: int) -> None:
        """Set the number of input (prompt) tokens; overrides any extracted count."""
        with handle_internal_errors:
            self._set_input(tokens.valid_count(count, "input"), tokens.PRIORITY_EXPLICIT)

    def set_output_tokens(self, count: int) -> None:
        """Set the number of output (completion) tokens; overrides any extracted or counted one."""
        with handle_internal_errors:
            self._set_output(tokens.valid_count(count, "output"), tokens.PRIORITY_EXPLICIT)

    def add_output_tokens(self, count: int) -> None:
        """Add to the explicitly set number of output tokens (starts at 0)."""
        with handle_internal_errors:
            value = tokens.valid_count(count, "output")
            if value is None:
                return
            if self._output_priority < tokens.PRIORITY_EXPLICIT or self._output is None:
                self._output, self._output_priority = 0, tokens.PRIORITY_EXPLICIT
            self._output += value

    def record_chunk(self, chunk: Any = None, *, tokens: int | None = None) -> None:
        """Record one streamed chunk; the first one marks the time to first token.

        Args:
            chunk: The chunk (its usage or token ids are counted, else it counts as one token).
            tokens: How many output tokens the chunk stands for, when the caller knows.
        """
        with handle_internal_errors:
            self._stream = True
            if tokens is None:
                self._on_chunk(chunk)
                return
            count = valid_count(tokens, "output")
            self._tick()
            if count is not None:
                self._counted += count

    def set_response_model(self, model: str) -> None:
        """Set ``gen_ai.response.model`` (defaults to the requested model on success)."""
        with handle_internal_errors:
            if isinstance(model, str) and model:
                self._response_model = model

    def set_response_id(self, response_id: str) -> None:
        """Set ``gen_ai.response.id``."""
        with handle_internal_errors:
            if isinstance(response_id, str) and response_id:
                self._response_id = response_id

    def set_finish_reasons(self, reasons: Sequence[str | None]) -> None:
        """Set ``gen_ai.response.finish_reasons``, one per generation (choice) in order.

        A missing or empty reason (a generation cut off before its last chunk) becomes ``error``,
        as the semantic conventions ask, so the list stays aligned with the generations.
        """
        with handle_internal_errors:
            self._finish_reasons = [finish_reason(r) for r in reasons]

    def set_input_messages(self, messages: Any) -> None:
        """Record the prompt messages (only when content capture is on; truncated)."""
        with handle_internal_errors:
            if self._binding.capture:
                self._capture(semconv.GEN_AI_INPUT_MESSAGES, messages, "user")

    def set_output_messages(self, messages: Any) -> None:
        """Record the completion messages (only when content capture is on; truncated).

        Each message carries a ``finish_reason``: its own, else the reason of the generation at its
        position (:meth:`set_finish_reasons`), else ``stop`` (``error`` when the call failed).
        """
        with handle_internal_errors:
            if self._binding.capture:
                self._text = None
                self._output_pending = messages

    def set_attribute(self, key: str, value: Any) -> None:
        """Set any attribute on the span."""
        with handle_internal_errors:
            self._span.set_attribute(bound_name(key, "attribute name"), bound_value(value, key))

    # --- internals (callers hold handle_internal_errors) ----------------------------------------
    def _capture(self, attribute: str, messages: Any, role: str) -> None:
        serialized = content.serialize(content.to_messages(messages, role), self._binding.max_length)
        self._span.set_attribute(attribute, serialized)

    def _capture_output(self, messages: Any) -> None:
        """``gen_ai.output.messages``: every message with a ``finish_reason`` (the schema requires one)."""
        converted = content.to_messages(messages, "assistant")
        reasons = self._finish_reasons or []
        fallback = semconv.GEN_AI_FINISH_REASON_ERROR if self._error_type else semconv.GEN_AI_FINISH_REASON_STOP
        for i, message in enumerate(converted):
            if not (isinstance(message.get("finish_reason"), str) and message["finish_reason"]):
                message["finish_reason"] = reasons[i] if i < len(reasons) else fallback
        self._span.set_attribute(semconv.GEN_AI_OUTPUT_MESSAGES, content.serialize(converted, self._binding.max_length))

    def _tick(self) -> None:
        now = _perf_ns()
        if self._chunks == 0:
            self._first_ns = now
        elif self._gaps is not None and len(self._gaps) < MAX_CHUNK_GAPS:
            self._gaps.append((now - self._last_ns) / 1e9)
        self._last_ns = now
        self._chunks += 1

    def _on_chunk(self, chunk: Any) -> bool:
        """Account for one streamed chunk; True when later plain chunks only need counting.

        A stream proxy then adds such chunks to ``_fast_chunks`` itself (folded in by :meth:`end`).
        """
        gaps = self._gaps
        if gaps is not None:  # client kind: every gap between chunks is a data point
            now = _perf_ns()
            if self._chunks and len(gaps) < MAX_CHUNK_GAPS:
                gaps.append((now - self._last_ns) / 1e9)
            else:
                self._first_ns = now
            self._last_ns = now
        elif not self._chunks:
            self._first_ns = _perf_ns()
        self._chunks += 1
        if type(chunk) in _PLAIN_CHUNKS:
            self._counted += 1
        else:
            self._chunk_slow(chunk)
        if self._text is not None:
            self._keep_text(chunk)
        if self._site.usage is not None:
            self._apply_usage(call_user_callback(self._site.usage, chunk, default=None, what="usage= extractor"))
            return False
        return gaps is None and self._text is None

    def _on_error(self, exc: BaseException) -> None:
        """Record the user's exception: status ERROR, ``error.type``, a ``gen_ai.client.operation.exception`` event.

        The status description is the exception's message; the event is a log record (severity
        WARN) in the span's context. No span event (``Span.record_exception``): the semantic
        conventions advise against it.
        """
        self._error_type = kind = error_type(exc)
        span = self._span
        message = exception_message(exc)  # bounded; a placeholder when the exception's __str__ raises
        span.set_status(Status(StatusCode.ERROR, message))
        logger = self._binding.logger
        if logger is not None:
            exception_event(logger, span, exc, kind, message)

    def end(self, end_reason: str | None = None) -> None:
        """End the span and record the metrics now (exactly once; later calls do nothing).

        ``@observe`` and ``inference(...)`` call it themselves; integrations that drive a stream
        by hand may end it early with ``end_reason`` (``infertel.stream.end_reason``).
        """
        with handle_internal_errors:
            self._end_unguarded(end_reason)

    def _end_unguarded(self, end_reason: str | None = None, released_ns: int | None = None) -> None:
        """:meth:`end` without the guard (for callers that hold ``handle_internal_errors``).

        ``released_ns`` (``perf_counter_ns``): the span ends at that earlier time, not now (a stream
        released in a finalizer and ended later by the reaper thread).
        """
        if self._ended:
            return
        self._ended = True
        end_ns = _perf_ns()  # monotonic, as are the start and first-chunk times: no negative spans
        end_time = None
        if released_ns is not None and self._start_ns <= released_ns < end_ns:
            end_time = time.time_ns() - (_perf_ns() - released_ns)
            end_ns = released_ns
        chunks = self._chunks
        if self._fast_chunks:
            chunks = self._chunks = chunks + self._fast_chunks
            self._counted += self._fast_chunks
            self._fast_chunks = 0
        site = self._site
        duration = (end_ns - self._start_ns) / 1e9
        error = self._error_type
        output = self._output
        if output is None and chunks:
            output = self._counted
        response_model = self._response_model or (site.model if error is None else None)
        if response_model and len(response_model) > MAX_NAME_LENGTH:  # from a result or chunk: unchecked
            response_model = bound_name(response_model, "response model name")
        attributes: dict[str, Any] = {}
        if response_model:
            attributes[semconv.GEN_AI_RESPONSE_MODEL] = response_model
        if self._response_id:
            rid = self._response_id
            if len(rid) > MAX_NAME_LENGTH:
                rid = bound_name(rid, "response id")
            attributes[semconv.GEN_AI_RESPONSE_ID] = rid
        if self._finish_reasons:
            reasons = self._finish_reasons
            if len(reasons) > 1 or len(reasons[0]) > MAX_NAME_LENGTH:  # one short reason: the common case
                reasons = bound_value(reasons, "finish reasons")
            attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        if self._input is not None:
            attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] = self._input
        if output is not None:
            attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = output
            if duration > 0:
                attributes[semconv.INFERTEL_OUTPUT_TOKENS_PER_SECOND] = output / duration
        if error is not None:
            attributes[semconv.ERROR_TYPE] = error
        elif _cost.active is not None:  # a price table is configured
            cost = _cost.active.record(response_model or site.model, site.operation, self._input, output)
            if cost is not None:
                attributes[semconv.INFERTEL_COST_USD] = cost
        first = per_output = None
        if self._stream:
            if not site.stream:  # else among the start attributes
                attributes[semconv.GEN_AI_REQUEST_STREAM] = True
            attributes[semconv.INFERTEL_STREAM_CHUNKS] = chunks
            if end_reason is not None:
                attributes[semconv.INFERTEL_STREAM_END_REASON] = end_reason
            if chunks:
                first = (self._first_ns - self._start_ns) / 1e9
                attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = first
                if output is not None and output > 1:
                    per_output = (end_ns - self._first_ns) / 1e9 / (output - 1)
                    attributes[semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN] = per_output
        if self._output_pending is not None:
            self._capture_output(self._output_pending)
        elif self._text:
            self._capture_output("".join(self._text))
        span = self._span
        span.set_attributes(attributes)
        span.end(end_time)
        binding = self._binding
        recorder = binding.recorder
        if recorder is None or (site.span_kind is _INTERNAL and _metrics_suppressed()):
            return  # no MeterProvider, or an enclosing HTTP server layer records this request
        metrics = binding.metrics
        handle = binding.handles.get((response_model, error))
        if handle is None:
            handle = recorder.resolve(metrics, site.metric_key(response_model), error)
            if recorder.cacheable and len(binding.handles) < _MAX_HANDLES:
                binding.handles[(response_model, error)] = handle
        if error is not None:
            recorder.record_resolved(metrics, handle, duration, self._input, output, None, None, None)
        elif metrics.per_chunk:
            recorder.record_resolved(metrics, handle, duration, self._input, output, first, None, self._gaps)
        else:
            recorder.record_resolved(metrics, handle, duration, self._input, output, first, per_output, None)


def start(site: Site, binding: Binding, stream: bool = False) -> Inference:
    """Start the span of one call (not attached to the context)."""
    span = binding.tracer.start_span(site.span_name, kind=site.span_kind, attributes=site.start_attributes)
    return Inference(site, binding, span, stream)
