"""``infertel.configure()`` and ``infertel.shutdown()``.

``configure()`` resolves its settings (:mod:`infertel._internal.config`), builds or reuses the
three OpenTelemetry providers (:mod:`infertel._internal.signal_setup`, with the builders of
:mod:`infertel._internal.providers`), attaches log correlation (:mod:`infertel._internal.logs`)
and installs the :class:`~infertel._internal.state.Runtime` the hot path reads. What it created
it remembers, so ``shutdown()`` shuts down exactly that and only flushes providers that were
already installed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infertel._internal import state
from infertel.cost import _runtime as _cost_runtime

# What only configure() and shutdown() use (settings, exporters, processors, resource metrics,
# Prometheus, teardown) is imported when they run, not with ``from infertel import configure``:
# an application pays for the pipeline it configures, not for importing the name
# (benchmarks/import_time.py).
if TYPE_CHECKING:
    from infertel._internal.config import Settings
    from infertel._internal.prometheus import PrometheusEndpoint

_logger = logging.getLogger(__name__)

_lock = threading.RLock()


@dataclass
class _Configured:
    """What the last ``configure()`` set up, for idempotency and ``shutdown()``."""

    settings: Settings
    explicit_providers: tuple[int, int, int]
    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None
    owns_tracer: bool = False
    owns_meter: bool = False
    owns_logger: bool = False
    meter_key: tuple[Any, ...] = ()
    prometheus: PrometheusEndpoint | None = None
    extras: dict[str, Any] = field(default_factory=dict)


_active: _Configured | None = None


def configure(
    *,
    service_name: str | None = None,
    service_version: str | None = None,
    resource_attributes: dict[str, Any] | None = None,
    endpoint: str | None = None,
    traces_endpoint: str | None = None,
    metrics_endpoint: str | None = None,
    logs_endpoint: str | None = None,
    protocol: str | None = None,
    headers: dict[str, str] | str | None = None,
    sampler: Any = None,
    sampler_arg: float | None = None,
    disabled: bool | None = None,
    capture_content: bool | str | None = None,
    content_max_length: int | None = None,
    store_path: str | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
    metric_export_interval_millis: int | None = None,
    prometheus_port: int | None = None,
    prometheus_host: str | None = None,
    resource_metrics: bool | None = None,
    durable: bool | None = None,
    export_logs: bool | None = None,
    alert_rules: Any = None,
    prices: Any = None,
) -> None:
    """Set up traces, metrics and logs for inference telemetry.

    Every argument overrides its environment variable (``OTEL_SERVICE_NAME``,
    ``OTEL_{TRACES,METRICS,LOGS}_EXPORTER``,
    ``OTEL_EXPORTER_OTLP_[TRACES_|METRICS_|LOGS_]ENDPOINT/PROTOCOL/HEADERS``,
    ``OTEL_TRACES_SAMPLER[_ARG]``, ``OTEL_SDK_DISABLED``,
    ``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED``,
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, ``INFERTEL_*``), which overrides the
    default. Each signal goes to the exporters ``OTEL_<SIGNAL>_EXPORTER`` names (``otlp``,
    ``console``, ``none``, ``infertel_store`` or any registered ``opentelemetry_<signal>_exporter``
    entry point, comma-separated); without any exporter variable and endpoint, telemetry goes to
    the embedded SQLite store (``store_path`` / ``INFERTEL_STORE_PATH``). ``OTEL_BSP_*``,
    ``OTEL_BLRP_*``, ``OTEL_METRIC_EXPORT_*`` and ``OTEL_EXPORTER_OTLP_*`` mean what the SDK says.
    SDK providers already installed globally (by the
    application or ``opentelemetry-instrument``) are added to, not replaced: infertel adds its span
    and log processors to them, and only for destinations given as arguments (the environment's were
    already read by whoever installed them). A MeterProvider's readers are fixed at construction, so
    an installed one is reused as it is and ``prometheus_port``/``metrics_endpoint`` cannot be added to it.
    The application's logging handlers are never removed or replaced.
    Calling ``configure()`` again with the same settings does nothing; with other settings it
    replaces what the previous call added. A TracerProvider's resource is fixed once it exists, so a
    later ``service_name``, ``service_version`` or ``resource_attributes`` that differs from it is
    applied to no signal (traces, metrics and logs keep one identity) and a warning says so.

    Args:
        service_name: ``service.name`` resource attribute.
        service_version: ``service.version`` resource attribute.
        resource_attributes: More resource attributes.
        endpoint: OTLP base endpoint for all signals (``/v1/<signal>`` appended for OTLP/HTTP).
        traces_endpoint: OTLP endpoint for spans, used as is.
        metrics_endpoint: OTLP endpoint for metrics, used as is.
        logs_endpoint: OTLP endpoint for logs, used as is.
        protocol: ``"grpc"`` (default) or ``"http/protobuf"``.
        headers: OTLP headers, a dict or ``"key=value,..."``; values are never logged.
        sampler: A name of ``OTEL_TRACES_SAMPLER`` (``parentbased_always_on`` by default) or a Sampler.
        sampler_arg: Ratio (0 to 1) for the ``*traceidratio`` samplers.
        disabled: ``True``: no telemetry at all; decorated functions call straight through.
        capture_content: Record prompt and completion content (off by default).
        content_max_length: Characters of captured content kept (default 4096).
        store_path: File of the embedded SQLite store.
        tracer_provider: Use this TracerProvider instead of the global one.
        meter_provider: Use this MeterProvider instead of the global one.
        logger_provider: Use this LoggerProvider instead of the global one.
        metric_export_interval_millis: Push interval of the metric exporter.
        prometheus_port: Serve all metrics on ``http://<prometheus_host>:<port>/metrics`` (0: any free port).
        prometheus_host: Bind address of the Prometheus endpoint (default ``127.0.0.1``).
        resource_metrics: System, process and GPU metrics (``None``: ``INFERTEL_RESOURCE_METRICS``,
            on by default; choose them with ``INFERTEL_RESOURCE_METRICS_LIST``).
        durable: Spool to disk what an OTLP collector cannot take and re-send it, also after a
            restart (``INFERTEL_DURABLE``, on by default; ``INFERTEL_SPOOL_DIR`` and friends).
        export_logs: Export the records of Python's ``logging`` (with the active span's trace and
            span ids) through the LoggerProvider, by adding an OpenTelemetry handler to the root
            logger next to the application's own (``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED``,
            off by default). Records that reached the console before still do.
        alert_rules: Alert rules evaluated in process on a background thread (``INFERTEL_ALERT_RULES``):
            a YAML rules file (``infertel[alerts]``), a mapping of the same shape, or a list of
            ``infertel.alerting`` rules. History, silences and acknowledgements go to the store file.
        prices: Price table for per-request cost (``INFERTEL_PRICES``): a mapping of model (``"*"``:
            any other) to ``input_per_1k`` / ``output_per_1k`` / ``instance_hour`` in USD, a JSON
            file path or JSON text. Spans get ``infertel.cost.usd``, the ``infertel.cost`` counter grows.

    Raises:
        ValueError: A setting is invalid; the message names it and the accepted values.

    Example:
        >>> import infertel
        >>> infertel.configure(service_name="chat-api", endpoint="http://127.0.0.1:4317")  # doctest: +SKIP
    """
    global _active
    from infertel._internal import (
        components,
        config,
        lifecycle,
        signal_setup,
        teardown,  # noqa: F401  (loaded here, so that shutdown() imports nothing)
    )
    from infertel._internal.metrics import instruments
    from infertel._internal.reconfigure import consistent_resource
    from infertel._internal.resource import build_resource

    settings = config.resolve(
        service_name=service_name, service_version=service_version, resource_attributes=resource_attributes,
        endpoint=endpoint, traces_endpoint=traces_endpoint, metrics_endpoint=metrics_endpoint,
        logs_endpoint=logs_endpoint, protocol=protocol, headers=headers, sampler=sampler, sampler_arg=sampler_arg,
        disabled=disabled, capture_content=capture_content, content_max_length=content_max_length,
        store_path=store_path, metric_export_interval_millis=metric_export_interval_millis,
        prometheus_port=prometheus_port, prometheus_host=prometheus_host, resource_metrics=resource_metrics,
        durable=durable, export_logs=export_logs, alert_rules=alert_rules, prices=prices,
    )  # fmt: skip
    explicit = (id(tracer_provider), id(meter_provider), id(logger_provider))
    with _lock:
        previous = _active
        if previous is not None and previous.settings == settings and previous.explicit_providers == explicit:
            return
        if settings.disabled:
            if previous is not None:
                _teardown(previous, time.monotonic() + 30.0)
            _cost_runtime.install(None)
            state.install(
                state.Runtime(
                    disabled=True,
                    capture_content=settings.capture_content,
                    content_max_length=settings.content_max_length,
                )
            )
            _active = _Configured(settings, explicit)
            return
        signal_setup.check_prometheus_port(settings, previous)
        resource = build_resource(
            service_name=settings.service_name,
            service_version=settings.service_version,
            attributes=dict(settings.resource_attributes),
        )
        current = _Configured(settings, explicit)
        previous_extras = previous.extras if previous is not None else None
        try:
            current.extras["stats"] = components.statistics(previous_extras)
            signal_setup.set_up_traces(current, previous, tracer_provider, resource)
            # A TracerProvider's resource is fixed: what it cannot take, no signal takes (see reconfigure).
            resource = consistent_resource(current.tracer_provider, resource, dict(settings.resource_attributes))
            signal_setup.set_up_logs(current, previous, logger_provider, resource)
            signal_setup.set_up_metrics(current, previous, meter_provider, resource)
            components.install_on_meter_provider(
                current.extras, previous_extras, current.meter_provider, resource_metrics=settings.resource_metrics
            )
        except BaseException:
            # Half a configuration is worse than none: undo what this call set up, then re-raise.
            _teardown(current, time.monotonic() + 5.0)
            state.reset()
            _active = None
            raise
        current.extras.update(settings=settings, resource=resource, logger_provider=current.logger_provider)
        # OTEL_SEMCONV_STABILITY_OPT_IN, read now: which GenAI metric names calls record from here on.
        current.extras["gen_ai_semconv_mode"] = instruments.mode_from_env()
        if current.prometheus is not None:
            current.extras["prometheus"] = current.prometheus
        if settings.alert_rules is not None:
            from infertel.alerting._configure import start as start_alerting

            current.extras["alerting"] = start_alerting(
                settings.alert_rules, meter_provider=current.meter_provider, store_path=settings.store_path
            )
        state.install(
            state.Runtime(
                tracer_provider=current.tracer_provider,
                meter_provider=current.meter_provider,
                capture_content=settings.capture_content,
                content_max_length=settings.content_max_length,
                extras=current.extras,
            )
        )
        _cost_runtime.install(settings.prices, current.meter_provider)
        _active = current
        lifecycle.flush_at_exit(shutdown)


def _teardown(cfg: _Configured, deadline: float) -> bool:
    """Flush, stop and judge what ``cfg`` set up (a ``configure()`` being replaced); bounded by ``deadline``."""
    from infertel._internal import teardown

    steps = teardown.Steps()
    ok = teardown.teardown(cfg, deadline, steps)
    return teardown.verdict(cfg, steps, deadline) and ok


def shutdown(*, timeout_millis: int = 30_000) -> bool:
    """Flush and shut down what :func:`configure` set up; reset infertel to unconfigured.

    In order: streams still open end (``infertel.stream.end_reason="shutdown"``); spans, log
    records and a last collection of every metric (statistics gauges and resource metrics
    included) are flushed; then processors, collectors and the providers ``configure()`` created
    are shut down. Providers it only added to are flushed and keep running (infertel's processors
    are removed from them). It returns within ``timeout_millis`` whatever the exporters do (a step
    still running then is left behind on a daemon thread). Safe to call more than once; it runs at
    interpreter exit and on SIGTERM too.

    Args:
        timeout_millis: Time budget for the whole shutdown.

    Returns:
        ``True`` if everything was flushed and shut down within the budget and no exporter lost
        anything; ``False`` otherwise, with one warning line naming what and where.

    Example:
        >>> import infertel
        >>> infertel.shutdown(timeout_millis=5_000)
        True
    """
    global _active
    start = time.monotonic()
    deadline = start + max(0, timeout_millis) / 1000
    if not _lock.acquire(timeout=max(0.0, deadline - start)):
        # configure() or another shutdown() holds it (on SIGTERM: maybe the interrupted thread itself).
        _logger.warning("infertel: shutdown incomplete: configure() did not return within %d ms", timeout_millis)
        return False
    try:
        cfg, _active = _active, None
        if cfg is None:
            return True
        from infertel._internal import teardown  # loaded by the configure() that set ``cfg``

        steps = teardown.Steps()
        ok = teardown.end_streams(steps, start + (deadline - start) * 0.25)
        ok = teardown.teardown(cfg, start + (deadline - start) * 0.95, steps) and ok
        ok = teardown.verdict(cfg, steps, deadline) and ok
    finally:
        state.reset()
        _cost_runtime.install(None)
        _lock.release()
    return ok and time.monotonic() <= deadline


def active_settings() -> Settings | None:
    """The settings of the configuration in force (``None`` before ``configure()``/after ``shutdown()``)."""
    return None if _active is None else _active.settings
