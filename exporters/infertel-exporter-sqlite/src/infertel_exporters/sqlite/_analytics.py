"""Analytics over the rollups: the overview table and time series (``SQLiteStore.overview`` / ``timeseries``)."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infertel_exporters.sqlite import _span_rollups as sr
from infertel_exporters.sqlite._buckets import DURATION_BOUNDS, STEPS_S, TPOT_BOUNDS, TTFT_BOUNDS, quantile
from infertel_exporters.sqlite._names import GEN_AI_OPERATION_NAME, GEN_AI_REQUEST_MODEL, INFERTEL_GEN_AI_IN_FLIGHT
from infertel_exporters.sqlite._totals import totals

GROUP_KEYS = ("service", "model", "operation", "error_type")
ROLLUP_QUERIES: tuple[str, ...] = (
    "requests_per_s", "error_rate", "latency_p50", "latency_p95", "latency_p99", "ttft_p50", "ttft_p95", "ttft_p99",
    "tpot_p50", "tpot_p95", "tpot_p99", "input_tokens_per_s", "output_tokens_per_s", "in_flight",
)  # fmt: skip
"""The GenAI queries :meth:`SQLiteStore.timeseries` answers from the span rollups (``in_flight``: the gauge)."""
METRIC_STATS = ("avg", "min", "max", "last", "sum", "rate", "p50", "p95", "p99")
_QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
_HIST = {"latency": ("d", DURATION_BOUNDS), "ttft": ("f", TTFT_BOUNDS), "tpot": ("p", TPOT_BOUNDS)}
_SERIES_ATTRIBUTE = {"model": GEN_AI_REQUEST_MODEL, "operation": GEN_AI_OPERATION_NAME}
_SUMS = sr.SUMS_SQL


def metric_name(query: str) -> str:
    """The metric name of a ``metric:<name>[:<stat>]`` query; ``ValueError`` naming the accepted forms.

    Example:
        >>> metric_name("metric:infertel.requests:rate")
        'infertel.requests'
    """
    parts = query.split(":")
    if len(parts) not in (2, 3) or not parts[1] or (len(parts) == 3 and parts[2] not in METRIC_STATS):
        raise ValueError(f"bad metric query {query!r}; accepted: 'metric:<name>' or 'metric:<name>:<stat>' with stat"
                         f" in {'|'.join(METRIC_STATS)}")  # fmt: skip
    return parts[1]


def metric_stat(query: str, kind: str, monotonic: Any) -> str:
    """The stat a valid ``metric:`` query asks of a metric of ``kind``, or the kind's default.

    Histograms default to ``p95``, monotonic sums to ``rate``, the others to ``avg``; a stat that does not
    apply to the kind is a ``ValueError``.

    Example:
        >>> metric_stat("metric:infertel.requests", "sum", 1)
        'rate'
    """
    parts = query.split(":")
    default = "p95" if kind == "histogram" else "rate" if (kind == "sum" and monotonic) else "avg"
    stat = parts[2] if len(parts) == 3 else default
    if (stat in _QUANTILES) != (kind == "histogram") or (stat == "rate" and not (kind == "histogram" or monotonic)):
        raise ValueError(f"stat {stat!r} does not apply to {kind} metric {parts[1]!r} (query {query!r})")
    return stat


@dataclass(frozen=True)
class OverviewRow:
    """One group of :meth:`SQLiteStore.overview` (keys of ``group`` are the ``group_by`` names)."""

    group: dict[str, str]
    requests: int
    errors: int
    requests_per_s: float
    error_rate: float | None
    latency_s: dict[str, float | None]
    ttft_s: dict[str, float | None]
    tpot_s: dict[str, float | None]
    input_tokens_per_s: float
    output_tokens_per_s: float
    in_flight: float | None


@dataclass(frozen=True)
class Series:
    """One series of :meth:`SQLiteStore.timeseries`: ``(bucket start ns, value)`` points, ``None`` = no data."""

    labels: dict[str, str]
    points: list[tuple[int, float | None]]


def _check_keys(group_by: Sequence[str], where: Mapping[str, str] | None) -> None:
    for key in list(group_by) + list(where or {}):
        if key not in GROUP_KEYS:
            raise ValueError(f"group_by/where key must be one of {', '.join(GROUP_KEYS)}; got {key!r}")


def cover(start_ns: int, end_ns: int) -> list[tuple[int, int, int]]:
    """``(step_s, lo, hi)`` pieces covering ``[start, end)`` with as few rollup rows as possible.

    Example:
        >>> cover(0, 7_260 * 10**9)[:2]
        [(3600, 0, 7200000000000), (60, 7200000000000, 7260000000000)]
    """
    pieces: list[tuple[int, int, int]] = []

    def split(lo: int, hi: int, steps: tuple[int, ...]) -> None:
        if lo >= hi:
            return
        if not steps:
            return
        width = steps[0] * 1_000_000_000
        a = -(-lo // width) * width
        b = hi // width * width
        if a >= b:
            split(lo, hi, steps[1:])
            return
        split(lo, a, steps[1:])
        pieces.append((steps[0], a, b))
        split(b, hi, steps[1:])

    ten = 10_000_000_000
    split(start_ns // ten * ten, -(-end_ns // ten) * ten, tuple(reversed(STEPS_S)))
    return sorted(pieces, key=lambda p: p[1])


def _percentiles(values: Sequence[Any], what: str, present: bool = True) -> dict[str, float | None]:
    prefix, bounds = _HIST[what]
    counts = sr.histogram(values, prefix)
    return {name: (quantile(q, bounds, counts) if present else None) for name, q in _QUANTILES.items()}


def overview(conn: sqlite3.Connection, start_ns: int, end_ns: int, group_by: Sequence[str],
             where: Mapping[str, str] | None) -> list[OverviewRow]:  # fmt: skip
    """See :meth:`SQLiteStore.overview`."""
    group_by = tuple(group_by)
    _check_keys(group_by, where)
    if end_ns <= start_ns:
        return []
    groups = totals(conn, cover(start_ns, end_ns), group_by, where)
    span_s = (end_ns - start_ns) / 1e9
    in_flight = _in_flight_now(conn, start_ns, end_ns, group_by, where)
    rows = []
    for key, v in groups.items():
        requests, errors = int(v[0]), int(v[1])
        rows.append(
            OverviewRow(
                group=dict(zip(group_by, key, strict=True)), requests=requests, errors=errors,
                requests_per_s=requests / span_s, error_rate=errors / requests if requests else None,
                latency_s=_percentiles(v, "latency", requests > 0), ttft_s=_percentiles(v, "ttft", v[4] > 0),
                tpot_s=_percentiles(v, "tpot", v[5] > 0), input_tokens_per_s=v[2] / span_s,
                output_tokens_per_s=v[3] / span_s, in_flight=in_flight.get(key),
            )
        )  # fmt: skip
    rows.sort(key=lambda r: (-r.requests, tuple(r.group.values())))
    return rows


def _series_label(key: str, service: str, attributes: dict[str, Any]) -> str | None:
    if key == "service":
        return service
    value = attributes.get(_SERIES_ATTRIBUTE.get(key, key))
    return None if value is None else str(value)


@functools.lru_cache(maxsize=4096)
def _decoded(attributes: str) -> dict[str, Any]:
    """A metric series' attributes JSON, decoded once (keyed by the text itself; callers only read it)."""
    return dict(json.loads(attributes))


def _in_flight_now(conn: sqlite3.Connection, start_ns: int, end_ns: int, group_by: Sequence[str],
                   where: Mapping[str, str] | None) -> dict[tuple[str, ...], float]:  # fmt: skip
    """The latest in-flight gauge of each process in the range, summed per group (series quiet for 2 min skipped)."""
    if "error_type" in group_by or (where and "error_type" in where):
        return {}
    latest: dict[tuple[int, str], tuple[int, float, tuple[str, ...]]] = {}
    window_start = max(start_ns, end_ns - 120_000_000_000)  # the gauge's last two minutes, from the raw points
    labels: dict[tuple[int, str], tuple[str, ...]] = {}
    for rid, service, attrs in conn.execute(
        "SELECT resource_id, service, attributes FROM metric_series WHERE name = ?", (INFERTEL_GEN_AI_IN_FLIGHT,)
    ):
        attributes = _decoded(attrs)
        if not where or all(_series_label(k, service, attributes) == v for k, v in where.items()):
            labels[(rid, attrs)] = tuple(_series_label(k, service, attributes) or "" for k in group_by)
    if not labels:
        return {}
    rows = conn.execute(  # (name, mark, time_ns) ranges; `value` is the bare column of max(time_ns)'s row
        "SELECT resource_id, attributes, value, max(time_ns) FROM metric_points WHERE name = ?"
        " AND mark IN (0,1,2,3,4,5,6,7) AND time_ns >= ? AND time_ns < ? AND value IS NOT NULL"
        " GROUP BY resource_id, attributes",
        (INFERTEL_GEN_AI_IN_FLIGHT, window_start - window_start % 10_000_000_000, end_ns),
    )
    for rid, attrs, last, last_ns in rows:
        key = labels.get((rid, attrs))
        if key is not None:
            latest[(rid, attrs)] = (last_ns, last, key)
    if not latest:
        return {}
    newest = max(t for t, _, _ in latest.values())
    out: dict[tuple[str, ...], float] = {}
    for t, value, key in latest.values():
        if t >= newest - 120_000_000_000:
            out[key] = out.get(key, 0.0) + value
    return out
