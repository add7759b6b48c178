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

Read API (read-only connections for dashboards and the CLI: ``SQLiteStore(path, read_only=True)``):
``overview`` (per service / model / operation / error type: requests, errors, rates, latency /
TTFT / TPOT percentiles, tokens/s, in-flight), ``timeseries`` (``ROLLUP_QUERIES`` or
``metric:<name>[:<stat>]``), ``search_traces`` / ``search_logs`` (newest first, filters, cursor
pages), ``trace``, ``trace_logs``, ``label_values``; plus ``spans``, ``metric_series``, ``logs``.

Schema version 5 (``PRAGMA user_version``; version 1, 2, 3 and 4 files are migrated by the first writer
that opens them, rollups included; a reader refuses them with "run any writer once to migrate").
WAL journal, ``synchronous=NORMAL``, ``auto_vacuum=INCREMENTAL``. Times are integer nanoseconds
since the Unix epoch; trace and span ids 16- and 8-byte BLOBs (``hex(trace_id)`` in SQL):

``spans``
    ``id`` INTEGER PRIMARY KEY, ``trace_id``, ``span_id``, ``parent_span_id`` (NULL for a root),
    ``root`` (1: no parent or a remote one), ``name`` (NULL when it is ``"<operation> <model>"``),
    ``kind`` (0 INTERNAL, 1 SERVER, 2 CLIENT, 3 PRODUCER, 4 CONSUMER), ``start_ns``,
    ``duration_ns``, ``status_code`` (NULL = UNSET, ``'OK'``, ``'ERROR'``), ``status_message``,
    ``model`` (``gen_ai.request.model``, else ``gen_ai.response.model``), ``operation``
    (``gen_ai.operation.name``), ``shape_id`` -> ``span_shapes.id``, ``attributes`` (JSON array of
    the values, in the shape's key order, without the implied ones), ``events`` (JSON
    ``[{"name", "time_ns", "attributes"}]`` or NULL), ``links`` (JSON ``[{"trace_id", "span_id",
    "attributes"}]`` or NULL). Indices: UNIQUE ``(trace_id, span_id)`` (a re-sent span is
    ignored), ``(start_ns)``, ``(start_ns) WHERE status_code = 'ERROR'``.
``span_shapes``
    ``id`` (47-bit hash of the content: the same in every process), ``resource_id``,
    ``scope_name``, ``scope_version``, ``keys`` (JSON array of attribute keys), ``implied`` (JSON
    object: key -> ``"model"`` / ``"operation"``, the column holding that attribute's value).
``span_rollups`` (WITHOUT ROWID)
    Key ``(step, bucket_ns, service, model, operation)``: ``step`` 10, 60, 600 or 3600 seconds,
    ``bucket_ns`` the bucket start, text keys ``''`` when absent. ``input_tokens``,
    ``output_tokens`` and ``v0..v35``: the counts ``count``, ``errors``, ``ttft_count``,
    ``tpot_count`` and the duration (powers of sqrt(2) s, 7.8 ms .. 362 s), TTFT (powers of 2,
    1 ms .. 32 s) and TPOT (61 us .. 1 s) bucket counts, packed two to a column (lane 0 + lane 1 *
    2^31, see ``_span_rollups``). GenAI spans only (a model or an operation). The 10 s rows are
    written with the spans, in the same transaction; a 1 min, 10 min or 1 h bucket is summed from
    the next finer step once it closes (see ``rollup_marks``).
``span_error_rollups`` (WITHOUT ROWID)
    The failed spans again, keyed ``(step, bucket_ns, service, model, operation, error_type)``
    (``error.type``, ``'_OTHER'`` for an ERROR status without one), same columns; the error-free
    group is ``span_rollups`` minus these.
``span_model_rollups`` (WITHOUT ROWID)
    Key ``(step, bucket_ns, model, operation)``, steps 60, 600 and 3600 only: ``d``, the duration
    bucket counts summed over the services, as a BLOB of little-endian uint32. Summed from
    ``span_rollups`` when a bucket closes; latency series without the service key read it.
``rollup_marks`` (WITHOUT ROWID)
    Key ``(kind, step)`` (``'span'``; 60, 600, 3600): ``done_ns``. Every coarse span bucket before it
    is complete (a late row for one is added to it directly); none at or after it exists yet, and
    reads cover that part from the finer steps. A batch whose data reaches a later bucket closes the
    earlier ones, in its transaction; retention closes the buckets whose 10 s rows it deletes.
    (``'metric-v4'``, step 0: see ``metric_rollups``.)
``metric_points``
    ``id``, ``name``, ``unit``, ``kind`` (``sum``, ``gauge``, ``histogram``,
    ``exponential_histogram``), ``temporality`` (``cumulative``/``delta``, NULL for gauges),
    ``monotonic`` (0/1 for sums), ``start_ns``, ``time_ns``, ``attributes`` (JSON object), ``value``
    (sums and gauges; integers stay integers), ``histogram`` (JSON ``{"bounds", "counts", "sum",
    "count", "min", "max"}``; exponential: ``{"scale", "zero_count", "positive": {"offset",
    "counts"}, "negative": {...}, "sum", "count", "min", "max"}``), ``scope_name``,
    ``resource_id``, ``mark`` and ``base`` (the metric rollups: a point opening a 1 min, 10 min or
    1 h bucket of its series is marked 1, 2 or 3, plus 4 where the series restarts; ``base``: the
    series' previous value, see ``_metric_marks``). Indices: ``(name, mark, time_ns)``, ``(time_ns)``.
``metric_series``
    ``id`` (63-bit hash of resource, name, kind, attributes, bounds), ``name``, ``unit``,
    ``kind``, ``monotonic``, ``service``, ``resource_id``, ``attributes``, ``bounds``. Index
    ``(name)``. Written with a series' first point.
``metric_rollups`` (WITHOUT ROWID)
    Schema 4's metric rollups, no longer written. In a store migrated from schema 4, reads take the
    step buckets before the hour of its oldest raw point from here (``rollup_marks`` kind
    ``'metric-v4'``, step 0: that hour); retention deletes them by age.
``logs``
    ``id``, ``time_ns``, ``observed_ns``, ``severity_number``, ``severity_text``, ``body`` (JSON),
    ``attributes``, ``event_name``, ``trace_id`` (BLOB), ``span_id`` (BLOB), ``trace_flags``,
    ``scope_name``, ``resource_id``. Indices: ``(time_ns)``, ``(trace_id)``.
``resources``
    ``id`` (63-bit hash of the content, the same in every process), ``attributes``,
    ``schema_url``, ``last_seen_ns``.

Retention (:class:`Retention`): raw rows (spans, metric points, logs) and 10 s rollups older than
``max_age_s`` (3 days; ``INFERTEL_STORE_MAX_AGE_SECONDS``), 1 min, 10 min and 1 h rollups and the
marked metric points older than ``rollup_max_age_s`` (30 days;
``INFERTEL_STORE_ROLLUP_MAX_AGE_SECONDS``), never a rollup bucket that a remaining raw row still
feeds; past ``max_bytes`` (256 MiB; ``INFERTEL_STORE_MAX_BYTES``) the oldest raw rows. In chunks of
short transactions on a daemon thread, then the freed pages go back to the file system.
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
