"""Immutable results of a statistics query: :class:`Snapshot`, :class:`SeriesStats`, :class:`Distribution`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

SeriesKey = tuple[Any, ...]
"""``(model, operation, *extra attribute values)``; the overflow series is :data:`OVERFLOW_KEY`."""

OVERFLOW_KEY: SeriesKey = ("otel.metric.overflow", "otel.metric.overflow")
"""Key of the series that absorbs every series past ``max_series``."""


@dataclass(frozen=True)
class Distribution:
    """Quantiles of one per-request quantity over a window.

    Attributes:
        count: Number of requests that reported the quantity.
        quantiles: ``{q: value}`` for every configured quantile; empty when ``count == 0``.

    Example:
        >>> d = Distribution(count=3, quantiles={0.5: 0.2, 0.99: 0.9})
        >>> d.p50, d.p99, d.p999
        (0.2, 0.9, None)
    """

    count: int = 0
    quantiles: Mapping[float, float] = field(default_factory=dict)

    def quantile(self, q: float) -> float | None:
        """The value of quantile ``q`` (one of the configured ones), ``None`` when unknown."""
        return self.quantiles.get(q)

    @property
    def p50(self) -> float | None:
        """Median."""
        return self.quantiles.get(0.5)

    @property
    def p90(self) -> float | None:
        """90th percentile."""
        return self.quantiles.get(0.9)

    @property
    def p95(self) -> float | None:
        """95th percentile."""
        return self.quantiles.get(0.95)

    @property
    def p99(self) -> float | None:
        """99th percentile."""
        return self.quantiles.get(0.99)

    @property
    def p999(self) -> float | None:
        """99.9th percentile."""
        return self.quantiles.get(0.999)


@dataclass(frozen=True)
class SeriesStats:
    """Live statistics of one series (model, operation, extra attributes) over one window.

    Attributes:
        model: ``gen_ai.request.model`` (``None`` for the overflow series).
        operation: ``gen_ai.operation.name`` (``None`` for the overflow series).
        attributes: The series' metric attributes (model, operation, extra attributes, or
            ``otel.metric.overflow=True``).
        window_s: Configured window length in seconds.
        duration_s: Seconds actually covered (slot-aligned, never before the processor started,
            at least 1); rates divide by it.
        requests: Requests that ended in the window.
        errors: Of which failed (span attribute ``error.type`` set).
        errors_by_type: ``{error.type: count}``.
        input_tokens: Sum of ``gen_ai.usage.input_tokens``.
        output_tokens: Sum of ``gen_ai.usage.output_tokens``.
        requests_per_s: ``requests / duration_s``.
        output_tokens_per_s: Output tokens of all requests together per second (``output_tokens / duration_s``).
        input_tokens_per_s: ``input_tokens / duration_s``.
        error_rate: ``errors / requests`` (0.0 without requests).
        in_flight: Requests started and not yet ended, now (not windowed).
        latency: Seconds from span start to end.
        ttft: Time to first token, seconds (streams).
        tpot: Time per output token after the first, seconds (streams): ``infertel.time_per_output_token``,
            else ``(latency - ttft) / (output_tokens - 1)``.
        decode_speed: Output tokens per second of each request: ``1 / tpot`` for streams (that is
            ``(output_tokens - 1) / (latency - ttft)``), ``output_tokens / latency`` otherwise.

    Example:
        >>> s = SeriesStats(model="m", operation="chat")
        >>> s.requests_per_s, s.latency.p99
        (0.0, None)
    """

    model: Any = None
    operation: Any = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    window_s: float = 0.0
    duration_s: float = 0.0
    requests: int = 0
    errors: int = 0
    errors_by_type: Mapping[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    requests_per_s: float = 0.0
    output_tokens_per_s: float = 0.0
    input_tokens_per_s: float = 0.0
    error_rate: float = 0.0
    in_flight: int = 0
    latency: Distribution = field(default_factory=Distribution)
    ttft: Distribution = field(default_factory=Distribution)
    tpot: Distribution = field(default_factory=Distribution)
    decode_speed: Distribution = field(default_factory=Distribution)

    @property
    def overflow(self) -> bool:
        """Whether this is the series that absorbs series past ``max_series``."""
        return self.model is None and self.operation is None and bool(self.attributes.get("otel.metric.overflow"))


class Snapshot(Mapping[SeriesKey, SeriesStats]):
    """Statistics of every series over one window at one clock instant (a read-only mapping).

    Keys are ``(model, operation, *extra attribute values)``; the overflow series is under
    :data:`OVERFLOW_KEY`. An empty snapshot is returned when no statistics are installed.

    Example:
        >>> snap = Snapshot(window_s=60.0, time=0.0, series={})
        >>> len(snap), snap.get(("llama-3-8b", "chat"))
        (0, None)
    """

    __slots__ = ("window_s", "time", "_series")

    def __init__(self, *, window_s: float, time: float, series: Mapping[SeriesKey, SeriesStats]) -> None:
        self.window_s = window_s
        """Window length in seconds."""
        self.time = time
        """Clock instant of the query."""
        self._series = MappingProxyType(dict(series))

    def __getitem__(self, key: SeriesKey) -> SeriesStats:
        return self._series[key]

    def __iter__(self) -> Iterator[SeriesKey]:
        return iter(self._series)

    def __len__(self) -> int:
        return len(self._series)

    def __repr__(self) -> str:
        return f"Snapshot(window_s={self.window_s!r}, time={self.time!r}, series={list(self._series)!r})"

    def by_model(self, model: str) -> list[SeriesStats]:
        """Every series of ``model`` (all operations)."""
        return [s for s in self._series.values() if s.model == model]
