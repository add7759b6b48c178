"""``metric:`` reads of schema 5: per series and rollup bucket, from the raw points and the marked ones.

10 s buckets come from the raw points (a bucket holding several points sums their increases, or
takes their count, sum, minimum, maximum and latest value). A 1 min, 10 min or 1 h bucket comes from
the marked points (``_metric_marks``): its increase is the next marked point's ``base`` minus its own
(its own value where the series restarts), the last bucket closing at the series' latest point;
exactly the sum of the per-point increases. Gauges in those buckets are sampled: a bucket's
average, minimum, maximum and sum are taken over the points that open it (one per series and
bucket, like Prometheus' step sampling), its latest value is exact. The figures of closed coarse
buckets are kept between calls (``_metric_cache``): a call checks them with one index-only read and
reads only the marked points of its last buckets.

Example:
    >>> increase(5.0, 3.0, False), increase(5.0, 3.0, True)
    (2.0, 5.0)
"""

from __future__ import annotations

import json
import sqlite3
from bisect import bisect_left
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter, sub
from typing import Any

from infertel_exporters.sqlite._metric_cache import KEPT, MetricPieces, Piece

_S = 1_000_000_000
_ALL = "mark IN (0,1,2,3,4,5,6,7)"
_COLUMNS = "resource_id, attributes, time_ns, value, histogram, mark, base"
_SERIES = itemgetter(0, 1)
_LATE_NS = 120 * _S
"""How late a point may land without making a read start afresh (the last buckets are read every call)."""


def increase(end: Any, base: Any, restart: bool) -> Any:
    """A counter's increase from ``base`` to ``end`` (``end`` itself where the series restarted).

    Example:
        >>> increase(7, None, True)
        7
    """
    return end if restart or base is None else end - base


class Hist:
    """One cumulative histogram value: bucket counts, sum and count (parsed from the stored JSON)."""

    __slots__ = ("count", "counts", "sum")

    def __init__(self, text: str) -> None:
        h = json.loads(text)
        self.counts: list[Any] = h["counts"]
        self.sum: float = h["sum"]
        self.count: int = h["count"]

    def minus(self, other: Hist | None) -> tuple[list[Any], float, int]:
        """Counts, sum and count increase since ``other`` (all of it without one, or with other bounds)."""
        if other is None or len(other.counts) != len(self.counts):
            return self.counts, self.sum, self.count
        return list(map(sub, self.counts, other.counts)), self.sum - other.sum, self.count - other.count


def _parse(cache: dict[str, Hist], text: str | None) -> Hist | None:
    if text is None:
        return None
    found = cache.get(text)
    if found is None:
        found = cache[text] = Hist(text)
    return found


def raw_rows(conn: sqlite3.Connection, name: str, lo: int, hi: int) -> Iterator[tuple[Any, ...]]:
    """Every point of ``name`` with time in ``[lo, hi)``, oldest first."""
    return iter(
        conn.execute(
            f"SELECT {_COLUMNS} FROM metric_points WHERE name = ? AND {_ALL} AND time_ns >= ? AND time_ns < ?"
            " ORDER BY time_ns, id",
            (name, lo, hi),
        )
    )


def marked_rows(conn: sqlite3.Connection, name: str, level: int, lo: int, hi: int) -> Iterator[tuple[Any, ...]]:
    """The points of ``name`` marked ``level`` or more (opening such a bucket, or restarting), time in ``[lo, hi)``."""
    marks = ",".join(str(m) for m in range(level, 8))
    return iter(
        conn.execute(
            f"SELECT {_COLUMNS} FROM metric_points WHERE name = ? AND mark IN ({marks}) AND time_ns >= ?"
            " AND time_ns < ? ORDER BY time_ns, id",
            (name, lo, hi),
        )
    )


def buckets(
    conn: sqlite3.Connection, name: str, kind: str, counted: bool, tier: int, lo: int, hi: int,
    series: set[tuple[int, str]], reuse: MetricPieces | None = KEPT, settled: dict[str, Any] | None = None,
    since: int | None = None,
) -> dict[tuple[int, str], dict[int, list[Any]]]:  # fmt: skip
    """Per series ``(resource id, attributes)`` and rollup bucket start: the bucket's figures.

    Counters and histograms: ``[increase, counts increase or None, sum increase]``. Gauges (and
    non-monotonic sums): ``[count, sum, min, max, last, last_ns]``. Buckets of width ``tier`` seconds
    starting in ``[lo, hi)``; ``lo`` is a multiple of the width. Closed coarse buckets are kept in
    ``reuse`` between calls (checked on each; ``None`` reads everything afresh). ``settled``, when
    given, receives the kept piece's ``generation`` and ``before_ns``: buckets before it read the same
    in every call that gets the same generation (coarse buckets only). ``since``: kept buckets before
    it are left out of the result (the caller has their values).
    """
    width = tier * _S
    end = -(-hi // width) * width
    out: dict[tuple[int, str], dict[int, list[Any]]] = {}
    hists: dict[str, Hist] = {}
    hist = kind == "histogram"
    if tier == 10:
        rows: Iterator[tuple[Any, ...]] = raw_rows(conn, name, lo - lo % 60_000_000_000 if counted else lo, end)
        last: dict[tuple[int, str], Any] = {}
        for rid, attrs, t, value, histogram, mark, base in rows:
            key = (rid, attrs)
            if key not in series:
                continue
            if not counted:
                if value is None or t < lo:
                    continue
                acc = out.setdefault(key, {}).get(t - t % width)
                if acc is None:
                    out[key][t - t % width] = [1, value, value, value, value, t]
                else:
                    acc[0] += 1
                    acc[1] += value
                    acc[2] = min(acc[2], value)
                    acc[3] = max(acc[3], value)
                    if t >= acc[5]:
                        acc[4], acc[5] = value, t
                continue
            now = _parse(hists, histogram) if hist else value
            prev = (_parse(hists, base) if hist else base) if mark else last.get(key)
            last[key] = now
            if t < lo:
                continue
            _add(out.setdefault(key, {}), t - t % width, now, prev, mark >= 4, hist)
        return out
    return _coarse(conn, name, hist, counted, tier, lo, hi, series, reuse, settled, lo if since is None else since)


def _coarse(conn: sqlite3.Connection, name: str, hist: bool, counted: bool, tier: int, lo: int, hi: int,
            series: set[tuple[int, str]], reuse: MetricPieces | None, settled: dict[str, Any] | None, since: int,
            ) -> dict[tuple[int, str], dict[int, list[Any]]]:  # fmt: skip
    """1 min / 10 min / 1 h buckets from the marked points, closed ones kept in ``reuse`` (``_metric_cache``)."""
    width = tier * _S
    end = -(-hi // width) * width
    level = {60: 1, 600: 2, 3600: 3}[tier]
    marks = ",".join(map(str, range(level, 8)))
    # points before ``known`` are kept (checked each call); later ones may still arrive and are read every call:
    # the start of the bucket 1 to 2 minutes back for 1 min buckets, at least 2 minutes back for wider ones
    margin = hi - _LATE_NS - (hi - _LATE_NS) % width
    known = max(lo, min(end - width, max(end - 2 * width, margin)))
    # per range length too (in powers of 2 buckets): a page asking for its last minutes only would replace the
    # piece of a 1 h or 24 h read made in between, and each would read everything afresh in turn
    key = (id(conn), name, hist, counted, tier, ((end - lo) // width).bit_length())
    piece = reuse.get(key) if reuse is not None else None
    if piece is not None and reuse is not None:
        if piece.conn is conn and piece.lo_ns <= lo <= piece.known_ns <= known:
            check = conn.execute(
                f"SELECT count(*), coalesce(sum(id), 0) FROM metric_points WHERE name = ? AND mark IN ({marks})"
                " AND time_ns >= ? AND time_ns < ?",
                (name, lo, piece.known_ns),
            ).fetchone()
            still = [fp for b, fp in piece.fingerprints.items() if b >= lo]
            if tuple(check) != (sum(fp[0] for fp in still), sum(fp[1] for fp in still)):
                piece = None
        else:
            piece = None
        reuse.hit(piece is not None)
    start = piece.known_ns if piece is not None else lo
    own = "histogram" if hist else "value"
    rows = conn.execute(  # up to the next bucket's first marked points: their base closes this range's last bucket
        f"SELECT resource_id, attributes, time_ns, {own}, mark, base, id FROM metric_points WHERE name = ?"
        f" AND mark IN ({marks}) AND time_ns >= ? AND time_ns < ? ORDER BY resource_id, attributes, time_ns, id",
        (name, start, end + width),
    )
    groups: dict[tuple[int, str], list[tuple[Any, ...]]] = {}  # per series, its marked points in time order
    if piece is not None:
        for key_s, tail in piece.tails.items():
            trimmed = tail[bisect_left([r[2] for r in tail], lo) :] if tail and tail[0][2] < lo else tail
            if trimmed:
                groups[key_s] = trimmed
    fingerprints = {b: fp for b, fp in piece.fingerprints.items() if b >= lo} if piece is not None else {}
    for key_s, group in groupby(rows, key=_SERIES):
        g = list(group)
        have = groups.get(key_s)
        groups[key_s] = g if have is None else have + g
        for r in g:
            t = r[2]
            if t >= known:
                break
            b = t - t % width
            fp = fingerprints.get(b)
            fingerprints[b] = (1, r[6]) if fp is None else (fp[0] + 1, fp[1] + r[6])
    open_series = {k: g[-1][2] for k, g in groups.items() if k in series and g[-1][2] < end}
    latest = _latest(conn, name, level, open_series, end) if open_series else {}
    out: dict[tuple[int, str], dict[int, list[Any]]] = {}
    closed: dict[tuple[int, str], dict[int, list[Any]]] = {}
    tails: dict[tuple[int, str], list[tuple[Any, ...]]] = {}
    hists: dict[str, Hist] = dict(piece.hists) if piece is not None else {}  # the kept tail's, parsed
    unsettled: list[int] = []
    for key_s, g in groups.items():
        kept = piece.closed.get(key_s) if piece is not None else None
        # the kept dictionaries are never changed (another thread may read them): copied before a change
        if not kept:
            kept = {}
        elif piece is not None and piece.lo_ns == lo:
            pass
        elif piece is not None and (lo - piece.lo_ns) // width < len(kept):  # a copy without the buckets before lo
            kept = dict(kept)
            for b in range(piece.lo_ns, lo, width):
                kept.pop(b, None)
        else:
            kept = {b: f for b, f in kept.items() if b >= lo}
        times = [r[2] for r in g]
        figures = _figures(g, times, width, end, counted, hist, latest.get(key_s), hists)
        if key_s in series and (kept or figures):
            if since > lo and kept:  # the kept buckets from ``since`` on (ascending: walked from the end)
                recent = []
                for b in reversed(kept):
                    if b < since:
                        break
                    recent.append((b, kept[b]))
                out[key_s] = dict(reversed(recent))
                out[key_s].update(figures)
            else:
                out[key_s] = {**kept, **figures}
        k = bisect_left(times, known)  # the rows before ``known``; a bucket is closed when its last has a successor
        if k:
            u = times[k - 1] - times[k - 1] % width  # the first bucket not closed
            if key_s in series:
                unsettled.append(u)
            newly = [(b, f) for b, f in figures.items() if b < u]
            if newly:
                kept = {**kept, **dict(newly)}
            tails[key_s] = g[bisect_left(times, u) : k]
        if kept:
            closed[key_s] = kept
    if reuse is not None:
        generation = piece.generation if piece is not None else object()
        parsed = {}
        if hist:  # the histograms of the kept tails, parsed: read again next call
            for tail in tails.values():
                for r in tail:
                    for text in (r[3], r[5]):
                        found = hists.get(text) if text is not None else None
                        if found is not None:
                            parsed[text] = found
        reuse.put(key, Piece(conn, lo, known, fingerprints, closed, tails, generation, parsed))
        if settled is not None:  # buckets before it hold the same figures in every call of this generation
            settled["generation"] = generation
            settled["before_ns"] = min(unsettled, default=known)
    return out


def _figures(g: list[tuple[Any, ...]], times: list[int], width: int, end: int, counted: bool, hist: bool,
             found: tuple[int, Any, Any] | None, hists: dict[str, Hist]) -> dict[int, list[Any]]:  # fmt: skip
    """One series' buckets (starting before ``end``) from its marked points ``g``, oldest first."""
    n = bisect_left(times, end)  # the points in range; the ones after only close the last segment
    target: dict[int, list[Any]] = {}
    if not n:
        return target
    values = [r[3] for r in g]
    marks = [r[4] for r in g]
    bases = [r[5] for r in g]
    final = len(g) - 1
    if n <= final:
        found = None
    for i in range(n):
        t = times[i]
        b = t - t % width
        if i < final:  # the segment closes at the next marked point: its base is this series' previous value
            c, next_t = bases[i + 1], times[i + 1]
            if c is None or (not counted and next_t - next_t % width == b):
                c, cns = values[i], t  # a restart without a previous value (a gauge: the same bucket)
            else:
                cns = next_t - 1
        elif found is not None:  # the series' latest point
            c, cns = (found[2] if hist else found[1]), found[0]
        else:
            c, cns = values[i], t
        if not counted:
            value = values[i]
            if value is None:
                continue
            acc = target.get(b)
            if acc is None:
                target[b] = [1, value, value, value, c, cns]
            else:
                acc[0] += 1
                acc[1] += value
                if value < acc[2]:
                    acc[2] = value
                if value > acc[3]:
                    acc[3] = value
                if cns >= acc[5]:
                    acc[4], acc[5] = c, cns
        elif hist:
            _add(target, b, _parse(hists, c), _parse(hists, bases[i]), marks[i] >= 4, True)
        else:
            base = bases[i]
            delta = c if marks[i] >= 4 or base is None else c - base
            acc = target.get(b)
            if acc is None:
                target[b] = [delta, None, None]
            else:
                acc[0] += delta
    return target


def _add(target: dict[int, list[Any]], b: int, now: Any, prev: Any, restart: bool, hist: bool) -> None:
    if hist:
        counts, hsum, hcount = now.minus(None if restart else prev)
        acc = target.get(b)
        if acc is None:
            target[b] = [hcount, list(counts), hsum]
        else:
            acc[0] += hcount
            acc[1] = counts if len(acc[1]) != len(counts) else [x + y for x, y in zip(acc[1], counts, strict=True)]
            acc[2] += hsum
        return
    delta = increase(now, prev, restart)
    acc = target.get(b)
    if acc is None:
        target[b] = [delta, None, None]
    else:
        acc[0] += delta


def _latest(conn: sqlite3.Connection, name: str, level: int, after: dict[tuple[int, str], int],
            end: int) -> dict[tuple[int, str], tuple[int, Any, Any]]:  # fmt: skip
    """Each series' latest point before ``end`` and after its last one marked ``level`` or more.

    ``(time, value, histogram)``. Walks the points marked below ``level`` backwards from ``end`` (mark by
    mark, in the index's order) until each series has one or is past its marked point.
    """
    out: dict[tuple[int, str], tuple[int, Any, Any]] = {}
    for mark in range(level):
        waiting = dict(after)
        oldest = min(waiting.values())
        rows = conn.execute(
            "SELECT resource_id, attributes, time_ns, value, histogram FROM metric_points WHERE name = ? AND mark = ?"
            " AND time_ns > ? AND time_ns < ? ORDER BY time_ns DESC",
            (name, mark, oldest, end),
        )
        for rid, attrs, t, value, histogram in rows:
            key = (rid, attrs)
            since = waiting.pop(key, None)
            if since is not None and t > since:
                found = out.get(key)
                if found is None or t > found[0]:
                    out[key] = (t, value, histogram)
            if not waiting:
                break
            if t <= oldest:
                break
    return out
