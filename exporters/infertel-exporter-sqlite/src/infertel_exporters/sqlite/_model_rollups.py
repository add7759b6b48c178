"""``span_model_rollups``: the duration histogram of the span rollups summed over the services (schema 3).

``d`` holds the bucket counts as one BLOB (``_buckets.pack_counts``): a latency percentile series
without the service key reads one value per row of a third of the rows (10 models x 3 services)
instead of 18 packed columns of every row, which dominated its cost. Only the 1 min, 10 min and 1 h
buckets, summed from ``span_rollups`` when they close (``_tiers``; spans arriving later for a closed
bucket are upserted directly): no per-batch cost. Reads take the still-open part from ``span_rollups``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from infertel_exporters.sqlite import _rollup_read
from infertel_exporters.sqlite import _span_rollups as sr
from infertel_exporters.sqlite._buckets import STEPS_S, pack_counts, unpack_counts

KEY = "step, bucket_ns, model, operation"
CREATE = (
    "CREATE TABLE span_model_rollups (step INTEGER NOT NULL, bucket_ns INTEGER NOT NULL, model TEXT NOT NULL,"
    f" operation TEXT NOT NULL, d BLOB NOT NULL, PRIMARY KEY ({KEY})) WITHOUT ROWID",
)
UPSERT = (
    f"INSERT INTO span_model_rollups ({KEY}, d) VALUES (?,?,?,?,?)"
    f" ON CONFLICT ({KEY}) DO UPDATE SET d = infertel_counts_add(d, excluded.d)"
)
"""Rows of ``SpanRollups.rows()``'s third list."""
_D_SQL, _D_DECODE = sr.histogram_sums("d")
DERIVE: str = (
    f"INSERT INTO span_model_rollups ({KEY}, d) SELECT step, bucket_ns, model, operation,"
    f" infertel_duration_counts({_D_SQL}) FROM span_rollups WHERE step = :step AND bucket_ns >= :lo"
    f" AND bucket_ns < :hi GROUP BY bucket_ns, model, operation"
    f" ON CONFLICT ({KEY}) DO UPDATE SET d = infertel_counts_add(d, excluded.d)"
)
"""``_tiers``: the closed buckets ``[lo, hi)`` of one coarse step, from ``span_rollups`` at that step."""


def duration_counts(*sums: Any) -> bytes:
    """SQL function ``infertel_duration_counts``: the ``histogram_sums("d")`` sums as a counts BLOB."""
    return pack_counts(_D_DECODE(sums)[1:])


def fill(conn: sqlite3.Connection) -> None:
    """Build the table from ``span_rollups`` (the migration to schema 3)."""
    for step in STEPS_S[1:]:
        conn.execute(DERIVE, {"step": step, "lo": -(2**63), "hi": 2**63 - 1})


def usable(group_by: Sequence[str], where: Mapping[str, str] | None) -> bool:
    """Whether a read grouped and filtered so is answered by this table (no service, no error type)."""
    keys = set(group_by) | set(where or {})
    return not keys & {"service", "error_type"}


Sums = dict[tuple[tuple[str, ...], int | None], list[Any]]


def duration_sums(conn: sqlite3.Connection, pieces: Sequence[tuple[int, int, int]], group_by: Sequence[str],
                  where: Mapping[str, str] | None, step_ns: int) -> Sums:  # fmt: skip
    """``[count, *duration bucket counts]`` per group and ``step_ns`` bucket over ``pieces`` (already completed)."""
    where = dict(where or {})
    keys = list(group_by)
    out: dict[tuple[tuple[str, ...], int | None], list[int]] = {}
    n = len(keys)
    for step, lo, hi in pieces:
        if step == STEPS_S[0]:  # not closed yet: from span_rollups
            open_rows = _rollup_read._run(
                conn, "span_rollups", keys, where, [(step, lo, hi)], _D_SQL, _D_DECODE, step_ns
            )
            for group, b, values in open_rows:
                acc = out.get((group, b))
                out[(group, b)] = values[1:] if acc is None else [x + y for x, y in zip(acc, values[1:], strict=True)]
            continue
        bucket = "bucket_ns" if step_ns == step * 1_000_000_000 else "bucket_ns - bucket_ns % ?"
        sql = (
            f"SELECT {''.join(k + ', ' for k in keys)}{bucket}, d FROM span_model_rollups"
            " WHERE step = ? AND bucket_ns >= ? AND bucket_ns < ?" + "".join(f" AND {k} = ?" for k in where)
        )
        params = ([] if bucket == "bucket_ns" else [step_ns]) + [step, lo, hi, *where.values()]
        for row in conn.execute(sql, params):
            at = (tuple(row[:n]), row[n])
            counts = unpack_counts(row[n + 1])
            acc = out.get(at)
            out[at] = counts if acc is None else [x + y for x, y in zip(acc, counts, strict=True)]
    return {key: [sum(counts), *counts] for key, counts in out.items() if any(counts)}
