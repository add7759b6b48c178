"""Installing the statistics on providers, and the process-wide registry ``infertel.stats()`` reads."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from infertel import environment_variables as env
from infertel._internal.processors._gauges import StatsGauges
from infertel._internal.processors._processor import InferenceStatsSpanProcessor
from infertel._internal.processors._snapshot import Snapshot
from infertel._internal.processors._stats import (
    DEFAULT_MAX_SERIES,
    DEFAULT_QUANTILES,
    DEFAULT_RELATIVE_ACCURACY,
    DEFAULT_SLOTS_PER_WINDOW,
    DEFAULT_WINDOWS_S,
    InferenceStats,
)

_logger = logging.getLogger(__name__)

_lock = threading.Lock()
_installed: list[StatsHandle] = []


class StatsHandle:
    """What :func:`install` returns: the processor, its statistics and its gauges.

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider
        >>> handle = install(TracerProvider(), None, windows_s=(60,))
        >>> len(handle.snapshot(60))
        0
        >>> handle.uninstall()
    """

    def __init__(
        self, processor: InferenceStatsSpanProcessor, gauges: StatsGauges | None, tracer_provider: Any
    ) -> None:
        self.processor = processor
        self.stats = processor.stats
        self.gauges = gauges
        self.tracer_provider = tracer_provider

    def snapshot(self, window_s: float = 60.0, *, model: str | None = None) -> Snapshot:
        """Statistics over the window of ``window_s`` seconds (one of the configured windows)."""
        return self.stats.snapshot(window_s, model=model)

    def uninstall(self) -> None:
        """Stop recording and publishing, and leave the registry ``infertel.stats()`` reads.

        The SDK cannot remove a span processor or an instrument: the processor stays on the
        provider as a no-op and the gauges report nothing.
        """
        self.processor.shutdown()
        if self.gauges is not None:
            self.gauges.active = False
        with _lock:
            if self in _installed:
                _installed.remove(self)


def install(
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None = None,
    *,
    attach: bool = True,
    windows_s: Iterable[float] = DEFAULT_WINDOWS_S,
    quantiles: Iterable[float] = DEFAULT_QUANTILES,
    max_series: int = DEFAULT_MAX_SERIES,
    extra_attributes: Iterable[str] = (),
    clock: Callable[[], float] | None = None,
    slots_per_window: int = DEFAULT_SLOTS_PER_WINDOW,
    relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
) -> StatsHandle:
    """Add the statistics span processor to ``tracer_provider`` and its gauges to ``meter_provider``.

    ``infertel.stats()`` then reads these statistics (the most recently installed ones).

    Args:
        tracer_provider: An SDK ``TracerProvider`` (anything with ``add_span_processor``); may be
            ``None`` with ``attach=False``.
        attach: Add the processor to ``tracer_provider``. ``False``: the caller adds
            ``handle.processor`` itself (e.g. as a delegate of its own span processor hub).
        meter_provider: Where the ``infertel.gen_ai.*`` gauges are registered; ``None``: no gauges.
        windows_s: Sliding windows in seconds, each > 0.
        quantiles: Quantiles reported, each in (0, 1).
        max_series: Most series, overflow series included (>= 1).
        extra_attributes: Span attribute names that split series beyond model and operation.
        clock: Monotonic seconds (tests inject one); default ``time.monotonic``.
        slots_per_window: Slots per window (>= 1); windows slide by ``window / slots``.
        relative_accuracy: Guaranteed relative error of every quantile, in (0, 0.5).

    Returns:
        The handle; ``handle.uninstall()`` stops it.

    Raises:
        ValueError: an option is out of range (the message names it and the accepted values),
            or ``tracer_provider`` is not an SDK provider.

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider
        >>> handle = install(TracerProvider(), windows_s=(60, 300), quantiles=(0.5, 0.99))
        >>> handle.uninstall()
    """
    add = getattr(tracer_provider, "add_span_processor", None)
    if add is None and attach:
        raise ValueError(
            f"tracer_provider must be an OpenTelemetry SDK TracerProvider (with add_span_processor), "
            f"got {type(tracer_provider).__name__}"
        )
    stats = InferenceStats(
        windows_s=windows_s,
        quantiles=quantiles,
        max_series=max_series,
        extra_attributes=extra_attributes,
        clock=clock,
        slots_per_window=slots_per_window,
        relative_accuracy=relative_accuracy,
    )
    processor = InferenceStatsSpanProcessor(stats)
    gauges = StatsGauges(meter_provider, stats) if meter_provider is not None else None
    if attach and add is not None:
        add(processor)
    handle = StatsHandle(processor, gauges, tracer_provider)
    with _lock:
        _installed.append(handle)
    return handle


def current() -> StatsHandle | None:
    """The most recently installed statistics, if any."""
    with _lock:
        return _installed[-1] if _installed else None


def uninstall_all() -> None:
    """Uninstall every installed statistics handle (``shutdown()`` and tests)."""
    with _lock:
        handles = list(_installed)
    for handle in handles:
        handle.uninstall()


def stats(window_s: float = 60, model: str | None = None) -> Snapshot:
    """Live statistics of every GenAI series over the last ``window_s`` seconds.

    Reads the statistics that ``configure()`` (or :func:`install`) set up; an empty snapshot
    when none are installed.

    Args:
        window_s: One of the configured windows (default ``60``; see ``INFERTEL_STATS_WINDOWS``).
        model: Only the series of this ``gen_ai.request.model``.

    Raises:
        ValueError: ``window_s`` is not a configured window.

    Example:
        >>> snap = stats(window_s=60)
        >>> s = snap.get(("llama-3-8b", "chat"))
        >>> s is None or s.latency.p99 is None or s.latency.p99 > 0
        True
    """
    handle = current()
    if handle is None:
        return Snapshot(window_s=float(window_s), time=time.monotonic(), series={})
    return handle.snapshot(window_s, model=model)


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def options_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """:func:`install` options set by ``INFERTEL_STATS_*`` variables (only those that are set).

    Raises:
        ValueError: a variable does not parse; the message names it and the accepted values.

    Example:
        >>> options_from_env({"INFERTEL_STATS_WINDOWS": "60,300"})
        {'windows_s': (60.0, 300.0)}
    """
    environ = os.environ if environ is None else environ
    options: dict[str, Any] = {}
    raw = environ.get(env.INFERTEL_STATS_WINDOWS, "").strip()
    if raw:
        try:
            options["windows_s"] = tuple(float(part) for part in _split(raw))
        except ValueError:
            raise ValueError(
                f"{env.INFERTEL_STATS_WINDOWS} must be comma-separated positive seconds such as 60,300,900; got {raw!r}"
            ) from None
    raw = environ.get(env.INFERTEL_STATS_QUANTILES, "").strip()
    if raw:
        try:
            options["quantiles"] = tuple(float(part) for part in _split(raw))
        except ValueError:
            raise ValueError(
                f"{env.INFERTEL_STATS_QUANTILES} must be comma-separated numbers in (0, 1) such as 0.5,0.99; "
                f"got {raw!r}"
            ) from None
    raw = environ.get(env.INFERTEL_STATS_MAX_SERIES, "").strip()
    if raw:
        try:
            options["max_series"] = int(raw)
        except ValueError:
            raise ValueError(f"{env.INFERTEL_STATS_MAX_SERIES} must be an integer >= 1; got {raw!r}") from None
    raw = environ.get(env.INFERTEL_STATS_EXTRA_ATTRIBUTES, "").strip()
    if raw:
        options["extra_attributes"] = tuple(_split(raw))
    if options:
        # Fail at configuration time, naming the variable, rather than later with the option name.
        try:
            InferenceStats(**options)
        except ValueError as exc:
            names = ", ".join((env.INFERTEL_STATS_WINDOWS, env.INFERTEL_STATS_QUANTILES, env.INFERTEL_STATS_MAX_SERIES))
            raise ValueError(f"invalid statistics setting from the environment ({names}): {exc}") from None
    return options
