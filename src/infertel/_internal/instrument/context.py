"""The OpenTelemetry context of an inference call: its span current, and the call itself.

``current_inference()`` reads the call back from the context, so it works wherever the span is
current: inside an ``@observe`` function, an ``inference(...)`` block, a stream's body, and in
child spans started there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from infertel._internal import compat
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
    return otel_context.Context({**get_current(), _SPAN_KEY: inv._span, _INVOCATION_KEY: inv})


# Both probed in compat (private members of the API: the span's Context key, the runtime's
# ContextVar); None means the public functions serve.
_SPAN_KEY = compat.span_context_key()
_RUNTIME_VAR = compat.runtime_context_var()


def _detach_var(token: Any) -> None:
    """``otel_context.detach`` on the ContextVar itself; a failure goes through OTel's (same log line)."""
    try:
        _RUNTIME_VAR.reset(token)  # type: ignore[union-attr]
    except Exception:
        otel_context.detach(token)


attach: Callable[[otel_context.Context], Any]
detach: Callable[[Any], None]
reset: Callable[[Any], Any]
"""``detach`` that raises instead of logging; callers fall back to ``otel_context.detach`` (which logs)."""
get_current: Callable[[], otel_context.Context]
if _RUNTIME_VAR is not None:
    # With the default contextvars runtime (every supported OTel API release), OTel's
    # attach/detach/get_current are two Python calls around these; per call they cost more
    # than the rest of infertel's work on the hot path.
    attach, detach, reset, get_current = _RUNTIME_VAR.set, _detach_var, _RUNTIME_VAR.reset, _RUNTIME_VAR.get
else:
    attach, detach, reset, get_current = (
        otel_context.attach,
        otel_context.detach,
        otel_context.detach,
        otel_context.get_current,
    )
