"""``infertel.configure()`` and ``infertel.shutdown()``.

``configure()`` resolves its settings (:mod:`infertel._internal.config`), builds or reuses the
three OpenTelemetry providers (:mod:`infertel._internal.providers`), attaches log correlation
(:mod:`infertel._internal.logs`) and installs the :class:`~infertel._internal.state.Runtime` the hot
path reads. What it created it remembers, so ``shutdown()`` shuts down exactly that and only flushes
providers that were already installed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import _logs as otel_logs
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider as SDKMeterProvider
from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider

from infertel._internal import state
from infertel._internal.compat import LoggerProvider as SDKLoggerProvider
from infertel.cost import _runtime as _cost_runtime

# What only configure() and shutdown() use (settings, exporters, processors, resource metrics,
# Prometheus, teardown) is imported when they run, not with ``from infertel import configure``:
# an application pays for the pipeline it configures, not for importing the name
# (benchmarks/import_time.py).
if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

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
        _check_prometheus_port(settings, previous)
        resource = build_resource(
            service_name=settings.service_name,
            service_version=settings.service_version,
            attributes=dict(settings.resource_attributes),
        )
        current = _Configured(settings, explicit)
        previous_extras = previous.extras if previous is not None else None
        try:
            current.extras["stats"] = components.statistics(previous_extras)
            _set_up_traces(current, previous, tracer_provider, resource)
            # A TracerProvider's resource is fixed: what it cannot take, no signal takes (see reconfigure).
            resource = consistent_resource(current.tracer_provider, resource, dict(settings.resource_attributes))
            _set_up_logs(current, previous, logger_provider, resource)
            _set_up_metrics(current, previous, meter_provider, resource)
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


def _check_prometheus_port(settings: Settings, previous: _Configured | None) -> None:
    """Fail before changing anything when the Prometheus port is taken (by someone other than us)."""
    from infertel._internal.prometheus import check_port_free

    held = previous.prometheus if previous is not None else None
    port, host = settings.prometheus_port, settings.prometheus_host
    if port and (held is None or (held.host, held.port) != (host, port)):
        check_port_free(host, port)


def _exporters(current: _Configured, signal: str, owned: bool) -> list[Any]:
    """The exporters for ``signal``, recorded in ``extras["exporters"]`` (the first) and ``extras["exporters_all"]``."""
    # On a provider someone else installed, the environment's destinations are theirs already
    # (opentelemetry-instrument reads the same variables): add only what configure() was given.
    if not (owned or current.settings.export(signal).explicit):
        return []
    from infertel._internal import exporter_build

    exporters = exporter_build.exporters_for(signal, current.settings)
    if exporters:
        current.extras.setdefault("exporters", {})[signal] = exporters[0]
        current.extras.setdefault("exporters_all", {})[signal] = tuple(exporters)
    return exporters


def _set_up_traces(current: _Configured, previous: _Configured | None, explicit: Any, resource: Resource) -> None:
    from infertel._internal import providers

    settings = current.settings
    if explicit is not None:
        provider, owned = explicit, providers.is_owned(explicit)
    else:
        provider = trace.get_tracer_provider()
        owned = providers.is_owned(provider)
        if not isinstance(provider, SDKTracerProvider):
            provider = providers.new_tracer_provider(settings, resource)
            trace.set_tracer_provider(provider)
            owned = True
    if previous is not None and previous.tracer_provider is not provider:
        _drop_hub_delegates(previous.tracer_provider, providers.span_hub)
    current.tracer_provider, current.owns_tracer = provider, owned
    if isinstance(provider, SDKTracerProvider):
        exporters = _exporters(current, "traces", owned)
        processors = [*providers.build_span_processors(exporters), current.extras["stats"].processor]
        for old in providers.span_hub(provider).replace(processors):
            if old not in processors:
                old.shutdown()
    elif explicit is not None:
        _logger.info("infertel: the given TracerProvider is not an SDK one; using it without adding processors")


def _set_up_logs(current: _Configured, previous: _Configured | None, explicit: Any, resource: Resource) -> None:
    from infertel._internal import logs, providers

    if explicit is not None:
        provider, owned = explicit, providers.is_owned(explicit)
    else:
        provider = otel_logs.get_logger_provider()
        owned = providers.is_owned(provider)
        if not isinstance(provider, SDKLoggerProvider):
            provider = providers.new_logger_provider(resource)
            otel_logs.set_logger_provider(provider)
            owned = True
    if previous is not None and previous.logger_provider is not provider:
        _drop_hub_delegates(previous.logger_provider, providers.log_hub)
    current.logger_provider, current.owns_logger = provider, owned
    if isinstance(provider, SDKLoggerProvider):
        exporters = _exporters(current, "logs", owned)
        processors = providers.build_log_processors(exporters)
        for old in providers.log_hub(provider).replace(processors):
            old.shutdown()
    if current.settings.export_logs:
        logs.attach(provider)
    else:
        logs.detach()


def _meter_key(settings: Settings, resource: Resource) -> tuple[Any, ...]:
    from infertel._internal.reconfigure import resource_key

    store = settings.store_path if settings.metrics.endpoint is None else None
    return (
        settings.metrics,
        store,
        settings.metric_export_interval_millis,
        settings.prometheus_port,
        settings.prometheus_host,
        resource_key(resource),
    )


def _set_up_metrics(current: _Configured, previous: _Configured | None, explicit: Any, resource: Resource) -> None:
    from infertel._internal import providers
    from infertel._internal.prometheus import start_prometheus

    settings = current.settings
    key = _meter_key(settings, resource)
    current.meter_key = key
    reusable = previous is not None and previous.owns_meter and explicit is None
    if reusable and previous is not None and previous.meter_key == key:
        # Same metric settings: keep the provider and its readers (and the Prometheus endpoint).
        current.meter_provider, current.owns_meter = previous.meter_provider, True
        current.prometheus, previous.prometheus = previous.prometheus, None
        current.extras["metric_readers"] = previous.extras.get("metric_readers", ())
        previous_exporter = previous.extras.get("exporters", {}).get("metrics")
        if previous_exporter is not None:
            current.extras.setdefault("exporters", {})["metrics"] = previous_exporter
            current.extras.setdefault("exporters_all", {})["metrics"] = previous.extras["exporters_all"]["metrics"]
        return
    if previous is not None and previous.owns_meter:
        _shutdown_meter(previous, time.monotonic() + 30.0)
    if explicit is not None:
        current.meter_provider, current.owns_meter = explicit, providers.is_owned(explicit)
        _warn_fixed_readers(settings)
        return
    installed = metrics.get_meter_provider()
    if isinstance(installed, SDKMeterProvider) and not providers.is_owned(installed):
        current.meter_provider, current.owns_meter = installed, False
        _warn_fixed_readers(settings)
        return
    readers = providers.build_metric_readers(_exporters(current, "metrics", True), settings)
    if settings.prometheus_port is not None:
        current.prometheus = start_prometheus(settings.prometheus_host, settings.prometheus_port)
        readers.append(current.prometheus.reader)
    provider = providers.new_meter_provider(resource, readers)
    current.meter_provider, current.owns_meter = provider, True
    current.extras["metric_readers"] = tuple(readers)
    if isinstance(installed, SDKMeterProvider):
        # The global one is a provider an earlier configure() built and shut down (its readers could
        # not change): OpenTelemetry sets the global once, so only infertel's metrics use the new one.
        _logger.warning(
            "infertel: the global MeterProvider was set by an earlier configure() and OpenTelemetry lets it be "
            "set only once: infertel's metrics use a new MeterProvider with the new settings; other libraries "
            "that use the global MeterProvider no longer export metrics"
        )
    else:
        metrics.set_meter_provider(provider)


def _warn_fixed_readers(settings: Settings) -> None:
    wanted = []
    if settings.prometheus_port is not None:
        wanted.append("prometheus_port")
    if settings.metrics.explicit:
        # Explicit without an endpoint: store_path was given, so metrics were meant for the store.
        wanted.append("the metrics endpoint" if settings.metrics.endpoint else "metrics into the store (store_path)")
    if wanted:
        _logger.warning(
            "infertel: %s cannot be added to the MeterProvider already installed (its readers are fixed at "
            "construction); give it a PeriodicExportingMetricReader / PrometheusMetricReader yourself",
            " and ".join(wanted),
        )


def _drop_hub_delegates(provider: Any, hub_of: Any) -> None:
    if isinstance(provider, (SDKTracerProvider, SDKLoggerProvider)):
        hub_of(provider).shutdown()


def _shutdown_meter(cfg: _Configured, deadline: float) -> bool:
    from infertel._internal import teardown

    return teardown.shutdown_meter(cfg, deadline)


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
