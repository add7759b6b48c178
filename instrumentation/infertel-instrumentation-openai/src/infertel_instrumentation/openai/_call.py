"""One instrumented ``create()`` call: its infertel invocation from request to last chunk.

The invocation is entered in a private copy of the caller's context, so the span it makes
current there never leaks into the caller's context: a stream returned to the caller can be
consumed (and its span ended) later, in any thread or task, without "Failed to detach
context". While the HTTP request itself runs, the span is made current in the caller's context
(attached and detached by the same frame), and its W3C trace context is sent in the request
headers, so the server's spans join the trace.

Threading: a ``_Call`` is used by one thread at a time (the one iterating the stream); ``end`` is
idempotent and locked. A stream's invocation is registered with infertel (:meth:`_Call.track`):
one let go unfinished is ended on infertel's background thread and one still open at
``infertel.shutdown()`` there, both with :meth:`_Call._finish_stream` adding the last attributes;
whoever claims the invocation first ends it, exactly once.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

import infertel
from infertel import instrumentation, semconv
from infertel_instrumentation.openai import _extract

_OUTPUT_TEXT_LIMIT = 65536
"""Characters of streamed output kept per choice for content capture (the core truncates further)."""


class _Call:
    """The infertel invocation of one ``create()`` call."""

    def __init__(
        self,
        operation: str,
        instance: Any,
        kwargs: dict[str, Any],
        *,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
        logger_provider: Any = None,
    ) -> None:
        self.operation = operation
        model = kwargs.get("model")
        host, port = _extract.server_address(instance)
        self.stream = kwargs.get("stream") is True
        # Everything that could fail is read before the span starts, so no span is left open.
        extra_attributes = _extract.extra_request_attributes(kwargs)
        messages = _extract.input_messages(operation, kwargs)
        self._manager = infertel.inference(
            model=model if isinstance(model, str) and model else "unknown",
            operation=operation,
            provider=semconv.GEN_AI_PROVIDER_OPENAI,
            kind="client",
            server_address=host,
            server_port=port,
            request=_extract.request_params(kwargs),
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            logger_provider=logger_provider,
        )
        self._context = contextvars.copy_context()
        self.invocation = self._context.run(self._manager.__enter__)
        self._lock = threading.Lock()
        self._ended = False
        self._tracked = False
        self._response_seen = False
        self._finish_reasons: dict[int, str] = {}
        self._texts: dict[int, list[str]] = {}
        self._text_lengths: dict[int, int] = {}
        for key, value in extra_attributes.items():
            self.invocation.set_attribute(key, value)
        if self.stream:
            # gen_ai.request.stream also when no chunk ever arrives (the core marks streams at their first chunk).
            self.invocation.set_attribute(semconv.GEN_AI_REQUEST_STREAM, True)
        if messages is not None:
            self.invocation.set_input_messages(messages)

    # --- request -----------------------------------------------------------------------------

    def request_kwargs(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """``kwargs`` with the span's trace context added to ``extra_headers`` (the user's headers win)."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(self.invocation.span))
        if not carrier:
            return dict(kwargs)
        user_headers = kwargs.get("extra_headers")
        headers: dict[str, Any] = dict(carrier)
        if isinstance(user_headers, Mapping):
            headers.update(user_headers)
        elif user_headers is not None:
            return dict(kwargs)
        return {**kwargs, "extra_headers": headers}

    def attach(self) -> object:
        """Make the span current in the caller's context for the duration of the HTTP request.

        Returns None (nothing attached) when infertel is disabled and the span is not a real one.
        """
        span = self.invocation.span
        if not span.get_span_context().is_valid:
            return None
        return otel_context.attach(trace.set_span_in_context(span))

    @staticmethod
    def detach(token: object) -> None:
        """Undo :meth:`attach` (same frame, same context)."""
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]

    # --- response ----------------------------------------------------------------------------

    def record_response(self, response: Any) -> None:
        """Response id, model, finish reasons, usage and output of a non-streamed call."""
        inv = self.invocation
        self._record_identity(response)
        usage = _extract.get(response, "usage")
        input_tokens, output_tokens = _extract.usage_tokens(usage)
        if input_tokens is not None:
            inv.set_input_tokens(input_tokens)
        for key, value in _extract.usage_details(usage).items():
            inv.set_attribute(key, value)
        if self.operation == semconv.GEN_AI_OPERATION_EMBEDDINGS:
            return
        if output_tokens is not None:
            inv.set_output_tokens(output_tokens)
        choices = _extract.get(response, "choices") or []
        reasons: list[str | None] = []
        messages: list[dict[str, Any]] = []
        for choice in choices:
            reason = _extract.get(choice, "finish_reason")
            reasons.append(reason if isinstance(reason, str) else None)  # None: reported as "error"
            messages.append(_extract.output_message(_extract.choice_text(choice) or "", reason))
        if choices:
            inv.set_finish_reasons(reasons)
            inv.set_output_messages(messages)

    def _record_identity(self, response: Any) -> None:
        inv = self.invocation
        response_id = _extract.get(response, "id")
        if isinstance(response_id, str):
            inv.set_response_id(response_id)
        model = _extract.get(response, "model")
        if isinstance(model, str):
            inv.set_response_model(model)
        tier = _extract.get(response, "service_tier")
        if isinstance(tier, str):
            inv.set_attribute(semconv.OPENAI_RESPONSE_SERVICE_TIER, tier)
        fingerprint = _extract.get(response, "system_fingerprint")
        if isinstance(fingerprint, str):
            inv.set_attribute(semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, fingerprint)

    def record_chunk(self, chunk: Any) -> None:
        """One stream chunk: time to first chunk, tokens counted per choice delta, usage when sent."""
        inv = self.invocation
        if not self._response_seen:
            self._response_seen = True
            self._record_identity(chunk)
        tokens = 0
        for choice in _extract.get(chunk, "choices") or []:
            index = _extract.get(choice, "index", 0)
            index = index if isinstance(index, int) else 0
            if _extract.delta_has_output(choice):
                tokens += 1
            text = _extract.delta_text(choice)
            if text:
                self._keep_text(index, text)
            reason = _extract.get(choice, "finish_reason")
            if isinstance(reason, str) and reason:
                self._finish_reasons[index] = reason
        inv.record_chunk(tokens=tokens)
        usage = _extract.get(chunk, "usage")
        if usage is None:
            return
        input_tokens, output_tokens = _extract.usage_tokens(usage)
        if input_tokens is not None:
            inv.set_input_tokens(input_tokens)
        if output_tokens is not None:
            inv.set_output_tokens(output_tokens)
        for key, value in _extract.usage_details(usage).items():
            inv.set_attribute(key, value)

    def _keep_text(self, index: int, text: str) -> None:
        length = self._text_lengths.get(index, 0)
        if length >= _OUTPUT_TEXT_LIMIT:
            return
        self._texts.setdefault(index, []).append(text[: _OUTPUT_TEXT_LIMIT - length])
        self._text_lengths[index] = length + len(text)

    # --- end ---------------------------------------------------------------------------------

    def track(self) -> None:
        """Register the stream with infertel: shutdown ends it, the proxy's finalizer may release it."""
        instrumentation.track_stream(self.invocation, finish=self._finish_stream)
        self._tracked = True

    def _finish_stream(self, stream_end_reason: str | None) -> None:
        """A stream's last attributes: finish reasons and output of every choice seen, the end reason."""
        inv = self.invocation
        indexes = sorted(set(self._finish_reasons) | set(self._texts))
        if indexes:
            # A choice whose last chunk never came (closed, abandoned, failed) reports "error".
            inv.set_finish_reasons([self._finish_reasons.get(i) for i in indexes])
            inv.set_output_messages(
                [_extract.output_message("".join(self._texts.get(i, [])), self._finish_reasons.get(i)) for i in indexes]
            )
        if stream_end_reason is not None:
            inv.set_attribute(semconv.INFERTEL_STREAM_END_REASON, stream_end_reason)

    def end(self, exc: BaseException | None = None, *, stream_end_reason: str | None = None) -> bool:
        """End the invocation once; returns False when it had already ended (or infertel ends it)."""
        with self._lock:
            if self._ended:
                return False
            self._ended = True
        if self._tracked and not instrumentation.claim_stream(self.invocation):
            return False  # released to infertel's background thread, or ended by shutdown()
        inv = self.invocation
        if self.stream:
            self._finish_stream(stream_end_reason)
        if exc is None:
            # End with our reason first (closed, abandoned ...): the block's own exit would say "exhausted".
            inv.end(stream_end_reason if self.stream else None)
            self._context.run(self._manager.__exit__, None, None, None)
        else:
            self._context.run(self._manager.__exit__, type(exc), exc, exc.__traceback__)
        return True
