"""``span_model_rollups``: the span rollups summed over the services (schema 3), for reads without that key.

The same packed value columns as ``span_rollups`` (so every rollup query reads it alike), plus
``d``, the duration histogram as one BLOB of counts (``_buckets.pack_counts``): a latency
percentile series reads one value per row instead of the 18 packed columns, the cost that
dominated it (10 models x 3 services: a third of the rows, and a few values each).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from infertel_exporters.sqlite import _span_rollups as sr
from infertel_exporters.sqlite._buckets import pack_counts, unpack_counts

KEY = "step, bucket_ns, model, operation"
_VALUES_DDL = ", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in sr.STORED_COLUMNS)
CREATE = (
    f"CREATE TABLE span_model_rollups (step INTEGER NOT NULL, bucket_ns INTEGER NOT NULL, model TEXT NOT NULL,"
    f" operation TEXT NOT NULL, {_VALUES_DDL}, d BLOB, PRIMARY KEY ({KEY})) WITHOUT ROWID",
)
_SETS = ", ".join(f"{c} = {c} + excluded.{c}" for c in sr.STORED_COLUMNS) + ", d = infertel_counts_add(d, excluded.d)"
UPSERT = (
    f"INSERT INTO span_model_rollups ({KEY}, {', '.join(sr.STORED_COLUMNS)}, d) VALUES ("
    + ",".join("?" * (4 + len(sr.STORED_COLUMNS) + 1))
    + f") ON CONFLICT ({KEY}) DO UPDATE SET {_SETS}"
)
"""Rows of ``SpanRollups.rows()``'s third list."""
DERIVE = (
    f"INSERT INTO span_model_rollups ({KEY}, {', '.join(sr.STORED_COLUMNS)}, d)"
    f" SELECT :step, bucket_ns - bucket_ns % :width AS b, model, operation,"
    f" {', '.join(f'sum({c})' for c in sr.STORED_COLUMNS)}, infertel_counts_sum(d)"
    f" FROM span_model_rollups WHERE step = :finer AND bucket_ns >= :lo AND bucket_ns < :hi"
    f" GROUP BY b, model, operation ON CONFLICT ({KEY}) DO UPDATE SET {_SETS}"
)
"""``_tiers``: one coarse step's buckets ``[lo, hi)`` summed from the ``finer`` step."""


def fill(conn: sqlite3.Connection) -> None:
    """Build the table from ``span_rollups`` (the migration to schema 3)."""
    d_sql, d_decode = sr.histogram_sums("d", packed=False)
    rows = conn.execute(
        f"SELECT {KEY}, {', '.join(f'sum({c})' for c in sr.STORED_COLUMNS)}, {d_sql} FROM span_rollups GROUP BY {KEY}"
    ).fetchall()
    n = 4 + len(sr.STORED_COLUMNS)
    conn.executemany(UPSERT, [(*row[:n], pack_counts(d_decode(row[n:])[1:])) for row in rows])


def usable(group_by: Sequence[str], where: Mapping[str, str] | None) -> bool:
    """Whether a read grouped and filtered so is answered by this table (no service, no error type)."""
    keys = set(group_by) | set(where or {})
    return not keys & {"service", "error_type"}


Sums = dict[tuple[tuple[str, ...], int], list[Any]]


def duration_sums(conn: sqlite3.Connection, pieces: Sequence[tuple[int, int, int]], group_by: Sequence[str],
                  where: Mapping[str, str] | None, step_ns: int) -> Sums:  # fmt: skip
    """``[count, *duration bucket counts]`` per group and ``step_ns`` bucket over ``pieces`` (already completed)."""
    where = dict(where or {})
    keys = list(group_by)
    out: dict[tuple[tuple[str, ...], int], list[int]] = {}
    n = len(keys)
    for step, lo, hi in pieces:
        bucket = "bucket_ns" if step_ns == step * 1_000_000_000 else "bucket_ns - bucket_ns % ?"
        sql = (
            f"SELECT {''.join(k + ', ' for k in keys)}{bucket}, d FROM span_model_rollups"
            " WHERE step = ? AND bucket_ns >= ? AND bucket_ns < ? AND d IS NOT NULL"
            + "".join(f" AND {k} = ?" for k in where)
        )
        params = ([] if bucket == "bucket_ns" else [step_ns]) + [step, lo, hi, *where.values()]
        for row in conn.execute(sql, params):
            key = (tuple(row[:n]), row[n])
            counts = unpack_counts(row[n + 1])
            acc = out.get(key)
            out[key] = counts if acc is None else [x + y for x, y in zip(acc, counts, strict=True)]
    return {key: [sum(counts), *counts] for key, counts in out.items() if any(counts)}
