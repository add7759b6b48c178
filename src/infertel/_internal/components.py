"""The live components ``configure()`` installs beside the exporters.

* the statistics span processor (``infertel.stats()``), forwarded to by the TracerProvider's hub,
  and its ``infertel.gen_ai.*`` gauges on the MeterProvider;
* system, process and GPU metrics (``infertel.resources``) on the MeterProvider.

Instruments cannot be removed from an OpenTelemetry MeterProvider, so gauges and resource
metrics are installed once per MeterProvider and kept while ``configure()`` keeps that
provider; the statistics themselves survive a re-``configure()`` so nothing recorded is lost.
"""

from __future__ import annotations

import logging
from typing import Any

from infertel._internal import exporter_build, processors, resources, status

_logger = logging.getLogger(__name__)


def statistics(previous_extras: dict[str, Any] | None) -> processors.StatsHandle:
    """The statistics of the previous configuration, or new ones (options from ``INFERTEL_STATS_*``)."""
    if previous_extras is not None and previous_extras.get("stats") is not None:
        handle: processors.StatsHandle = previous_extras["stats"]
        return handle
    return processors.install(None, None, attach=False, **processors.options_from_env())


def install_on_meter_provider(
    extras: dict[str, Any],
    previous_extras: dict[str, Any] | None,
    meter_provider: Any,
    *,
    resource_metrics: bool | None,
) -> None:
    """Register the stats gauges and the resource metrics on ``meter_provider`` once.

    Reuses what the previous configuration registered on the same provider; shuts down the
    resource collectors of a provider that is being replaced.
    """
    stats: processors.StatsHandle = extras["stats"]
    previous_extras = previous_extras or {}
    same_provider = previous_extras.get("meter_provider") is meter_provider
    previous_resources = previous_extras.get("resource_metrics")
    if same_provider and previous_resources is not None and resource_metrics is not False:
        extras["resource_metrics"] = previous_resources
    else:
        if previous_resources is not None:
            previous_resources.shutdown()
        if meter_provider is not None:
            # None: INFERTEL_RESOURCE_METRICS decides (on by default).
            extras["resource_metrics"] = resources.install(meter_provider, enabled=resource_metrics)
    if stats.gauges is None or not same_provider:
        if meter_provider is not None:
            if stats.gauges is not None:
                stats.gauges.active = False
            stats.gauges = processors.StatsGauges(meter_provider, stats.stats)
    exporter_build.report_spool_metrics(extras.get("exporters_all", {}), meter_provider)
    status.report_metrics_to(meter_provider)
    extras["meter_provider"] = meter_provider


def shut_down(extras: dict[str, Any]) -> None:
    """Stop the statistics and resource collectors of a configuration that ends."""
    engine = extras.get("alerting")
    if engine is not None:
        engine.shutdown()
    handle = extras.get("resource_metrics")
    if handle is not None:
        handle.shutdown()
    stats = extras.get("stats")
    if stats is not None:
        stats.uninstall()
