"""Sums of span rollups per group (and step bucket), the error-type dimension included.

``span_rollups`` holds every GenAI span per (service, model, operation); ``span_error_rollups`` the
failed ones again per error type. A group with ``error_type == ""`` (no error) is the first minus
the sum of the second (every value is a count, so histograms subtract too).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from infertel_exporters.sqlite._tiers import complete, marks

Key = tuple[tuple[str, ...], int | None]
"""(group values in ``group_by`` order, step bucket start or None)."""


def _add(target: dict[Any, list[Any]], key: Any, values: Sequence[Any]) -> None:
    acc = target.get(key)
    if acc is None:
        target[key] = list(values)
    else:
        for i, v in enumerate(values):
            if v:
                acc[i] += v


def _run(conn: sqlite3.Connection, table: str, keys: list[str], where: Mapping[str, str],
         pieces: Sequence[tuple[int, int, int]], value_sql: str, decode: Callable[[Sequence[Any]], list[Any]],
         step_ns: int | None) -> Iterator[tuple[tuple[str, ...], int | None, list[Any]]]:  # fmt: skip
    n = len(keys)
    for step, lo, hi in pieces:
        if step_ns and step_ns == step * 1_000_000_000:  # a rollup bucket per point: group in the key's order
            select, group, bucket_params = [*keys, "bucket_ns AS b"], ["bucket_ns", *keys], []
        elif step_ns:
            select, group, bucket_params = [*keys, "bucket_ns - bucket_ns % ? AS b"], [*keys, "b"], [step_ns]
        else:
            select, group, bucket_params = list(keys), list(keys), []
        sql = f"SELECT {', '.join(select) + ', ' if select else ''}{value_sql} FROM {table}"
        sql += " WHERE step = ? AND bucket_ns >= ? AND bucket_ns < ?" + "".join(f" AND {k} = ?" for k in where)
        if group:
            sql += f" GROUP BY {', '.join(group)}"
        params = [*bucket_params, step, lo, hi, *where.values()]
        for row in conn.execute(sql, params):
            values = decode(row[n + (1 if step_ns else 0) :])
            if values[0]:
                yield tuple(row[:n]), (row[n] if step_ns else None), values


def grouped(conn: sqlite3.Connection, pieces: Sequence[tuple[int, int, int]], group_by: Sequence[str],
            where: Mapping[str, str] | None, value_sql: str, decode: Callable[[Sequence[Any]], list[Any]],
            step_ns: int | None = None) -> dict[Key, list[Any]]:  # fmt: skip
    """Logical value sums per group (and per ``step_ns`` bucket) over the rollup ``pieces`` ``(step, lo, hi)``.

    A coarse piece's buckets not closed yet are read from the finer tiers (``_tiers.complete``).
    """
    pieces = complete(pieces, marks(conn, "span"))
    where = dict(where or {})
    wanted_error = where.pop("error_type", None)
    base = [k for k in group_by if k != "error_type"]
    out: dict[Key, list[Any]] = {}
    if "error_type" not in group_by and wanted_error is None:
        for key, bucket, values in _run(conn, "span_rollups", base, where, pieces, value_sql, decode, step_ns):
            _add(out, (key, bucket), values)
        return out

    def label(key: tuple[str, ...], error_type: str) -> tuple[str, ...]:
        named = dict(zip(base, key, strict=True))
        named["error_type"] = error_type
        return tuple(named[k] for k in group_by)

    errors: dict[tuple[tuple[str, ...], str, int | None], list[Any]] = {}
    error_where = dict(where)
    if wanted_error:
        error_where["error_type"] = wanted_error
    for key, bucket, values in _run(conn, "span_error_rollups", [*base, "error_type"], error_where, pieces,
                                    value_sql, decode, step_ns):  # fmt: skip
        _add(errors, (key[:-1], key[-1], bucket), values)
    if wanted_error in (None, ""):
        ok: dict[tuple[tuple[str, ...], int | None], list[Any]] = {}
        for key, bucket, values in _run(conn, "span_rollups", base, where, pieces, value_sql, decode, step_ns):
            _add(ok, (key, bucket), values)
        for (key, _error_type, bucket), values in errors.items():
            acc = ok.get((key, bucket))
            if acc is not None:
                for i, v in enumerate(values):
                    acc[i] -= v
        for (key, bucket), values in ok.items():
            if values[0] > 0:
                out[(label(key, ""), bucket)] = values
    if wanted_error != "":
        for (key, error_type, bucket), values in errors.items():
            out[(label(key, error_type), bucket)] = values
    return out
