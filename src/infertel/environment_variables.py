"""Every ``INFERTEL_*`` environment variable, one documented constant each.

infertel also honours the standard ``OTEL_*`` variables as the OpenTelemetry SDK defines them
(``OTEL_SERVICE_NAME``, ``OTEL_{TRACES,METRICS,LOGS}_EXPORTER``, ``OTEL_EXPORTER_OTLP_*``,
``OTEL_BSP_*``, ``OTEL_BLRP_*``, ``OTEL_METRIC_EXPORT_INTERVAL/TIMEOUT``, ``OTEL_TRACES_SAMPLER``,
``OTEL_SDK_DISABLED``, ``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED``,
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` ...); keyword arguments to
:func:`infertel.configure` override both.

Example:
    >>> import os
    >>> from infertel.environment_variables import INFERTEL_STORE_PATH
    >>> os.environ[INFERTEL_STORE_PATH] = "/tmp/telemetry.db"  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Final

INFERTEL_STORE_PATH: Final = "INFERTEL_STORE_PATH"
"""Path of the embedded SQLite store (exporter ``infertel_store``).

The store is the default exporter when no ``OTEL_*_EXPORTER`` variable and no OTLP endpoint is set.

Default: ``$XDG_DATA_HOME/infertel/infertel.db`` (``~/.local/share/infertel/infertel.db``).
"""

INFERTEL_CAPTURE_CONTENT_MAX_LENGTH: Final = "INFERTEL_CAPTURE_CONTENT_MAX_LENGTH"
"""Maximum number of characters of captured prompt/completion content (default 4096).

Content is captured only when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` asks for it.
"""

INFERTEL_RAISE_INTERNAL_ERRORS: Final = "INFERTEL_RAISE_INTERNAL_ERRORS"
"""Testing switch: ``true`` makes internal errors re-raise instead of being logged and dropped.

Never set it in production: it lets a bug in infertel break the instrumented application.
"""

INFERTEL_BUILD_EXTENSION: Final = "INFERTEL_BUILD_EXTENSION"
"""Install time: ``0`` (or ``false``, ``no``) builds the core wheel without its optional C extension.

Read by the build hook (``hatch_build.py``) when a wheel is built from the sdist or the checkout;
the processor then keeps its records in a list (the same statistics, a higher cost per span).
Default: the extension is built when a C compiler and the Python headers are at hand.
"""

INFERTEL_PROMETHEUS_PORT: Final = "INFERTEL_PROMETHEUS_PORT"
"""Port of the Prometheus ``/metrics`` endpoint ``configure()`` starts (unset: no endpoint; ``0``: any free port).

Same as ``configure(prometheus_port=...)``. Needs ``pip install 'infertel[prometheus]'``.
"""

INFERTEL_PROMETHEUS_HOST: Final = "INFERTEL_PROMETHEUS_HOST"
"""Address the Prometheus ``/metrics`` endpoint binds to (default ``127.0.0.1``; ``0.0.0.0`` for all interfaces)."""

INFERTEL_FASTAPI_ROUTES: Final = "INFERTEL_FASTAPI_ROUTES"
"""Routes measured by ``infertel-instrumentation-fastapi``: comma-separated ``path`` or ``path=operation``.

Default: ``/v1/chat/completions,/v1/completions,/v1/embeddings`` (operations ``chat``,
``text_completion``, ``embeddings``; a path without ``=operation`` gets the one its suffix implies).
Example: ``INFERTEL_FASTAPI_ROUTES=/v1/chat/completions,/generate=text_completion``.
"""

INFERTEL_STORE_MAX_AGE_SECONDS: Final = "INFERTEL_STORE_MAX_AGE_SECONDS"
"""Raw rows (spans, metric points, logs) of the embedded SQLite store older than this many seconds are
deleted, with the 10 s rollups (default 259200, 3 days).

``0`` or ``none`` switches the age bound off. Applied in the background by the store's exporters.
"""

INFERTEL_STORE_ROLLUP_MAX_AGE_SECONDS: Final = "INFERTEL_STORE_ROLLUP_MAX_AGE_SECONDS"
"""1 min and 1 h rollups of the embedded SQLite store older than this many seconds are deleted
(default 2592000, 30 days); a rollup bucket that a remaining raw row still feeds is kept.

``0`` or ``none`` keeps them. Applied in the background by the store's exporters.
"""

INFERTEL_STORE_MAX_BYTES: Final = "INFERTEL_STORE_MAX_BYTES"
"""Size bound of the embedded SQLite store in bytes (default 268435456, 256 MiB).

Past it the oldest rows are deleted and the space returned to the file system. ``0`` or ``none``
switches the size bound off.
"""

INFERTEL_RESOURCE_METRICS: Final = "INFERTEL_RESOURCE_METRICS"
"""``on`` (default) or ``off``: system, process and GPU metrics installed by ``configure()``."""

INFERTEL_RESOURCE_METRICS_LIST: Final = "INFERTEL_RESOURCE_METRICS_LIST"
"""Comma-separated system/process metrics to collect, by their semantic-convention names
(``system.cpu.utilization,process.unix.file_descriptor.count``), or ``default`` / ``all``.
Default: ``default``, a set without the costly per-connection and per-CPU-time metrics (see
``infertel.resources.DEFAULT_SYSTEM_METRICS``). Deprecated names (those of
``opentelemetry-instrumentation-system-metrics``, e.g. ``process.open_file_descriptor.count``)
are mapped to the current ones with a one-time ``FutureWarning`` (``infertel.semconv.DEPRECATED_SYSTEM_METRICS``).
"""

INFERTEL_GPU_METRICS: Final = "INFERTEL_GPU_METRICS"
"""``on`` (default) or ``off``: the NVML GPU metrics (``hw.gpu.*``, ``hw.power`` ...)."""

INFERTEL_GPU_PROCESS_METRICS: Final = "INFERTEL_GPU_PROCESS_METRICS"
"""``on`` (default) or ``off``: GPU memory per process (``infertel.gpu.process.memory.usage``)."""

INFERTEL_RESOURCE_METRICS_INTERVAL: Final = "INFERTEL_RESOURCE_METRICS_INTERVAL"
"""Seconds a resource reading is reused by ``infertel.resources.snapshot()`` readers (default 1)."""

INFERTEL_DURABLE: Final = "INFERTEL_DURABLE"
"""``on`` (default) or ``off``: spool OTLP batches the collector cannot take and re-send them later."""

INFERTEL_SPOOL_DIR: Final = "INFERTEL_SPOOL_DIR"
"""Directory of the durable export spool (one sub-directory per signal and process lane).

Default: ``$XDG_STATE_HOME/infertel/spool`` (``~/.local/state/infertel/spool``).
"""

INFERTEL_SPOOL_MAX_BYTES: Final = "INFERTEL_SPOOL_MAX_BYTES"
"""Size bound of each signal's spool in bytes (default 268435456, 256 MiB); the oldest data goes first."""

INFERTEL_SPOOL_MAX_AGE_S: Final = "INFERTEL_SPOOL_MAX_AGE_S"
"""Age bound of spooled data in seconds (default 86400); older batches are dropped unsent and counted."""

INFERTEL_STATS_WINDOWS: Final = "INFERTEL_STATS_WINDOWS"
"""Sliding windows of the live statistics, comma-separated seconds (default ``60,300,900``)."""

INFERTEL_STATS_QUANTILES: Final = "INFERTEL_STATS_QUANTILES"
"""Quantiles of the live statistics, comma-separated in (0, 1) (default ``0.5,0.9,0.95,0.99,0.999``)."""

INFERTEL_STATS_MAX_SERIES: Final = "INFERTEL_STATS_MAX_SERIES"
"""Most statistics series (model, operation, extra attributes), overflow series included (default 1000)."""

INFERTEL_STATS_EXTRA_ATTRIBUTES: Final = "INFERTEL_STATS_EXTRA_ATTRIBUTES"
"""Span attributes that split statistics series beyond model and operation, comma-separated (default none)."""

INFERTEL_RESOURCE_METRICS_PER_CPU: Final = "INFERTEL_RESOURCE_METRICS_PER_CPU"
"""``off`` (default) or ``on``: ``system.cpu.utilization`` / ``system.cpu.time`` per logical CPU
(one series per core and state) instead of host-wide (one series per state)."""

INFERTEL_FASTAPI_EXCLUDE_SPANS: Final = "INFERTEL_FASTAPI_EXCLUDE_SPANS"
"""Under ``opentelemetry-instrument``: the per-message ASGI spans the contrib FastAPI instrumentation leaves out.

Comma-separated ``send``/``receive``, or ``none`` to keep them all. Default ``send,receive``: a
streamed completion would otherwise get one ``http send`` span per SSE chunk (thousands per
request). Passed as ``exclude_spans`` to ``FastAPIInstrumentor`` by infertel's distro.
"""

INFERTEL_DASHBOARD_TOKEN: Final = "INFERTEL_DASHBOARD_TOKEN"
"""Bearer token the dashboard (``infertel dashboard``, ``infertel.dashboard.router()``) requires.

Required when ``infertel dashboard`` binds a non-loopback address. Unset: no token asked.
"""

INFERTEL_PRICES: Final = "INFERTEL_PRICES"
"""Price table (a JSON file path or JSON text) for per-request cost (``infertel.cost``).

``{"<model>" or "*": {"input_per_1k": USD, "output_per_1k": USD, "instance_hour": USD}}``. Unset: no cost recorded.
"""

INFERTEL_ALERT_RULES: Final = "INFERTEL_ALERT_RULES"
"""Alert rules file (YAML; ``infertel[alerts]``) that ``configure()`` evaluates in process (``infertel.alerting``).

Its rules, routes, receivers and inhibition rules; the default rule pack too unless it says ``defaults: false``.
``infertel prometheus-rules`` renders the same file for Prometheus and Alertmanager. Unset: no alert engine.
"""
