"""What an observed function or inference block is (validated once) and what it records with.

A :class:`Site` holds the static part (model, operation, attributes, span name) validated at
decoration time; :meth:`Site.binding` resolves the tracer, the metric recorder and the
disabled/capture switches once per installed runtime, so the hot path only compares the
runtime object it read (``state.current()``) with the one it cached.
"""

from __future__ import annotations

import inspect
import os
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from infertel import semconv
from infertel._internal import state
from infertel._internal.errors import handle_internal_errors
from infertel._internal.instrument.content import capture_from_env
from infertel._internal.limits import bound_name, bound_value
from infertel._internal.metrics.instruments import CLIENT, INTERNAL, KindMetrics, kind_metrics, mode_from_env
from infertel._internal.metrics.recorder import MetricKey, Recorder, recorder_for
from infertel.environment_variables import INFERTEL_CAPTURE_CONTENT_MAX_LENGTH
from infertel.version import __version__

KINDS: dict[str, tuple[SpanKind, KindMetrics]] = {
    "internal": (SpanKind.INTERNAL, INTERNAL),
    "client": (SpanKind.CLIENT, CLIENT),
}

REQUEST_ATTRIBUTES: dict[str, str] = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "top_k": semconv.GEN_AI_REQUEST_TOP_K,
    "max_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "stop_sequences": semconv.GEN_AI_REQUEST_STOP_SEQUENCES,
    "seed": semconv.GEN_AI_REQUEST_SEED,
    "choice_count": semconv.GEN_AI_REQUEST_CHOICE_COUNT,
}
"""Keys accepted in ``request=`` and the ``gen_ai.request.*`` attribute each becomes."""

_TRUE = frozenset({"true", "1", "yes", "on"})
_SCALARS = (str, bool, int, float)
DEFAULT_CONTENT_MAX_LENGTH = 4096


def _valid_attribute_value(value: Any) -> bool:
    if isinstance(value, _SCALARS):
        return True
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, _SCALARS) for v in value) and len({type(v) for v in value}) <= 1
    return False


def request_attributes(request: Mapping[str, Any] | None) -> dict[str, Any]:
    """``request=`` as ``gen_ai.request.*`` attributes; ``ValueError`` naming ``request`` if invalid."""
    if request is None:
        return {}
    if not isinstance(request, Mapping):
        raise ValueError(f"request: expected a mapping of request parameters, got {type(request).__name__}")
    attributes: dict[str, Any] = {}
    for key, value in request.items():
        name = REQUEST_ATTRIBUTES.get(key)
        if name is None:
            accepted = ", ".join(REQUEST_ATTRIBUTES)
            raise ValueError(f"request: unknown parameter {key!r} (accepted: {accepted})")
        if value is None:
            continue
        if not _valid_attribute_value(value):
            raise ValueError(f"request: {key}={value!r} is not a str, bool, int, float or a list of one of those")
        attributes[name] = bound_value(list(value) if isinstance(value, tuple) else value, name)
    return attributes


class Binding:
    """What one site records with under one runtime."""

    __slots__ = ("disabled", "tracer", "recorder", "capture", "max_length", "handles", "metrics", "logger")

    def __init__(
        self,
        disabled: bool,
        tracer: Any,
        recorder: Recorder | None,
        capture: bool,
        max_length: int,
        metrics: KindMetrics = INTERNAL,
        logger: Any = None,
    ) -> None:
        self.disabled = disabled
        self.tracer = tracer
        self.recorder = recorder
        self.capture = capture
        self.max_length = max_length
        self.metrics = metrics
        """The instruments of the site's kind under the runtime's naming mode (``OTEL_SEMCONV_STABILITY_OPT_IN``)."""
        self.logger = logger
        """OpenTelemetry Logger for the ``gen_ai.client.operation.exception`` events (None: not emitted)."""
        self.handles: dict[tuple[str | None, str | None], Any] = {}
        """Metric handles by (response model, error type), bounded (see ``Inference``)."""


_DISABLED = Binding(True, None, None, False, 0)


def _looks_configured(runtime: state.Runtime) -> bool:
    return runtime.tracer_provider is not None or runtime.meter_provider is not None or bool(runtime.extras)


def _env_max_length() -> int:
    raw = os.environ.get(INFERTEL_CAPTURE_CONTENT_MAX_LENGTH, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return DEFAULT_CONTENT_MAX_LENGTH


_tracers: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_loggers: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _scoped(cache: weakref.WeakKeyDictionary[Any, Any], provider: Any, make: Callable[[], Any]) -> Any:
    try:
        found = cache.get(provider)
    except TypeError:
        return make()
    if found is None:
        found = cache[provider] = make()
    return found


def _tracer(provider: Any) -> Any:
    return _scoped(
        _tracers,
        provider,
        lambda: provider.get_tracer(semconv.INSTRUMENTATION_SCOPE, __version__, schema_url=semconv.SCHEMA_URL),
    )


def _logger(provider: Any) -> Any:
    """The infertel Logger of ``provider`` (the OTel Logs API one), for GenAI exception events."""
    if provider is None:
        from opentelemetry import _logs

        provider = _logs.get_logger_provider()
    get_logger = getattr(provider, "get_logger", None)
    if get_logger is None:
        return None
    return _scoped(
        _loggers,
        provider,
        lambda: get_logger(semconv.INSTRUMENTATION_SCOPE, __version__, schema_url=semconv.SCHEMA_URL),
    )


class Site:
    """Validated static configuration of one ``@observe`` function or ``inference(...)`` block."""

    __slots__ = (
        "model",
        "operation",
        "provider",
        "kind",
        "span_kind",
        "metrics",
        "span_name",
        "start_attributes",
        "stream",
        "metric_prefix",
        "usage",
        "tracer_provider",
        "meter_provider",
        "logger_provider",
        "signature",
        "_bound",
    )

    def __init__(
        self,
        *,
        model: str,
        operation: str,
        provider: str | None,
        kind: str,
        server_address: str | None,
        server_port: int | None,
        request: Mapping[str, Any] | None,
        usage: Callable[[Any], Any] | None,
        name: str | None,
        tracer_provider: Any,
        meter_provider: Any,
        logger_provider: Any = None,
        stream: bool = False,
        signature: inspect.Signature | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind: {kind!r} is not one of {', '.join(repr(k) for k in KINDS)}")
        for setting, value in (("model", model), ("operation", operation)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{setting}: expected a non-empty string, got {value!r}")
        optional: tuple[tuple[str, str | None], ...] = (
            ("provider", provider),
            ("server_address", server_address),
            ("name", name),
        )
        for setting, optional_value in optional:
            if optional_value is not None and (not isinstance(optional_value, str) or not optional_value):
                raise ValueError(f"{setting}: expected a non-empty string or None, got {optional_value!r}")
        if server_port is not None and (isinstance(server_port, bool) or not isinstance(server_port, int)):
            raise ValueError(f"server_port: expected an int or None, got {server_port!r}")
        if usage is not None and not callable(usage):
            raise ValueError(f"usage: expected a callable (result -> usage) or None, got {usage!r}")
        # Bounded once, here: they go into the span name and into every span's and metric point's attributes.
        model, operation = bound_name(model, "model name"), bound_name(operation, "operation name")
        provider = bound_name(provider, "provider name") if provider else provider
        server_address = bound_name(server_address, "server address") if server_address else server_address
        name = bound_name(name, "span name") if name else name
        self.model = model
        self.operation = operation
        self.provider = provider
        self.kind = kind
        self.span_kind, self.metrics = KINDS[kind]
        self.span_name: str = name or f"{operation} {model}"
        attributes: dict[str, Any] = {semconv.GEN_AI_OPERATION_NAME: operation, semconv.GEN_AI_REQUEST_MODEL: model}
        if provider:
            attributes[semconv.GEN_AI_PROVIDER_NAME] = provider
        if server_address:
            attributes[semconv.SERVER_ADDRESS] = server_address
        if server_port is not None:
            attributes[semconv.SERVER_PORT] = server_port
        attributes.update(request_attributes(request))
        if stream:
            attributes[semconv.GEN_AI_REQUEST_STREAM] = True
        self.start_attributes = attributes
        self.stream = stream
        """A stream site: ``gen_ai.request.stream`` is among the start attributes already."""
        self.metric_prefix = (operation, model, provider, server_address, server_port)
        self.usage = usage
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.logger_provider = logger_provider
        self.signature = signature
        self._bound: tuple[Any, Binding] = (None, _DISABLED)

    def metric_key(self, response_model: str | None) -> MetricKey:
        """The metric attribute key of one call."""
        operation, model, provider, address, port = self.metric_prefix
        return (operation, model, provider, response_model, address, port)

    def binding(self) -> Binding:
        """The binding for the runtime in force (resolved once per runtime)."""
        runtime = state.current()
        bound = self._bound
        if bound[0] is runtime:
            return bound[1]
        return self._rebind(runtime)

    def _rebind(self, runtime: state.Runtime) -> Binding:
        binding = _DISABLED
        with handle_internal_errors:
            configured = _looks_configured(runtime)
            disabled = runtime.disabled or (
                not configured and os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE
            )
            if disabled:
                binding = _DISABLED
            else:
                tracer_provider = self.tracer_provider or runtime.tracer_provider or trace.get_tracer_provider()
                tracer = _tracer(tracer_provider)
                recorder = recorder_for(self.meter_provider or runtime.meter_provider)
                capture = runtime.capture_content or (not configured and capture_from_env())
                max_length = runtime.content_max_length if configured else _env_max_length()
                # OTEL_SEMCONV_STABILITY_OPT_IN as configure() read it, else as it is now.
                mode = runtime.extras.get("gen_ai_semconv_mode") or mode_from_env()
                logger = _logger(self.logger_provider or runtime.extras.get("logger_provider"))
                metrics = kind_metrics(self.kind, mode, self.operation)
                binding = Binding(False, tracer, recorder, capture, max_length, metrics, logger)
        self._bound = (runtime, binding)
        return binding
