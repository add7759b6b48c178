"""What infertel's own components emit: durable export, status, demo, live statistics, autoscaling, remediation.

Part of :mod:`infertel.semconv`, which re-exports every name here: import them from there.
"""

from __future__ import annotations

from typing import Final

# --- Durable export (infertel-exporter-durable) ----------------------------------------------
INFERTEL_EXPORTER_SPOOL_DROPPED: Final = "infertel.exporter.spool.dropped"
"""Counter ({item}): spans, metric points or log records lost for good, by ``infertel.drop.reason``."""
INFERTEL_EXPORTER_SPOOL_SIZE: Final = "infertel.exporter.spool.size"
"""UpDownCounter (By): bytes the spool occupies on disk (and in memory when the disk failed)."""
INFERTEL_EXPORTER_SPOOL_BACKLOG: Final = "infertel.exporter.spool.backlog"
"""UpDownCounter ({item}): items accepted and not yet acknowledged by the collector."""
INFERTEL_EXPORTER_SPOOL_CORRUPT: Final = "infertel.exporter.spool.corrupt"
"""Counter ({record}): torn or corrupt spool records discarded while replaying."""
INFERTEL_EXPORTER_DELIVERED: Final = "infertel.exporter.delivered"
"""Counter ({item}): items the collector acknowledged."""
INFERTEL_SIGNAL: Final = "infertel.signal"
"""Attribute: ``traces``, ``metrics`` or ``logs``."""
INFERTEL_DROP_REASON: Final = "infertel.drop.reason"
"""Attribute: why items were dropped (``queue_full``, ``spool_bound``, ``too_large``, ``expired``,
``rejected``, ``memory_full``, ``encode_error``, ``shutdown``)."""

# --- Component status (infertel.status()) ---------------------------------------------------
INFERTEL_EXPORT_DROPPED: Final = "infertel.export.dropped"
"""Counter ({item}): items an exporter ``configure()`` installed lost for good (a store write that
failed, a spool bound), by ``infertel.component`` and ``infertel.signal``."""
INFERTEL_STORE_ERRORS: Final = "infertel.store.errors"
"""Counter ({error}): write transactions of the embedded store that failed, by ``infertel.signal``."""
INFERTEL_COMPONENT: Final = "infertel.component"
"""Attribute: the kind of component (``sqlite-store``, ``durable-otlp``), as ``infertel.status()`` names it."""
UNIT_ITEMS: Final = "{item}"
UNIT_RECORDS: Final = "{record}"
UNIT_OPERATIONS: Final = "{operation}"
UNIT_THREADS: Final = "{thread}"
UNIT_FILE_DESCRIPTORS: Final = "{file_descriptor}"
UNIT_PACKETS: Final = "{packet}"
UNIT_CONNECTIONS: Final = "{connection}"
UNIT_CONTEXT_SWITCHES: Final = "{context_switch}"
UNIT_COLLECTIONS: Final = "{collection}"
UNIT_OBJECTS: Final = "{object}"

# --- infertel demo ---------------------------------------------------------------------------
INFERTEL_DEMO_RUN_ID: Final = "infertel.demo.run_id"
"""Resource attribute of ``infertel demo`` telemetry: tells one run's spans from earlier runs in the store."""
INFERTEL_DEMO_CALL_STYLE: Final = "infertel.demo.call_style"
"""Span attribute of ``infertel demo`` calls: which API shape made the call (``async``, ``async_stream`` ...)."""

# --- infertel live statistics (span processors, infertel.stats()) ----------------------------
# Observable gauges published from the in-process sliding-window statistics; each carries the
# series attributes (gen_ai.request.model, gen_ai.operation.name, extra attributes, or
# otel.metric.overflow=true) plus STATS_WINDOW and, for distributions, STATS_QUANTILE.
INFERTEL_GEN_AI_LATENCY: Final = "infertel.gen_ai.latency"
"""Gauge (s): latency quantile of the requests that ended in the window."""
INFERTEL_GEN_AI_TIME_TO_FIRST_TOKEN: Final = "infertel.gen_ai.time_to_first_token"
"""Gauge (s): time-to-first-token quantile (streams)."""
INFERTEL_GEN_AI_TIME_PER_OUTPUT_TOKEN: Final = "infertel.gen_ai.time_per_output_token"
"""Gauge (s): time-per-output-token quantile (streams)."""
INFERTEL_GEN_AI_DECODE_SPEED: Final = "infertel.gen_ai.decode_speed"
"""Gauge ({token}/s): quantile of each request's output tokens per second."""
INFERTEL_GEN_AI_OUTPUT_TOKENS_PER_SECOND: Final = "infertel.gen_ai.output_tokens_per_second"
"""Gauge ({token}/s): output tokens of all requests together per second over the window."""
INFERTEL_GEN_AI_INPUT_TOKENS_PER_SECOND: Final = "infertel.gen_ai.input_tokens_per_second"
"""Gauge ({token}/s): input tokens of all requests together per second over the window."""
INFERTEL_GEN_AI_REQUESTS_PER_SECOND: Final = "infertel.gen_ai.requests_per_second"
"""Gauge ({request}/s): requests ended per second over the window."""
INFERTEL_GEN_AI_ERROR_RATE: Final = "infertel.gen_ai.error_rate"
"""Gauge (1): failed / all requests over the window."""
INFERTEL_GEN_AI_ERROR_RATE_BY_TYPE: Final = "infertel.gen_ai.error_rate_by_type"
"""Gauge (1): requests failed with one ``error.type`` / all requests over the window."""
INFERTEL_GEN_AI_IN_FLIGHT: Final = "infertel.gen_ai.in_flight"
"""Gauge ({request}): requests started and not ended (no window)."""
INFERTEL_TIME_IN_QUEUE: Final = "infertel.time_in_queue"
"""Span attribute (s): how long the request waited in the server's queue before its prefill (set it when known)."""
VLLM_TIME_IN_QUEUE: Final = "gen_ai.latency.time_in_queue"
"""Span attribute (s): vLLM's name for the same wait (its OpenTelemetry tracing); read by ``infertel.analysis``."""
INFERTEL_COST_USD: Final = "infertel.cost.usd"
"""Span attribute (USD): the request's token cost from the price table (``configure(prices=...)``)."""
INFERTEL_COST: Final = "infertel.cost"
"""Counter ({USD}): token cost of the requests priced, by ``gen_ai.request.model`` and ``gen_ai.operation.name``."""
INFERTEL_COST_UNIT: Final = "{USD}"
STATS_QUANTILE: Final = "quantile"
"""Gauge attribute: the quantile as a string, e.g. ``"0.99"``."""
STATS_WINDOW: Final = "window"
"""Gauge attribute: the window length, e.g. ``"60s"``."""
UNIT_TOKENS_PER_SECOND: Final = "{token}/s"
UNIT_REQUESTS_PER_SECOND: Final = "{request}/s"

# --- Autoscaling signal (infertel.autoscaling) -----------------------------------------------
# Observable gauges of the latest PredictiveAutoscaler decision, for KEDA's Prometheus scaler or
# an HPA external metric; each carries AUTOSCALING_REASON on the desired-replicas gauge only.
INFERTEL_AUTOSCALING_DESIRED_REPLICAS: Final = "infertel.autoscaling.desired_replicas"
"""Gauge ({replica}): the replica count the policy recommends now."""
INFERTEL_AUTOSCALING_CURRENT_REPLICAS: Final = "infertel.autoscaling.current_replicas"
"""Gauge ({replica}): replicas running or starting when the recommendation was made."""
INFERTEL_AUTOSCALING_FORECAST_RATE: Final = "infertel.autoscaling.forecast.requests_per_second"
"""Gauge ({request}/s): mean forecast request rate over the look-ahead (cold start + interval)."""
INFERTEL_AUTOSCALING_FORECAST_UPPER_RATE: Final = "infertel.autoscaling.forecast.requests_per_second.upper"
"""Gauge ({request}/s): the prediction interval's upper bound used for scale-up."""
INFERTEL_AUTOSCALING_CAPACITY: Final = "infertel.autoscaling.capacity.requests_per_second"
"""Gauge ({request}/s): measured sustainable request rate per replica at the SLO."""
INFERTEL_AUTOSCALING_TARGET_RUNNING: Final = "infertel.autoscaling.target_running"
"""Gauge ({request}): running requests per replica the policy holds."""
AUTOSCALING_REASON: Final = "infertel.autoscaling.reason"
"""Gauge attribute: what set the recommendation (forecast, load, rate, ttft, kv_cache, stabilization, cooldown,
queue)."""
UNIT_REPLICAS: Final = "{replica}"


# --- alerting: remediation and scheduled actions (issue 14) -----------------------------------
INFERTEL_REMEDIATION_ACTION: Final = "infertel.remediation.action"
"""The name of a remediation or scheduled action (span attribute)."""
INFERTEL_REMEDIATION_TRIGGER: Final = "infertel.remediation.trigger"
"""What ran it: ``fire``, ``resolve`` or ``schedule``."""
INFERTEL_REMEDIATION_OUTCOME: Final = "infertel.remediation.outcome"
"""``ok``, ``failed``, ``timeout``, ``dry_run``, ``rate_limited`` or ``busy``."""
INFERTEL_REMEDIATION_DRY_RUN: Final = "infertel.remediation.dry_run"
"""Whether the action only said what it would do."""
INFERTEL_ALERT_NAME: Final = "infertel.alert.name"
"""The alert (rule) name a remediation ran for."""
INFERTEL_ALERT_FINGERPRINT: Final = "infertel.alert.fingerprint"
"""The alert instance's fingerprint (16 hex digits)."""
