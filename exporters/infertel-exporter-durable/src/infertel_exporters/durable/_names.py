"""The names this distribution reads and emits: environment variables, metric and attribute names, units.

They are infertel's names (``infertel.environment_variables`` and ``infertel.semconv`` document
them too); they are spelled out here because this distribution does not depend on ``infertel``
(``infertel`` depends on it). A test asserts both spellings are identical.
"""

from __future__ import annotations

from typing import Final

# environment variables
INFERTEL_DURABLE: Final = "INFERTEL_DURABLE"
INFERTEL_SPOOL_DIR: Final = "INFERTEL_SPOOL_DIR"
INFERTEL_SPOOL_MAX_BYTES: Final = "INFERTEL_SPOOL_MAX_BYTES"
INFERTEL_SPOOL_MAX_AGE_S: Final = "INFERTEL_SPOOL_MAX_AGE_S"

# instrumentation scope of the spool metrics (infertel.semconv.SCHEMA_URL)
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.41.0"

# metrics, attributes and units
INFERTEL_EXPORTER_SPOOL_DROPPED: Final = "infertel.exporter.spool.dropped"
INFERTEL_EXPORTER_SPOOL_SIZE: Final = "infertel.exporter.spool.size"
INFERTEL_EXPORTER_SPOOL_BACKLOG: Final = "infertel.exporter.spool.backlog"
INFERTEL_EXPORTER_SPOOL_CORRUPT: Final = "infertel.exporter.spool.corrupt"
INFERTEL_EXPORTER_DELIVERED: Final = "infertel.exporter.delivered"
INFERTEL_SIGNAL: Final = "infertel.signal"
INFERTEL_DROP_REASON: Final = "infertel.drop.reason"
UNIT_ITEMS: Final = "{item}"
UNIT_BYTES: Final = "By"
UNIT_RECORDS: Final = "{record}"
