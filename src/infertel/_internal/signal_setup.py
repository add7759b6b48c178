"""Each signal's provider for a ``configure()`` call, and what infertel adds to it.

:func:`set_up_traces`, :func:`set_up_logs` and :func:`set_up_metrics` build a provider or reuse the
one installed (globally, or given as an argument), add infertel's processors, exporters and readers
to it and record in the :class:`~infertel._internal.configure._Configured` being built what they
created, so that ``shutdown()`` (:mod:`infertel._internal.teardown`) stops exactly that. They run on
the thread that calls ``configure()``, under its lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import _logs as otel_logs
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider as SDKMeterProvider
from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider

from infertel._internal.compat import LoggerProvider as SDKLoggerProvider

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

    from infertel._internal.config import Settings
    from infertel._internal.configure import _Configured as Configured

_logger = logging.getLogger(__name__)


def check_prometheus_port(settings: Settings, previous: Configured | None) -> None:
    """Fail before changing anything when the Prometheus port is taken (by someone other than us)."""
    from infertel._internal.prometheus import check_port_free

    held = previous.prometheus if previous is not None else None
    port, host = settings.prometheus_port, settings.prometheus_host
    if port and (held is None or (held.host, held.port) != (host, port)):
        check_port_free(host, port)


def _exporters(current: Configured, signal: str, owned: bool) -> list[Any]:
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


def _take_provider(explicit: Any, installed: Callable[[], Any], sdk_type: type, make: Callable[[], Any],
                   install: Callable[[Any], Any]) -> tuple[Any, bool]:  # fmt: skip
    """``(provider, owned)``: ``explicit``, else the installed SDK provider, else a new one, made and installed."""
    from infertel._internal import providers

    if explicit is not None:
        return explicit, providers.is_owned(explicit)
    provider = installed()
    if isinstance(provider, sdk_type):
        return provider, providers.is_owned(provider)
    provider = make()
    install(provider)
    return provider, True


def set_up_traces(current: Configured, previous: Configured | None, explicit: Any, resource: Resource) -> None:
    """The TracerProvider (``explicit``, else the global SDK one, else a new one), with infertel's span processors."""
    from infertel._internal import providers

    settings = current.settings
    provider, owned = _take_provider(
        explicit, trace.get_tracer_provider, SDKTracerProvider,
        lambda: providers.new_tracer_provider(settings, resource), trace.set_tracer_provider,
    )  # fmt: skip
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


def set_up_logs(current: Configured, previous: Configured | None, explicit: Any, resource: Resource) -> None:
    """The LoggerProvider (chosen as for traces) with infertel's log processors; log correlation on or off."""
    from infertel._internal import logs, providers

    provider, owned = _take_provider(
        explicit, otel_logs.get_logger_provider, SDKLoggerProvider,
        lambda: providers.new_logger_provider(resource), otel_logs.set_logger_provider,
    )  # fmt: skip
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


def set_up_metrics(current: Configured, previous: Configured | None, explicit: Any, resource: Resource) -> None:
    """The MeterProvider: the previous one if its settings match, else ``explicit``, the global SDK one or a new one."""
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


def _shutdown_meter(cfg: Configured, deadline: float) -> bool:
    from infertel._internal import teardown

    return teardown.shutdown_meter(cfg, deadline)
