"""GenAI semantic-convention metrics: recording, and in-process pre-aggregation."""

from __future__ import annotations

from typing import Any

from infertel._internal import state
from infertel._internal.errors import handle_internal_errors
from infertel._internal.instrument.tokens import valid_count
from infertel._internal.limits import MAX_NAME_LENGTH, bound_name
from infertel._internal.metrics.hook import aggregator_for, enable_preaggregation
from infertel._internal.metrics.instruments import kind_metrics, mode_from_env
from infertel._internal.metrics.recorder import Recorder, recorder_for

__all__ = ["aggregator_for", "enable_preaggregation", "record_metrics"]

_KINDS = ("internal", "client")
_global_recorder: Recorder | None = None


def _recorder(meter_provider: Any) -> Recorder:
    global _global_recorder
    provider = meter_provider or state.current().meter_provider
    if provider is not None:
        return recorder_for(provider)
    if _global_recorder is None:
        _global_recorder = recorder_for(None)
    return _global_recorder


def _seconds(value: Any, what: str) -> float | None:
    from infertel._internal.errors import warn_rate_limited

    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 and value == value:
        return float(value) if value != float("inf") else None
    warn_rate_limited(("bad-seconds", what), "infertel: dropped invalid %s %r", what, value)
    return None


def record_metrics(
    *,
    model: str | None,
    operation: str,
    kind: str = "internal",
    provider: str | None = None,
    duration_s: float,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    time_to_first_token_s: float | None = None,
    time_per_output_token_s: float | None = None,
    error_type: str | None = None,
    server_address: str | None = None,
    server_port: int | None = None,
    response_model: str | None = None,
    meter_provider: Any = None,
) -> None:
    """Record one inference call's GenAI histograms without creating a span.

    For instrumentations that create no infertel span of their own (e.g. server-side metrics
    on top of another library's server span). ``kind="internal"`` records
    ``gen_ai.server.request.duration``, ``gen_ai.server.time_to_first_token`` and
    ``gen_ai.server.time_per_output_token``; ``kind="client"`` records
    ``gen_ai.client.operation.duration``, ``gen_ai.client.operation.time_to_first_chunk`` and
    ``gen_ai.client.operation.time_per_output_chunk`` (one value); both record
    ``gen_ai.client.token.usage`` per token type (with ``OTEL_SEMCONV_STABILITY_OPT_IN`` set to
    ``gen_ai_latest_experimental``, the newer names: ``gen_ai.client.inference.*`` and the token
    counters by modality). ``model=None`` (a request whose model could not be read) leaves
    ``gen_ai.request.model`` off, as the conventions allow for an attribute
    that is required only when available. Invalid values are dropped with a rate-limited warning.

    Raises:
        ValueError: ``kind`` is not ``"internal"`` or ``"client"``.

    Example:
        >>> import infertel
        >>> infertel.record_metrics(model="llama-3-8b", operation="chat", duration_s=0.42,
        ...                         input_tokens=12, output_tokens=64, time_to_first_token_s=0.05)
    """
    if kind not in _KINDS:
        raise ValueError(f"kind: {kind!r} is not one of 'internal', 'client'")
    with handle_internal_errors:
        runtime = state.current()
        if runtime.disabled:
            return
        # OTEL_SEMCONV_STABILITY_OPT_IN as configure() read it, else as it is now.
        metrics = kind_metrics(kind, runtime.extras.get("gen_ai_semconv_mode") or mode_from_env(), operation)
        duration = _seconds(duration_s, "duration_s")
        if duration is None:
            return
        key = (operation, model, provider, response_model, server_address, server_port)
        if any(type(v) is str and len(v) > MAX_NAME_LENGTH for v in (*key, error_type)):
            key = tuple(bound_name(v, "metric attribute") if type(v) is str else v for v in key)  # type: ignore[assignment]
            error_type = bound_name(error_type, "error.type") if type(error_type) is str else error_type
        _recorder(meter_provider).record(
            metrics,
            key,
            error_type,
            duration,
            valid_count(input_tokens, "input") if input_tokens is not None else None,
            valid_count(output_tokens, "output") if output_tokens is not None else None,
            _seconds(time_to_first_token_s, "time_to_first_token_s"),
            _seconds(time_per_output_token_s, "time_per_output_token_s"),
            None,
        )
