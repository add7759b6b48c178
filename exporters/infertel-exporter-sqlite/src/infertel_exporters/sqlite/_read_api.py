"""The public read API of :class:`SQLiteStore` over the rollups and the raw rows (a mixin)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from infertel_exporters.sqlite import _analytics, _queries, _search, _tiers, _timeseries
from infertel_exporters.sqlite._analytics import OverviewRow, Series
from infertel_exporters.sqlite._queries import StoredLog, TraceSummary
from infertel_exporters.sqlite._search import LogPage, TracePage

_T = TypeVar("_T")
# the 1 h rollups, and the 10 s ones of the hours not closed yet (``_tiers``)
_LABEL_SQL = {
    "model": "SELECT model FROM span_rollups WHERE step = 3600 AND model != '' UNION"
    " SELECT model FROM span_rollups WHERE step = 10 AND bucket_ns >= ? AND model != '' ORDER BY 1",
    "operation": "SELECT operation FROM span_rollups WHERE step = 3600 AND operation != '' UNION"
    " SELECT operation FROM span_rollups WHERE step = 10 AND bucket_ns >= ? AND operation != '' ORDER BY 1",
    "error_type": "SELECT error_type FROM span_error_rollups WHERE step = 3600 UNION"
    " SELECT error_type FROM span_error_rollups WHERE step = 10 AND bucket_ns >= ? ORDER BY 1",
}


class ReadAPI:
    """Overview, time series, trace and log search (every method reads one consistent snapshot)."""

    _read: Callable[[Callable[[sqlite3.Connection], Any]], Any]

    def overview(self, start_ns: int, end_ns: int, *, group_by: Sequence[str] = ("service", "model"),
                 where: Mapping[str, str] | None = None) -> list[OverviewRow]:  # fmt: skip
        """Requests, errors, rates, latency / TTFT / TPOT percentiles and tokens/s per group, busiest first.

        From the span rollups (a store with traces only is enough); ``in_flight`` from the
        ``infertel.gen_ai.in_flight`` gauge. ``[start_ns, end_ns)`` is widened to 10 s buckets.

        Args:
            start_ns: Range start (ns since the epoch).
            end_ns: Range end (exclusive).
            group_by: Keys among ``service``, ``model``, ``operation``, ``error_type``.
            where: Keep only these key values (same keys).

        Raises:
            ValueError: An unknown group or filter key.

        Example:
            >>> from infertel_exporters.sqlite import SQLiteStore
            >>> SQLiteStore(":memory:").overview(0, 10**18)
            []
        """
        return self._read(lambda c: _analytics.overview(c, start_ns, end_ns, group_by, where))

    def timeseries(self, query: str, start_ns: int, end_ns: int, step_s: float, *,
                   group_by: Sequence[str] = ("model",),
                   where: Mapping[str, str] | None = None) -> list[Series]:  # fmt: skip
        """One series per group of ``query`` (``ROLLUP_QUERIES`` or ``metric:<name>[:<stat>]``), a point per step.

        ``step_s`` is rounded up to a multiple of the rollup used (10 s, 1 min, 10 min or 1 h: the coarsest
        not above it). For ``metric:`` queries the group keys are attribute names and ``service``
        (``model`` and ``operation`` stand for ``gen_ai.request.model`` / ``gen_ai.operation.name``).
        Stats: gauges ``avg`` (default), ``min``, ``max``, ``last`` (latest per process, summed),
        ``sum`` (per-process averages, summed); monotonic sums ``rate`` (default; deltas with reset
        detection, merged across processes); histograms ``p50``/``p95`` (default)/``p99`` and ``rate``.

        Raises:
            ValueError: An unknown query or stat (the message lists the accepted ones), a bad step.

        Example:
            >>> from infertel_exporters.sqlite import SQLiteStore
            >>> SQLiteStore(":memory:").timeseries("requests_per_s", 0, 60 * 10**9, 10)
            []
        """
        return self._read(lambda c: _timeseries.timeseries(c, query, start_ns, end_ns, step_s, group_by, where))

    def search_traces(self, *, start_ns: int | None = None, end_ns: int | None = None, service: str | None = None,
                      model: str | None = None, status: str | None = None, min_duration_s: float | None = None,
                      attribute: tuple[str, str] | None = None, limit: int = 50,
                      cursor: str | None = None) -> TracePage:  # fmt: skip
        """Traces newest first, filtered, one page at a time.

        A trace matches when one of its spans matches every filter given (``service``: the span's
        resource; ``status="error"``: a span with status ERROR; ``status="ok"``: a trace without
        one); without span filters, its root span. Traces are ordered by that matching span's
        start (the root's start without filters), newest first, and appear once across pages.

        Example:
            >>> from infertel_exporters.sqlite import SQLiteStore
            >>> SQLiteStore(":memory:").search_traces(model="llama-3-8b")
            TracePage(traces=[], next_cursor=None)
        """
        return self._read(lambda c: _search.search_traces(
            c, start_ns=start_ns, end_ns=end_ns, service=service, model=model, status=status,
            min_duration_s=min_duration_s, attribute=attribute, limit=limit, cursor=cursor))  # fmt: skip

    def trace_logs(self, trace_id: str | int) -> list[StoredLog]:
        """Log records correlated with one trace (by trace id), oldest first.

        Example:
            >>> from infertel_exporters.sqlite import SQLiteStore
            >>> SQLiteStore(":memory:").trace_logs("4bf92f3577b34da6a3ce929d0e0e4736")
            []
        """
        tid = _queries.blob_id(trace_id, 16)
        return self._read(lambda c: _queries.logs(c, None, None, tid.hex(), None))

    def search_logs(self, *, start_ns: int | None = None, end_ns: int | None = None, min_severity: int | None = None,
                    service: str | None = None, text: str | None = None, trace_id: str | None = None,
                    limit: int = 100, cursor: str | None = None) -> LogPage:  # fmt: skip
        """Log records newest first, filtered, one page at a time.

        Filters: at least ``min_severity`` (OTel severity number), of ``service``, containing
        ``text`` (case-insensitive, in the body or attributes), of ``trace_id``.

        Example:
            >>> from infertel_exporters.sqlite import SQLiteStore
            >>> SQLiteStore(":memory:").search_logs(min_severity=17)
            LogPage(logs=[], next_cursor=None)
        """
        return self._read(lambda c: _search.search_logs(
            c, start_ns=start_ns, end_ns=end_ns, min_severity=min_severity, service=service, text=text,
            trace_id=trace_id, limit=limit, cursor=cursor))  # fmt: skip

    def label_values(self, key: str) -> list[str]:
        """Distinct values of ``service``, ``model``, ``operation`` or ``error_type`` (for filters), sorted.

        Raises:
            ValueError: Another key.

        Example:
            >>> from infertel_exporters.sqlite import SQLiteStore
            >>> SQLiteStore(":memory:").label_values("model")
            []
        """
        if key == "service":
            return self._read(_services)
        if key not in _LABEL_SQL:
            raise ValueError(f"label_values key must be one of service, model, operation, error_type; got {key!r}")
        return self._read(lambda c: [row[0] for row in c.execute(_LABEL_SQL[key], (_tiers.marks(c, "span")[3600],))])

    def recent_traces(
        self, limit: int = 50, *, since: int | None = None, model: str | None = None
    ) -> list[TraceSummary]:
        """The most recent traces, newest first (``search_traces``'s first page).

        Example:
            >>> from infertel_exporters.sqlite import SQLiteStore
            >>> SQLiteStore(":memory:").recent_traces(limit=10)
            []
        """
        return self.search_traces(start_ns=since, model=model, limit=limit).traces


def _services(conn: sqlite3.Connection) -> list[str]:
    resources = _queries._Resources(conn)
    names = {resources.service(rid) for (rid,) in conn.execute("SELECT id FROM resources")}
    return sorted(n for n in names if n)
