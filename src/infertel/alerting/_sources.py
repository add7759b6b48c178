"""Where the engine's input series come from: live statistics and resources, or canned samples.

A source is any object with ``collect(now) -> Iterable[Sample]`` where a sample is
``(name, labels, value, timestamp)``; the engine appends them to its history before each round.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from infertel.alerting import _signals as sig

_logger = logging.getLogger(__name__)

Sample = tuple[str, Mapping[str, str], float, float]

_SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def _fraction_above(quantiles: Mapping[float, float], threshold: float) -> float:
    """Fraction of requests slower than ``threshold`` interpolated from a distribution's quantiles."""
    points = sorted((q, v) for q, v in quantiles.items() if v is not None)
    if not points:
        return 0.0
    below = 0.0
    prev_q, prev_v = 0.0, 0.0
    for q, v in points:
        if v >= threshold:
            span = v - prev_v
            below = prev_q + (q - prev_q) * ((threshold - prev_v) / span if span > 0 else 1.0)
            return max(0.0, 1.0 - below)
        prev_q, prev_v = q, v
    return max(0.0, 1.0 - prev_q) if threshold < prev_v else 0.0


class LiveSource:
    """Samples ``infertel.stats()`` and the resource snapshot at each round.

    Counters (requests, errors, slower-than-threshold, output tokens) are integrated from the
    shortest statistics window's rates over the time between rounds, so rate windows of any
    length work; quantiles come from the ``quantile_window_s`` window. Threading: engine thread only.

    Args:
        stats: ``(window_s) -> Snapshot`` (default ``infertel.stats``).
        resources: ``() -> ResourceSnapshot`` or ``None`` to skip resources (default the shared snapshot).
        rate_window_s: Window whose rates are integrated (default 60).
        quantile_window_s: Window of the latency quantiles (default 300).
        disk_paths: Filesystems whose usage is sampled (default the current directory's).
        latency_thresholds_s: ``le`` values of the latency SLIs the rules use.

    Example:
        >>> from infertel._internal.processors import Snapshot
        >>> source = LiveSource(stats=lambda w: Snapshot(window_s=w, time=0.0, series={}), resources=None,
        ...                     disk_paths=())
        >>> list(source.collect(0.0))
        []
    """

    def __init__(
        self,
        *,
        stats: Callable[[float], Any] | None = None,
        resources: Callable[[], Any] | None | bool = True,
        rate_window_s: float = 60.0,
        quantile_window_s: float = 300.0,
        disk_paths: Sequence[str] = (".",),
        latency_thresholds_s: Iterable[float] = (),
    ) -> None:
        # What the engine's thread calls is imported here, on the thread that builds the source: a
        # fork() during an import on another thread leaves the child's lock of that module held.
        from infertel._internal.processors import stats as live_stats
        from infertel._internal.processors._install import current

        self._current = current
        if stats is None:
            stats = lambda window_s: live_stats(window_s=window_s)  # noqa: E731
        read: Callable[[], Any] | None = None
        if resources is True:
            from infertel._internal.resources import prepare_snapshot, snapshot

            prepare_snapshot()
            read = snapshot
        elif callable(resources):
            read = resources
        self._stats = stats
        self._resources = read
        self.rate_window_s = rate_window_s
        self.quantile_window_s = quantile_window_s
        self.disk_paths = tuple(disk_paths)
        self.latency_thresholds_s = tuple(sorted(set(latency_thresholds_s)))
        self._counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._substituted: set[float] = set()
        self._last: float | None = None

    def _read(self, window_s: float) -> Any:
        """Statistics over ``window_s``, or over the configured window closest to it (logged once)."""
        try:
            return self._stats(window_s)
        except ValueError:
            pass
        handle = self._current()
        windows = tuple(getattr(getattr(handle, "stats", None), "windows_s", ()))
        if not windows:
            return {}
        closest = min(windows, key=lambda w: abs(w - window_s))
        if window_s not in self._substituted:
            self._substituted.add(window_s)
            _logger.warning(
                "alerting: statistics window %gs is not configured (INFERTEL_STATS_WINDOWS); using %gs",
                window_s,
                closest,
            )
        try:
            return self._stats(closest)
        except ValueError:
            return {}

    def _add(self, name: str, labels: dict[str, str], amount: float) -> float:
        key = (name, tuple(sorted(labels.items())))
        self._counters[key] = self._counters.get(key, 0.0) + amount
        return self._counters[key]

    def collect(self, now: float) -> Iterable[Sample]:
        """The samples at ``now``."""
        out: list[Sample] = []
        dt = 0.0 if self._last is None else max(0.0, now - self._last)
        self._last = now
        rates = self._read(self.rate_window_s)
        for stats in rates.values():
            if getattr(stats, "overflow", False):
                continue
            labels = {sig.label_name("model"): str(stats.model), sig.label_name("operation"): str(stats.operation)}
            out.append(
                (sig.LIVE_REQUESTS, labels, self._add(sig.LIVE_REQUESTS, labels, stats.requests_per_s * dt), now)
            )
            errors_per_s = stats.requests_per_s * stats.error_rate
            out.append((sig.LIVE_ERRORS, labels, self._add(sig.LIVE_ERRORS, labels, errors_per_s * dt), now))
            tokens = self._add(sig.LIVE_OUTPUT_TOKENS, labels, stats.output_tokens_per_s * dt)
            out.append((sig.LIVE_OUTPUT_TOKENS, labels, tokens, now))
            out.append((sig.LIVE_IN_FLIGHT, labels, float(stats.in_flight), now))
            for threshold in self.latency_thresholds_s:
                slow = {**labels, "le": f"{threshold:g}"}
                rate = stats.requests_per_s * _fraction_above(stats.latency.quantiles, threshold)
                out.append((sig.LIVE_SLOW, slow, self._add(sig.LIVE_SLOW, slow, rate * dt), now))
        quantiles = self._read(self.quantile_window_s)
        for stats in quantiles.values():
            if getattr(stats, "overflow", False):
                continue
            labels = {sig.label_name("model"): str(stats.model), sig.label_name("operation"): str(stats.operation)}
            for name, dist in (
                (sig.LIVE_LATENCY, stats.latency),
                (sig.LIVE_TTFT, stats.ttft),
                (sig.LIVE_TPOT, stats.tpot),
            ):
                for q, value in dist.quantiles.items():
                    out.append((name, {**labels, "quantile": str(q)}, float(value), now))
        out.extend(self._resource_samples(now))
        return out

    def _resource_samples(self, now: float) -> list[Sample]:
        out: list[Sample] = []
        if self._resources is not None:
            snap = self._resources()
            host = snap.host
            if host is not None:
                if host.cpu_utilization is not None:
                    out.append((sig.CPU, {}, float(host.cpu_utilization), now))
                if host.memory_utilization is not None:
                    out.append((sig.MEMORY, {}, float(host.memory_utilization), now))
            for gpu in snap.gpus:
                labels = {"hw_id": str(gpu.device.uuid or gpu.device.index)}
                if gpu.utilization is not None:
                    out.append((sig.GPU_UTILIZATION, labels, float(gpu.utilization), now))
                memory = getattr(gpu, "memory_utilization", None)
                if memory is not None:
                    out.append((sig.GPU_MEMORY, labels, float(memory), now))
        for path in self.disk_paths:
            try:
                usage = shutil.disk_usage(path)
            except OSError:
                continue
            out.append((sig.DISK, {"mountpoint": path}, usage.used / usage.total if usage.total else 0.0, now))
        return out


def parse_series(text: str) -> tuple[str, dict[str, str]]:
    """``'name{a="b"}'`` -> ``("name", {"a": "b"})`` (promtool's input series syntax).

    Example:
        >>> parse_series('up{job="api",le="0.5"}')
        ('up', {'job': 'api', 'le': '0.5'})
    """
    match = _SERIES.match(text.strip())
    if match is None:
        raise ValueError(f'series {text!r}: expected name{{label="value",...}}')
    labels = {m.group(1): m.group(2).replace('\\"', '"') for m in _LABEL.finditer(match.group(2) or "")}
    return match.group(1), labels


def expand_values(text: str) -> list[float | None]:
    """Promtool's expanding notation: ``"1+2x3"`` -> ``[1, 3, 5, 7]``, ``"_x2"`` -> gaps, ``"5x2"`` -> repeats.

    Example:
        >>> expand_values("0+10x2 _ 7 1-1x1")
        [0.0, 10.0, 20.0, None, 7.0, 1.0, 0.0]
    """
    out: list[float | None] = []
    for token in text.split():
        match = re.fullmatch(r"(_|-?[0-9.e+]+?)(?:([+-])([0-9.e]+))?x([0-9]+)", token)
        if match:
            start, sign, step, times = match.groups()
            if start == "_":
                out.extend([None] * (int(times) + 1))
                continue
            delta = float(step or 0) * (-1 if sign == "-" else 1)
            out.extend(float(start) + delta * i for i in range(int(times) + 1))
        else:
            out.append(None if token == "_" else float(token))
    return out


class ReplaySource:
    """Canned input series in promtool's notation, one sample every ``interval_s`` from time 0.

    Example:
        >>> source = ReplaySource([("x", "1+1x2")], interval_s=60)
        >>> [s[2:] for s in source.collect(60.0)]
        [(1.0, 0.0), (2.0, 60.0)]
    """

    def __init__(self, series: Sequence[tuple[str, str]], *, interval_s: float = 60.0) -> None:
        self._samples: list[Sample] = []
        for selector, values in series:
            name, labels = parse_series(selector)
            for index, value in enumerate(expand_values(values)):
                if value is not None:
                    self._samples.append((name, labels, value, float(index * interval_s)))
        self._samples.sort(key=lambda s: s[3])
        self._next = 0

    def collect(self, now: float) -> Iterable[Sample]:
        """Every sample not yet given with a timestamp up to ``now``."""
        start = self._next
        while self._next < len(self._samples) and self._samples[self._next][3] <= now:
            self._next += 1
        return self._samples[start : self._next]


STORE_PREFIX = "infertel_store_"
"""Series from the store's rollups are named ``infertel_store_<query>`` (``infertel_store_latency_p99``)."""


class StoreSource:
    """Samples the store's rollups (``SQLiteStore.timeseries``) each round: one gauge per query and group.

    For each query (one of ``ROLLUP_QUERIES``, e.g. ``"latency_p99"``), the newest bucket with data
    within ``lookback_s`` becomes ``infertel_store_<query>{gen_ai_request_model=...}``. This covers
    every process writing to the store (several workers), which the live source does not.
    Threading: engine thread only. Exceptions: a failing read is logged once and yields nothing.

    Example:
        >>> from infertel_exporters.sqlite import SQLiteStore
        >>> with SQLiteStore(":memory:") as store:
        ...     list(StoreSource(store, ["latency_p99"]).collect(1e9))
        []
    """

    def __init__(self, store: Any, queries: Sequence[str], *, lookback_s: float = 300.0, step_s: float = 60.0,
                 group_by: Sequence[str] = ("model",)) -> None:  # fmt: skip
        self.store = store
        self.queries = tuple(queries)
        self.lookback_s = lookback_s
        self.step_s = step_s
        self.group_by = tuple(group_by)
        self._failed = False

    def collect(self, now: float) -> Iterable[Sample]:
        """The newest value of each query and group at ``now``."""
        out: list[Sample] = []
        start_ns, end_ns = int((now - self.lookback_s) * 1e9), int(now * 1e9)
        for query in self.queries:
            try:
                series = self.store.timeseries(query, start_ns, end_ns, self.step_s, group_by=self.group_by)
            except Exception:  # a store being migrated or locked must not stop the round
                if not self._failed:
                    self._failed = True
                    _logger.exception("alerting: reading %r from the store failed", query)
                continue
            name = STORE_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", query)
            for item in series:
                values = [v for _, v in item.points if v is not None]
                if values:
                    labels = {sig.label_name(k): str(v) for k, v in item.labels.items()}
                    out.append((name, labels, float(values[-1]), now))
        return out


class CombinedSource:
    """Several sources read one after the other each round.

    Example:
        >>> len(list(CombinedSource([ReplaySource([("x", "1")]), ReplaySource([("y", "2")])]).collect(0.0)))
        2
    """

    def __init__(self, sources: Sequence[Any]) -> None:
        self.sources = list(sources)

    def collect(self, now: float) -> Iterable[Sample]:
        """Every source's samples."""
        out: list[Sample] = []
        for source in self.sources:
            out.extend(source.collect(now))
        return out
