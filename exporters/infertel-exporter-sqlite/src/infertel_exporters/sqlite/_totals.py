"""Per-group sums of the span rollups over a range (``SQLiteStore.overview``): one statement, closed buckets reused.

The rows of a range's pieces (``_analytics.cover``, completed by ``_tiers.complete``) are summed in
one SQL statement per call, grouped, with the packed lanes summed whole (``_span_rollups.histogram_sums``):
one result row per group instead of one per group and piece, and half the SQL sums.

A coarse piece (10 min or 1 h rollups) holds closed buckets: its sums per group are kept
(:class:`ClosedPieces`) and reused while the piece's row count and span count are what they were
when it was summed, which one index range read checks on every call (about 0.1 ms for a day of 1 h
rows). Every change to a rollup row adds spans to it (the write path upserts counts; closing a
bucket sums finer rows into it) or deletes it (retention), so either figure moves with any change:
data arriving late for a closed bucket is counted at once, never served stale.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from infertel_exporters.sqlite import _span_rollups as sr
from infertel_exporters.sqlite._buckets import HISTOGRAMS
from infertel_exporters.sqlite._rollup_read import grouped
from infertel_exporters.sqlite._tiers import complete, marks

Key = tuple[str, ...]
_REUSED_STEPS = (600, 3600)
"""Rollup steps whose pieces are kept between calls (the 10 s and 1 min edges change with every call's range)."""


def _packed() -> tuple[str, Any]:
    """SQL of every logical value's sum (lanes summed packed) and its decoder to ``VALUE_COLUMNS`` order.

    The decoder raises ``OverflowError`` where a lane's sum could reach 2**31 (then the caller sums
    lane by lane).
    """
    parts = [sr.BASIC_SQL]
    decoders = []
    for prefix, _bounds in HISTOGRAMS:
        sql, decode = sr.histogram_sums(prefix)
        parts.append(sql)
        decoders.append((sql.count("sum("), decode))
    basic_width = sr.BASIC_SQL.count("sum(")

    def unpack(sums: Sequence[Any]) -> list[Any]:
        values = sr.unpack_basic(sums[:basic_width])
        at = basic_width
        for width, decode in decoders:
            values.extend(decode(sums[at : at + width])[1:])
            at += width
        return values

    return ", ".join(parts), unpack


_SUMS_SQL, _unpack = _packed()
_CHECK_SQL = (
    f"SELECT count(*), {sr.sums_of([0])[0]} FROM span_rollups WHERE step = ? AND bucket_ns >= ? AND bucket_ns < ?"
)


class ClosedPieces:
    """Per-group sums of coarse rollup pieces, reused while the piece's row and span counts are unchanged.

    Bounded (least recently used out first). Threading: any number of threads; the lock guards the
    dictionary only, never a query.

    Example:
        >>> pieces = ClosedPieces(max_entries=4)
        >>> pieces.stats()
        {'hits': 0, 'misses': 0}
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._entries: OrderedDict[tuple[Any, ...], tuple[Any, ...]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: tuple[Any, ...], check: tuple[Any, ...]) -> dict[Key, list[Any]] | None:
        """The sums kept under ``key`` when they were summed at ``check``, else ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] == check:
                self._entries.move_to_end(key)
                self._hits += 1
                return entry[2]
            self._misses += 1
            return None

    def put(self, key: tuple[Any, ...], conn: sqlite3.Connection, check: tuple[Any, ...],
            sums: dict[Key, list[Any]]) -> None:  # fmt: skip
        """Keep ``sums``; the entry holds ``conn`` so that its ``id`` (in ``key``) is not reused meanwhile."""
        with self._lock:
            self._entries[key] = (conn, check, sums)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def stats(self) -> dict[str, int]:
        """Hits and misses since the start (or the last :meth:`clear`)."""
        with self._lock:
            return {"hits": self._hits, "misses": self._misses}

    def clear(self) -> None:
        """Forget every entry and the counts."""
        with self._lock:
            self._entries.clear()
            self._hits = self._misses = 0


CLOSED = ClosedPieces()
"""The process' reuse of closed pieces (every store, every connection: entries are keyed by connection)."""


def _add(target: dict[Key, list[Any]], sums: Mapping[Key, list[Any]]) -> None:
    for key, values in sums.items():
        acc = target.get(key)
        target[key] = list(values) if acc is None else [a + b for a, b in zip(acc, values, strict=True)]


def _sum(conn: sqlite3.Connection, pieces: Sequence[tuple[int, int, int]], group_by: tuple[str, ...],
         where: Mapping[str, str]) -> dict[Key, list[Any]]:  # fmt: skip
    """One statement: the rows of every piece, grouped and summed (raises ``OverflowError`` near 2**31)."""
    filters = "".join(f" AND {k} = ?" for k in where)
    stored = ", ".join(sr.STORED_COLUMNS)
    keys = "".join(f"{k}, " for k in group_by)
    union = " UNION ALL ".join(
        f"SELECT {keys}{stored} FROM span_rollups WHERE step = ? AND bucket_ns >= ? AND bucket_ns < ?{filters}"
        for _ in pieces
    )
    sql = f"SELECT {keys}{_SUMS_SQL} FROM ({union})" + (f" GROUP BY {', '.join(group_by)}" if group_by else "")
    params = [x for piece in pieces for x in (*piece, *where.values())]
    n = len(group_by)
    try:
        return {tuple(r[:n]): _unpack(r[n:]) for r in conn.execute(sql, params) if r[n] is not None}
    except sqlite3.OperationalError as exc:  # SQLite's sum() past 2**63: only with 2**31 spans and more
        if "overflow" in str(exc):
            raise OverflowError(str(exc)) from exc
        raise


def totals(conn: sqlite3.Connection, pieces: Sequence[tuple[int, int, int]], group_by: Sequence[str],
           where: Mapping[str, str] | None, *, reuse: ClosedPieces | None = CLOSED,
           ) -> dict[Key, list[Any]]:  # fmt: skip
    """Logical value sums (``VALUE_COLUMNS`` order) per group over the rollup ``pieces``; groups without spans left out.

    Keys of ``group_by`` among ``service``, ``model``, ``operation``, ``error_type`` (the error type
    is its own table, subtracted: ``_rollup_read.grouped``). ``reuse=None`` sums everything afresh.
    """
    group_by = tuple(group_by)
    where = dict(where or {})
    if "error_type" in group_by or "error_type" in where:
        return _lane_by_lane(conn, pieces, group_by, where)
    out: dict[Key, list[Any]] = {}
    try:
        rest = []
        for piece in complete(pieces, marks(conn, "span")):
            if reuse is None or piece[0] not in _REUSED_STEPS:
                rest.append(piece)
                continue
            key = (id(conn), piece, group_by, tuple(sorted(where.items())))
            check = tuple(conn.execute(_CHECK_SQL, piece).fetchone())
            kept = reuse.get(key, check)
            if kept is None:
                kept = _sum(conn, [piece], group_by, where)
                reuse.put(key, conn, check, kept)
            _add(out, kept)
        if rest:
            _add(out, _sum(conn, rest, group_by, where))
    except OverflowError:  # 2**31 spans in a group
        return _lane_by_lane(conn, pieces, group_by, where)
    return {key: values for key, values in out.items() if values[0]}


def _lane_by_lane(conn: sqlite3.Connection, pieces: Sequence[tuple[int, int, int]], group_by: tuple[str, ...],
                  where: Mapping[str, str]) -> dict[Key, list[Any]]:  # fmt: skip
    """The general path: per piece, lanes unpacked in SQL, the error-type table subtracted (``_rollup_read``)."""
    sums = grouped(conn, pieces, group_by, where, sr.SUMS_SQL, sr.unpack)
    return {key: values for (key, _bucket), values in sums.items()}
