"""The OpenTelemetry context of an inference call: its span current, and the call itself.

``current_inference()`` reads the call back from the context, so it works wherever the span is
current: inside an ``@observe`` function, an ``inference(...)`` block, a stream's body, and in
child spans started there.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace

from infertel._internal.instrument.invocation import Inference

_INVOCATION_KEY = otel_context.create_key("infertel.inference")


def current_inference() -> Inference | None:
    """The inference call active in the current context (``@observe`` or ``inference(...)``), or None.

    Example:
        >>> import infertel
        >>> @infertel.observe(model="llama-3-8b")
        ... def generate(prompt: str) -> str:
        ...     infertel.current_inference().set_input_tokens(len(prompt.split()))
        ...     return "hello"
    """
    found = otel_context.get_value(_INVOCATION_KEY)
    return found if isinstance(found, Inference) else None


def context_of(inv: Inference) -> otel_context.Context:
    """A context with ``inv``'s span current and ``inv`` as the current inference."""
    if _SPAN_KEY is None:
        return otel_context.set_value(_INVOCATION_KEY, inv, trace.set_span_in_context(inv.span))
    # One copy of the parent context instead of two (set_span_in_context + set_value).
    return otel_context.Context({**otel_context.get_current(), _SPAN_KEY: inv.span, _INVOCATION_KEY: inv})


def _span_key() -> str | None:
    try:
        from opentelemetry.trace.propagation import _SPAN_KEY as key
    except ImportError:  # an API version without it: the public (slower) path
        return None
    probe = trace.set_span_in_context(trace.INVALID_SPAN, otel_context.Context())
    return key if probe.get(key) is trace.INVALID_SPAN else None


_SPAN_KEY = _span_key()
