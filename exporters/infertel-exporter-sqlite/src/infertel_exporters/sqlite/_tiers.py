"""The 1 min, 10 min and 1 h rollups, derived from the finer ones when their bucket closes.

A write upserts the 10 s rollups only; a coarse bucket is summed from the next finer tier in SQL
once (``advance``), when data of a later bucket arrives. ``rollup_marks`` keeps, per kind
(``span``, ``metric``) and coarse step, ``done_ns``: every coarse bucket below it is complete (data
arriving late for such a bucket is upserted into it directly, in the same transaction as its 10 s
row), none at or above it exists yet. Readers cover ``[done_ns, end)`` with the finer tiers
(:func:`complete`), so a read sees every row written, whichever process wrote it. Retention closes
the buckets it is about to take the 10 s rows of (:func:`close_before`).

Example:
    >>> complete([(600, 0, 1_800 * 10**9)], {60: 1_260 * 10**9, 600: 1_200 * 10**9, 3600: 0})
    [(600, 0, 1200000000000), (60, 1200000000000, 1260000000000), (10, 1260000000000, 1800000000000)]
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from infertel_exporters.sqlite import _metric_rollups, _model_rollups, _span_rollups
from infertel_exporters.sqlite._buckets import STEPS_S

COARSE = STEPS_S[1:]
NONE = -(2**63)
"""``done_ns`` of a step with no closed bucket yet."""
_S = 1_000_000_000

CREATE = (
    "CREATE TABLE rollup_marks (kind TEXT NOT NULL, step INTEGER NOT NULL, done_ns INTEGER NOT NULL,"
    " PRIMARY KEY (kind, step)) WITHOUT ROWID",
)
_MARK_UPSERT = (
    "INSERT INTO rollup_marks (kind, step, done_ns) VALUES (?, ?, ?)"
    " ON CONFLICT (kind, step) DO UPDATE SET done_ns = max(done_ns, excluded.done_ns)"
)


def _span_derive(table: str, key: str) -> str:
    columns = _span_rollups.STORED_COLUMNS
    others = key.replace("step, bucket_ns, ", "")
    return (
        f"INSERT INTO {table} ({key}, {', '.join(columns)})"
        f" SELECT :step, bucket_ns - bucket_ns % :width AS b, {others}, {', '.join(f'sum({c})' for c in columns)}"
        f" FROM {table} WHERE step = :finer AND bucket_ns >= :lo AND bucket_ns < :hi GROUP BY b, {others}"
        f" ON CONFLICT ({key}) DO UPDATE SET " + ", ".join(f"{c} = {c} + excluded.{c}" for c in columns)
    )


# metric_rollups is keyed (step, bucket_ns, series_id): the finer rows are one range. A coarse bucket's `last` is
# the finer row with the newest last_ns, which lies in that row's own bucket: one primary-key lookup.
_METRIC_DERIVE = (
    "INSERT INTO metric_rollups (step, series_id, bucket_ns, count, sum, min, max, last, last_ns, delta, hist)"
    " SELECT :step, g.series_id, g.b, g.c, g.s, g.lo, g.hi, (SELECT r.last FROM metric_rollups r WHERE r.step = :finer"
    " AND r.bucket_ns = g.t - g.t % :finer_width AND r.series_id = g.series_id), g.t, g.d, g.h FROM (SELECT series_id,"
    " bucket_ns - bucket_ns % :width AS b, sum(count) AS c, sum(sum) AS s, min(min) AS lo, max(max) AS hi,"
    " max(last_ns) AS t, sum(delta) AS d, infertel_hist_sum(hist) FILTER (WHERE hist IS NOT NULL) AS h"
    " FROM metric_rollups WHERE step = :finer"
    " AND bucket_ns >= :lo AND bucket_ns < :hi AND series_id IN (SELECT id FROM metric_series) GROUP BY series_id, b)"
    " AS g WHERE true"
    " ON CONFLICT (step, bucket_ns, series_id) DO UPDATE SET count = count + excluded.count, sum = sum + excluded.sum,"
    " min = min(min, excluded.min), max = max(max, excluded.max),"
    " last = CASE WHEN excluded.last_ns >= last_ns THEN excluded.last ELSE last END,"
    " last_ns = max(last_ns, excluded.last_ns),"
    " delta = CASE WHEN delta IS NULL THEN excluded.delta ELSE delta + coalesce(excluded.delta, 0) END,"
    " hist = infertel_hist_add(hist, excluded.hist)"
)
DERIVE = {
    "span": (
        _span_derive("span_rollups", "step, bucket_ns, service, model, operation"),
        _span_derive("span_error_rollups", "step, bucket_ns, service, model, operation, error_type"),
        _model_rollups.DERIVE,
    ),
    "metric": (_METRIC_DERIVE,),
}
"""Per kind, the statements that sum one coarse step's buckets ``[lo, hi)`` from the ``finer`` step."""


def marks(conn: sqlite3.Connection, kind: str) -> dict[int, int]:
    """``done_ns`` per coarse step of ``kind`` (``NONE`` where no bucket is closed yet)."""
    found = dict(conn.execute("SELECT step, done_ns FROM rollup_marks WHERE kind = ?", (kind,)).fetchall())
    return {step: found.get(step, NONE) for step in COARSE}


def open_targets(newest_ns: int) -> dict[int, int]:
    """Per coarse step, the start of the bucket holding ``newest_ns``: every bucket before it may close."""
    return {step: newest_ns - newest_ns % (step * _S) for step in COARSE}


def advance(conn: sqlite3.Connection, kind: str, targets: Mapping[int, int], current: Mapping[int, int]) -> None:
    """Close every coarse bucket below ``targets[step]``: sum it from the finer tier, move the mark.

    ``targets`` must not grow with the step (each tier is summed from the finer one, complete up to
    its own mark); ``current`` is :func:`marks` as read in this transaction.
    """
    finer = STEPS_S[0]
    for step in COARSE:
        lo, hi = current[step], targets[step]
        if hi > lo:
            params = {"step": step, "width": step * _S, "finer": finer, "finer_width": finer * _S, "lo": lo, "hi": hi}
            for statement in DERIVE[kind]:
                conn.execute(statement, params)
            conn.execute(_MARK_UPSERT, (kind, step, hi))
        finer = step


def close_before(conn: sqlite3.Connection, kind: str, cutoff_ns: int) -> None:
    """Close every coarse bucket holding data before ``cutoff_ns`` (before retention deletes its 10 s rows)."""
    width = COARSE[-1] * _S
    target = -(-cutoff_ns // width) * width
    advance(conn, kind, dict.fromkeys(COARSE, target), marks(conn, kind))


def complete(pieces: Sequence[tuple[int, int, int]], done: Mapping[int, int]) -> list[tuple[int, int, int]]:
    """Rollup ``(step, lo, hi)`` pieces, each coarse piece's still-open part read from the finer tiers.

    A piece selects the buckets starting in ``[lo, hi)``; the finer pieces select the same time.
    """
    out: list[tuple[int, int, int]] = []
    for step, lo, hi in pieces:
        _split(step, lo, hi, done, out)
    return out


def _split(step: int, lo: int, hi: int, done: Mapping[int, int], out: list[tuple[int, int, int]]) -> None:
    if step == STEPS_S[0]:
        if lo < hi:
            out.append((step, lo, hi))
        return
    width = step * _S
    lo, hi = -(-lo // width) * width, -(-hi // width) * width  # the same buckets, aligned
    if lo >= hi:
        return
    mark = done[step]
    if mark > lo:
        out.append((step, lo, min(hi, mark)))
    _split(STEPS_S[STEPS_S.index(step) - 1], max(lo, mark), hi, done, out)


def migrate_to_v3(conn: sqlite3.Connection) -> None:
    """Version 3: ``span_model_rollups`` (built from ``span_rollups``) and ``rollup_marks``.

    Every coarse bucket already written counts as complete, and closed.
    """
    _metric_rollups.register_functions(conn)
    for statement in CREATE + _model_rollups.CREATE:
        conn.execute(statement)
    _model_rollups.fill(conn)
    newest = {
        "span": conn.execute("SELECT max(bucket_ns) FROM span_rollups WHERE step = ?", (STEPS_S[0],)).fetchone()[0],
        "metric": conn.execute(
            "SELECT max(bucket_ns) FROM metric_rollups WHERE step = ? AND series_id IN (SELECT id FROM metric_series)",
            (STEPS_S[0],),
        ).fetchone()[0],
    }
    for kind, ns in newest.items():
        if ns is not None:
            for step in COARSE:
                conn.execute(_MARK_UPSERT, (kind, step, ns - ns % (step * _S) + step * _S))
