"""Metric rollups: per series (resource, name, attributes) and 10 s / 1 min / 10 min / 1 h bucket.

Written in the same transaction as the raw points that feed them. Gauges (and non-monotonic
sums) keep ``count``/``sum``/``min``/``max``/``last``; cumulative monotonic sums keep ``delta``,
the increase since the series' previous point (a changed start time or a lower value is a reset:
the new value is the increase since the restart); explicit-bucket histograms keep the bucket
deltas (``hist``), the count delta (``delta``) and the sum delta (``sum``). Delta-temporality
points are their own deltas. Exponential histograms are kept raw only.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import add, sub
from typing import Any

from infertel_exporters.sqlite._buckets import STEPS_S, CountsSum, counts_add
from infertel_exporters.sqlite._encode import encode_json

CREATE = (
    """CREATE TABLE metric_series (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        unit TEXT,
        kind TEXT NOT NULL,
        monotonic INTEGER,
        service TEXT NOT NULL,
        resource_id INTEGER,
        attributes TEXT NOT NULL,
        bounds TEXT
    )""",
    "CREATE INDEX metric_series_name ON metric_series (name)",
    """CREATE TABLE metric_rollups (
        step INTEGER NOT NULL,
        series_id INTEGER NOT NULL,
        bucket_ns INTEGER NOT NULL,
        count INTEGER NOT NULL,
        sum REAL,
        min REAL,
        max REAL,
        last REAL,
        last_ns INTEGER,
        delta REAL,
        hist TEXT,
        PRIMARY KEY (step, bucket_ns, series_id)
    ) WITHOUT ROWID""",
)
"""Keyed by time first (schema 4): one export's rows land side by side, so a commit writes a few pages, not
one per series (schema 3 keyed ``(step, series_id, bucket_ns)``: two thirds of a metric point's ingest cost)."""
SERIES_INSERT = (
    "INSERT OR IGNORE INTO metric_series (id, name, unit, kind, monotonic, service, resource_id, attributes, bounds)"
    " VALUES (?,?,?,?,?,?,?,?,?)"
)
UPSERT = (
    "INSERT INTO metric_rollups (step, series_id, bucket_ns, count, sum, min, max, last, last_ns, delta, hist)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (step, bucket_ns, series_id) DO UPDATE SET"
    " count = count + excluded.count, sum = sum + excluded.sum, min = min(min, excluded.min),"
    " max = max(max, excluded.max), last = CASE WHEN excluded.last_ns >= last_ns THEN excluded.last ELSE last END,"
    " last_ns = max(last_ns, excluded.last_ns),"
    " delta = CASE WHEN delta IS NULL THEN excluded.delta ELSE delta + coalesce(excluded.delta, 0) END,"
    " hist = infertel_hist_add(hist, excluded.hist)"
)
_PREVIOUS = (
    "SELECT start_ns, value, histogram FROM metric_points WHERE name = ? AND resource_id = ? AND attributes = ?"
    " AND time_ns < ? ORDER BY time_ns DESC LIMIT 1"
)


_PARSED: dict[str, Sequence[Any]] = {}
"""Bucket-count JSON this process wrote lately -> its list (never mutated): summing a closing bucket's rows
skips parsing them again. Bounded; cleared when full."""


def _counts(text: str) -> Sequence[Any]:
    found = _PARSED.get(text)
    return json.loads(text) if found is None else found


def hist_add(a: str | None, b: str | None) -> str | None:
    """SQL function ``infertel_hist_add``: element-wise sum of two JSON count arrays (NULL-safe).

    Example:
        >>> hist_add("[1,2]", "[3,4]")
        '[4,6]'
    """
    if a is None:
        return b
    if b is None:
        return a
    x, y = _counts(a), _counts(b)
    if len(x) != len(y):  # bounds changed inside a bucket: keep the newer layout
        return b
    return encode_json(list(map(add, x, y)))


class HistSum:
    """SQL aggregate ``infertel_hist_sum``: element-wise sum of JSON count arrays (NULLs skipped; a new layout wins).

    Example:
        >>> acc = HistSum()
        >>> acc.step("[1,2]"), acc.step(None), acc.step("[3,4]")
        (None, None, None)
        >>> acc.finalize()
        '[4,6]'
    """

    def __init__(self) -> None:
        self.total: Sequence[Any] | None = None

    def step(self, value: str | None) -> None:
        """Add one row's counts."""
        if value is None:
            return
        counts = _counts(value)
        total = self.total
        if total is None or len(total) != len(counts):
            self.total = counts
        else:
            self.total = list(map(add, total, counts))  # the same length (checked)

    def finalize(self) -> str | None:
        """The summed counts as JSON (NULL when every row was NULL)."""
        return None if self.total is None else encode_json(self.total)


def migrate_to_v4(conn: sqlite3.Connection) -> None:
    """Version 4: ``metric_rollups`` keyed ``(step, bucket_ns, series_id)`` (rows copied as they are)."""
    conn.execute("ALTER TABLE metric_rollups RENAME TO metric_rollups_v3")
    for statement in CREATE[2:]:
        conn.execute(statement)
    conn.execute("INSERT INTO metric_rollups SELECT * FROM metric_rollups_v3")
    conn.execute("DROP TABLE metric_rollups_v3")


def register_functions(conn: sqlite3.Connection) -> None:
    """Add the SQL functions the rollup statements use to ``conn``."""
    conn.create_function("infertel_hist_add", 2, hist_add, deterministic=True)
    conn.create_aggregate("infertel_hist_sum", 1, HistSum)  # type: ignore[arg-type]  # typeshed: int values
    conn.create_function("infertel_counts_add", 2, counts_add, deterministic=True)
    conn.create_aggregate("infertel_counts_sum", 1, CountsSum)  # type: ignore[arg-type]
    from infertel_exporters.sqlite import _model_rollups  # imports this module's importers

    conn.create_function("infertel_duration_counts", -1, _model_rollups.duration_counts, deterministic=True)


def series_id(resource_id: int, name: str, kind: str, attributes: str, bounds: str | None) -> int:
    """A 63-bit id of one series, the same in every process (no read needed to write)."""
    text = f"{resource_id}\0{name}\0{kind}\0{attributes}\0{bounds or ''}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


class MetricState:
    """Per series: the last cumulative point seen (start, value or bucket counts), for deltas.

    ``pending`` holds what a write computed; :meth:`commit` keeps it once the transaction is committed
    (a failed write leaves the previous state, so the next point's delta covers the lost one).
    Bounded: cleared past 100,000 series.
    """

    def __init__(self) -> None:
        self.last: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self.known: set[int] = set()
        self.ids: dict[tuple[Any, ...], int] = {}
        self.pending: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self.pending_known: set[int] = set()

    def commit(self) -> None:
        """Keep what the last (committed) write computed."""
        if len(self.last) > 100_000:
            self.last.clear()
            self.known.clear()
        self.last.update(self.pending)
        self.known.update(self.pending_known)
        self.pending = {}
        self.pending_known = set()

    def rollback(self) -> None:
        """Forget what a failed write computed."""
        self.pending = {}
        self.pending_known = set()


def _previous(conn: sqlite3.Connection | None, state: MetricState, key: tuple[Any, ...], time_ns: int) -> Any:
    found = state.pending.get(key) or state.last.get(key)
    if found is not None or conn is None:
        return found
    name, rid, attributes, _kind = key
    row = conn.execute(_PREVIOUS, (name, rid, attributes, time_ns)).fetchone()
    if row is None:
        return None
    if row[2] is not None:
        h = json.loads(row[2])
        return (row[0], h["counts"], h["sum"], h["count"])
    return (row[0], row[1])


def rollup_rows(
    rows: Iterable[Sequence[Any]],
    state: MetricState,
    service_of: Callable[[int], str],
    conn: sqlite3.Connection | None,
    histograms: dict[int, tuple[str, Sequence[int], float, int]] | None = None,
    done: Mapping[int, int] | None = None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Series rows (``SERIES_INSERT``) and rollup rows (``UPSERT``) for raw ``metric_points`` rows.

    ``rows`` are in ``METRIC_INSERT`` order: name, unit, kind, temporality, monotonic, start_ns,
    time_ns, attributes, value, histogram, scope_name, resource_id. ``conn`` (optional) finds a
    series' previous point in the store when this process has not seen it yet. ``histograms`` (row
    index -> bounds JSON, counts, sum, count) spares parsing the histogram JSON of those rows.
    ``done`` (``_tiers.marks``): write the 10 s rows, and the coarser ones only for buckets already
    closed (late points); without it, every step.
    """
    series: list[tuple[Any, ...]] = []
    out: list[tuple[Any, ...]] = []
    ids = state.ids
    late_before = max(done.values()) if done is not None else None  # marks are bucket starts: time < mark
    for index, (name, unit, kind, temporality, monotonic, start_ns, time_ns, attributes, value, histogram, _s,
                rid) in enumerate(rows):  # fmt: skip
        if kind == "exponential_histogram":
            continue
        hist: str | None = None
        bounds: str | None = None
        delta: float | None = None
        total: float | None = None
        if kind == "histogram":
            parts = histograms.get(index) if histograms is not None else None
            if parts is None:
                h = json.loads(histogram)
                parts = (encode_json(h["bounds"]), h["counts"], h["sum"], h["count"])
            bounds, counts, hsum, hcount = parts
            key = (name, rid, attributes, kind)
            if temporality == "cumulative":
                prev = _previous(conn, state, key, time_ns)
                state.pending[key] = (start_ns, tuple(counts), hsum, hcount)
                if prev is not None and prev[0] == start_ns and hcount >= prev[3] and len(prev[1]) == len(counts):
                    counts = list(map(sub, counts, prev[1]))  # the same length (checked)
                    hsum, hcount = hsum - prev[2], hcount - prev[3]
            hist = encode_json(counts)
            if len(_PARSED) >= 65_536:
                _PARSED.clear()
            _PARSED[hist] = counts
            delta, total = hcount, hsum
            low = high = last = None
        else:
            if value is None:
                continue
            low = high = last = total = value
            if kind == "sum" and monotonic:
                delta = value
                if temporality == "cumulative":
                    key = (name, rid, attributes, kind)
                    prev = _previous(conn, state, key, time_ns)
                    state.pending[key] = (start_ns, value)
                    if prev is not None and prev[0] == start_ns and value >= prev[1]:
                        delta = value - prev[1]
        id_key = (rid, name, kind, attributes, bounds)
        sid = ids.get(id_key)
        if sid is None:
            if len(ids) > 100_000:
                ids.clear()
            sid = ids[id_key] = series_id(rid, name, kind, attributes, bounds)
        if sid not in state.known and sid not in state.pending_known:
            state.pending_known.add(sid)
            series.append((sid, name, unit, kind, monotonic, service_of(rid), rid, attributes, bounds))
        out.append((10, sid, time_ns - time_ns % 10_000_000_000, 1, total, low, high, last, time_ns, delta, hist))
        if late_before is None or time_ns < late_before:
            for step in STEPS_S[1:]:
                bucket = time_ns - time_ns % (step * 1_000_000_000)
                if done is None or bucket < done[step]:
                    out.append((step, sid, bucket, 1, total, low, high, last, time_ns, delta, hist))
    return series, out
