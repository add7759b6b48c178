"""Durable OTLP export: nothing is lost through collector outages, restarts or crashes.

:func:`durable` (or :class:`DurableSpanExporter`, :class:`DurableMetricExporter`,
:class:`DurableLogExporter`) wraps an exporter. Every batch is encoded once to an OTLP protobuf
export request and appended to a bounded, segmented on-disk spool (length + CRC framed records,
see ``_spool``); a sender thread delivers the records in order through the inner exporter's own
transport (OTLP/HTTP or gRPC: the bytes as they are; any other span exporter: decoded back to
``ReadableSpan``) and commits each only after the collector acknowledged it, backing off
(capped exponential, jittered) while it is down. A new process replays what an old one left
(a lock file per lane keeps two live processes apart). Size and age bounds drop the oldest data,
counted in ``infertel.exporter.spool.dropped``; ``infertel.exporter.spool.size`` and
``infertel.exporter.spool.backlog`` report the rest.

:class:`DurableBatchSpanProcessor` replaces the SDK ``BatchSpanProcessor`` in front of it.

Delivery is at least once: a process killed between the collector's acknowledgement and the
cursor update re-sends that one batch.

Example:
    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    >>> provider = TracerProvider()
    >>> exporter = durable(OTLPSpanExporter(endpoint="http://127.0.0.1:4318/v1/traces"))  # doctest: +SKIP
    >>> provider.add_span_processor(DurableBatchSpanProcessor(exporter))  # doctest: +SKIP
"""

from __future__ import annotations

from infertel_exporters.durable._exporter import (
    DurableLogExporter,
    DurableMetricExporter,
    DurableSpanExporter,
    default_spool_dir,
    durable,
    durable_enabled,
)
from infertel_exporters.durable._processor import DurableBatchSpanProcessor

__all__ = [
    "DurableBatchSpanProcessor",
    "DurableLogExporter",
    "DurableMetricExporter",
    "DurableSpanExporter",
    "default_spool_dir",
    "durable",
    "durable_enabled",
]
