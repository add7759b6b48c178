"""Build the exporters each signal goes to, by name (:mod:`infertel._internal.exporter_names`).

``otlp`` is the upstream OTLP exporter (behind infertel-exporter-durable's spool when durable),
``console`` the SDK's console exporter, ``infertel_store`` the embedded SQLite store, any other
name the exporter registered under ``opentelemetry_<signal>_exporter``, built with no arguments
as the SDK's auto-configuration builds it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from infertel._internal import exporter_names, extras
from infertel._internal.config import Settings, SignalExport, redact_headers, redact_url

_logger = logging.getLogger(__name__)


def otlp_exporter(signal: str, export: SignalExport, protocol: str | None = None) -> Any:
    """The upstream OTLP exporter for ``signal`` over ``protocol`` (default ``export.protocol``).

    Only what ``configure()`` was given as arguments is passed on (endpoint, headers): everything
    else (``OTEL_EXPORTER_OTLP_*`` endpoints, headers, timeout, compression, certificates) the
    exporter reads from the environment itself, as the SDK defines it.
    """
    protocol = protocol or export.protocol
    exporter_cls: Any
    if protocol == "grpc":
        extras.require("otlp-grpc", "OTLP over gRPC (or set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)")
        if signal == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as exporter_cls
        elif signal == "metrics":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as exporter_cls
        else:
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as exporter_cls
    elif signal == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as exporter_cls
    elif signal == "metrics":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as exporter_cls
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as exporter_cls
    if protocol != "grpc":
        # requests imports netrc on its first request (requests.utils.get_netrc_auth): an export on the
        # SDK's or the spool's background thread. Imported here, on the thread that configures, since a
        # fork() during an import on another thread leaves the child's lock of that module held for ever.
        import netrc  # noqa: F401
    arguments: dict[str, Any] = {}
    if export.endpoint_argument:
        arguments["endpoint"] = export.endpoint
    if export.headers_argument:
        arguments["headers"] = dict(export.headers)
    exporter = exporter_cls(**arguments)
    _logger.info(
        "infertel: exporting %s over OTLP %s to %s (headers %s)",
        signal,
        protocol,
        redact_url(export.endpoint) or "the exporter's default endpoint",
        redact_headers(export.headers),
    )
    return exporter


def console_exporter(signal: str) -> Any:
    """The SDK's console exporter for ``signal`` (what ``OTEL_<SIGNAL>_EXPORTER=console`` means)."""
    if signal == "traces":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if signal == "metrics":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter()
    from infertel._internal.compat import ConsoleLogRecordExporter

    return ConsoleLogRecordExporter()


def store_exporter(signal: str, settings: Settings) -> Any | None:
    """The embedded SQLite store's exporter for ``signal``, or ``None`` if the store is not installed."""
    try:
        from infertel_exporters import sqlite as store
    except ImportError:
        _logger.warning(
            "infertel: %s go to the embedded store but infertel-exporter-sqlite is not installed; "
            "they are not exported (pip install infertel-exporter-sqlite, or set %s)",
            signal,
            exporter_names.EXPORTER_VARIABLES[signal],
        )
        return None
    path = settings.store_path
    assert path is not None  # resolve() always sets it
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(
            f"store_path / INFERTEL_STORE_PATH: cannot create the store's directory {path.parent} "
            f"({exc.strerror or exc}); accepted: a file path in a writable directory"
        ) from None
    cls = {"traces": store.SQLiteSpanExporter, "metrics": store.SQLiteMetricExporter, "logs": store.SQLiteLogExporter}
    _logger.info("infertel: storing %s in %s", signal, path)
    return cls[signal](str(path))


def registered_exporter(signal: str, name: str) -> Any:
    """An exporter (or, for metrics, a reader) registered under ``opentelemetry_<signal>_exporter`` as ``name``.

    Built with no arguments, as the SDK's auto-configuration builds it: it reads its own settings
    from the environment.
    """
    entry_point = exporter_names.registered(signal).get(name)
    if entry_point is None:  # uninstalled between resolve() and here
        raise ValueError(
            f"{exporter_names.EXPORTER_VARIABLES[signal]}: unknown exporter {name!r} "
            f"(accepted, comma-separated: {', '.join(exporter_names.accepted(signal))})"
        )
    return entry_point.load()()


def exporters_for(signal: str, settings: Settings) -> list[Any]:
    """The exporters ``signal`` goes to, in the order of ``settings.export(signal).exporters``.

    OTLP exporters are wrapped in infertel-exporter-durable's spool when ``settings.durable``.
    For metrics an entry may be a ``MetricReader`` (a pull exporter such as Prometheus).
    """
    export = settings.export(signal)
    built: list[Any] = []
    for name in export.exporters:
        exporter: Any
        if name == exporter_names.OTLP or name in exporter_names.OTLP_BY_NAME:
            exporter = otlp_exporter(signal, export, exporter_names.OTLP_BY_NAME.get(name))
            if settings.durable:
                exporter = durable_exporter(signal, exporter)
        elif name == exporter_names.CONSOLE:
            exporter = console_exporter(signal)
        elif name == exporter_names.STORE:
            exporter = store_exporter(signal, settings)
        else:
            exporter = registered_exporter(signal, name)
        if exporter is not None:
            built.append(exporter)
    return built


def durable_exporter(signal: str, exporter: Any) -> Any:
    """``exporter`` behind an on-disk spool; the exporter itself if infertel-exporter-durable is absent.

    The spool batches in place of the SDK's batch processor, so ``OTEL_BSP_*`` (spans) and
    ``OTEL_BLRP_*`` (log records) set its queue, batch size and delay, as they would the SDK's.
    The spool's own metrics are reported once the MeterProvider exists (:func:`report_spool_metrics`).
    """
    try:
        from infertel_exporters import durable
    except ImportError:
        _logger.warning("infertel: infertel-exporter-durable is not installed; %s are not spooled", signal)
        return exporter
    cls = {"traces": durable.DurableSpanExporter, "metrics": durable.DurableMetricExporter}.get(
        signal, durable.DurableLogExporter
    )
    return cls(exporter, report_metrics=False, **batch_options(signal))


_BATCH_VARIABLES = {
    "max_queue_items": "MAX_QUEUE_SIZE",
    "max_batch_items": "MAX_EXPORT_BATCH_SIZE",
    "schedule_delay_millis": "SCHEDULE_DELAY",
}


def batch_options(signal: str) -> dict[str, int]:
    """The durable spool's options that ``OTEL_BSP_*`` / ``OTEL_BLRP_*`` set (only those set).

    Raises:
        ValueError: A set variable is not a positive integer.

    Example:
        >>> batch_options("metrics")
        {}
    """
    prefix = {"traces": "OTEL_BSP_", "logs": "OTEL_BLRP_"}.get(signal)
    options: dict[str, int] = {}
    if prefix is None:
        return options
    for option, suffix in _BATCH_VARIABLES.items():
        variable = prefix + suffix
        raw = os.environ.get(variable, "").strip()
        if not raw:
            continue
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value <= 0:
            raise ValueError(f"{variable}: {raw!r} is not accepted (accepted: an integer > 0)")
        options[option] = value
    return options


def report_spool_metrics(exporters: dict[str, Any], meter_provider: Any) -> None:
    """Publish the spool metrics of the durable exporters among ``exporters`` on ``meter_provider``.

    ``exporters`` maps a signal to its exporter or to a sequence of its exporters.
    """
    if meter_provider is None:
        return
    flat = [e for value in exporters.values() for e in (value if isinstance(value, (list, tuple)) else (value,))]
    for exporter in flat:
        report = getattr(exporter, "report_metrics_to", None)
        # Instruments cannot be removed: report each exporter once per provider (configure() may run again).
        if report is not None and getattr(exporter, "_infertel_reported_to", None) is not meter_provider:
            report(meter_provider)
            exporter._infertel_reported_to = meter_provider
