"""infertel's embedded telemetry store: OpenTelemetry exporters to a local SQLite file, and a read API.

``infertel.configure()`` uses it when no OTLP endpoint is set; ``infertel demo`` and the
dashboard read it back through :class:`SQLiteStore`.

Example:
    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from opentelemetry.sdk.trace.export import BatchSpanProcessor
    >>> from infertel_exporters.sqlite import SQLiteSpanExporter, SQLiteStore
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(BatchSpanProcessor(SQLiteSpanExporter("/tmp/telemetry.db")))
    >>> store = SQLiteStore("/tmp/telemetry.db")
    >>> traces = store.recent_traces(limit=20)

Schema (version 1, kept in ``PRAGMA user_version``; WAL journal, ``synchronous=NORMAL``,
``auto_vacuum=INCREMENTAL``). Ids are lower-case hex text, times integer nanoseconds since the
Unix epoch, ``*attributes`` JSON objects (arrays for sequence values):

``spans``
    ``id`` INTEGER PRIMARY KEY, ``trace_id`` (32 hex), ``span_id`` (16 hex),
    ``parent_span_id`` (NULL for a root), ``name``, ``kind`` (``INTERNAL``, ``SERVER``,
    ``CLIENT``, ``PRODUCER``, ``CONSUMER``), ``start_ns``, ``end_ns``, ``status_code``
    (``UNSET``, ``OK``, ``ERROR``), ``status_message``, ``model`` (``gen_ai.request.model``, else
    ``gen_ai.response.model``), ``operation`` (``gen_ai.operation.name``), ``attributes``,
    ``events`` (JSON array of ``{"name", "time_ns", "attributes"}`` or NULL), ``links`` (JSON
    array of ``{"trace_id", "span_id", "attributes"}`` or NULL), ``scope_name``,
    ``scope_version``, ``resource_id`` -> ``resources.id``. Indices: UNIQUE
    ``(trace_id, span_id)`` (a re-sent span is ignored), ``(start_ns)``, ``(model, start_ns)``.
``metric_points``
    ``id``, ``name``, ``unit``, ``kind`` (``sum``, ``gauge``, ``histogram``,
    ``exponential_histogram``), ``temporality`` (``cumulative``/``delta``, NULL for gauges),
    ``monotonic`` (0/1 for sums), ``start_ns``, ``time_ns``, ``attributes``, ``value`` (sums and
    gauges; integers stay integers), ``histogram`` (JSON ``{"bounds", "counts", "sum", "count",
    "min", "max"}``; exponential: ``{"scale", "zero_count", "positive": {"offset", "counts"},
    "negative": {...}, "sum", "count", "min", "max"}``), ``scope_name``, ``resource_id``.
    Indices: ``(name, time_ns)``, ``(time_ns)``.
``logs``
    ``id``, ``time_ns``, ``observed_ns``, ``severity_number``, ``severity_text``, ``body`` (JSON),
    ``attributes``, ``event_name``, ``trace_id``, ``span_id``, ``trace_flags``, ``scope_name``,
    ``resource_id``. Indices: ``(time_ns)``, ``(trace_id)``.
``resources``
    ``id`` (63-bit hash of the content, the same in every process), ``attributes``,
    ``schema_url``, ``last_seen_ns``.

Retention (:class:`Retention`) deletes rows older than ``max_age_s`` and, past ``max_bytes``
of used pages, the oldest rows of every table, in chunks of short transactions on a daemon
thread, then returns the freed pages to the file system.
"""

from __future__ import annotations

from infertel_exporters.sqlite._analytics import ROLLUP_QUERIES, OverviewRow, Series
from infertel_exporters.sqlite._exporters import SQLiteLogExporter, SQLiteMetricExporter, SQLiteSpanExporter
from infertel_exporters.sqlite._paths import default_path
from infertel_exporters.sqlite._queries import MetricPoint, StoredEvent, StoredLink, StoredLog, StoredSpan, TraceSummary
from infertel_exporters.sqlite._retention import Retention, RetentionResult
from infertel_exporters.sqlite._schema import SCHEMA_VERSION, StoreError
from infertel_exporters.sqlite._search import LogPage, TracePage
from infertel_exporters.sqlite._store import SQLiteStore

__all__ = [
    "ROLLUP_QUERIES",
    "SCHEMA_VERSION",
    "LogPage",
    "MetricPoint",
    "OverviewRow",
    "Retention",
    "RetentionResult",
    "SQLiteLogExporter",
    "SQLiteMetricExporter",
    "SQLiteSpanExporter",
    "SQLiteStore",
    "Series",
    "StoreError",
    "StoredEvent",
    "StoredLink",
    "StoredLog",
    "StoredSpan",
    "TracePage",
    "TraceSummary",
    "default_path",
]
