"""DurableSpanExporter, DurableMetricExporter, DurableLogExporter and :func:`durable`."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from infertel import environment_variables as env
from infertel_exporters.durable import _metrics
from infertel_exporters.durable._lanes import open_lane
from infertel_exporters.durable._pipeline import Pipeline
from infertel_exporters.durable._transport import (
    encode_log_batch,
    encode_metric_batch,
    encode_span_batch,
    sender_for,
)

_logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_AGE_S = 24 * 3600.0
_MAX_SEGMENT_BYTES = 8 * 1024 * 1024
_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off"})


def default_spool_dir() -> Path:
    """``$INFERTEL_SPOOL_DIR``, else ``${XDG_STATE_HOME:-~/.local/state}/infertel/spool``."""
    configured = os.environ.get(env.INFERTEL_SPOOL_DIR, "").strip()
    if configured:
        return Path(configured).expanduser()
    state = os.environ.get("XDG_STATE_HOME", "").strip() or str(Path.home() / ".local" / "state")
    return Path(state) / "infertel" / "spool"


def durable_enabled() -> bool:
    """Whether ``INFERTEL_DURABLE`` leaves durable export on (the default).

    Raises:
        ValueError: The variable holds something other than on/off.
    """
    value = os.environ.get(env.INFERTEL_DURABLE, "on").strip().lower()
    if value in _ON or value == "":
        return True
    if value in _OFF:
        return False
    raise ValueError(f"{env.INFERTEL_DURABLE} must be 'on' or 'off', got {value!r}")


def _number(name: str, value: float | None, env_name: str, default: float, *, integer: bool) -> float:
    if value is None:
        raw = os.environ.get(env_name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            kind = "integer" if integer else "number"
            raise ValueError(f"{env_name} must be a positive {kind}, got {raw!r}") from None
        name = env_name
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a positive {'integer' if integer else 'number'}, got {value!r}")
    return value


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _send_timeout_s(inner: Any) -> float:
    client = getattr(inner, "_client", None)
    timeout = getattr(client, "_timeout", None) or getattr(inner, "_timeout", None)
    return float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else 10.0


class _DurableBase:
    _signal = ""

    def _start(
        self,
        inner: Any,
        *,
        encode: Any,
        count: Any,
        spool_dir: str | os.PathLike[str] | None,
        max_bytes: int | None,
        max_age_s: float | None,
        max_queue_items: int,
        max_batch_items: int,
        schedule_delay_millis: int,
        enqueue_timeout_millis: int,
        fsync_interval_s: float,
        backoff_initial_s: float,
        backoff_max_s: float,
        meter_provider: MeterProvider | None,
        write_through: bool,
        report_metrics: bool,
    ) -> None:
        bound = int(_number("max_bytes", max_bytes, env.INFERTEL_SPOOL_MAX_BYTES, DEFAULT_MAX_BYTES, integer=True))
        age = _number("max_age_s", max_age_s, env.INFERTEL_SPOOL_MAX_AGE_S, DEFAULT_MAX_AGE_S, integer=False)
        for name, value in (
            ("max_queue_items", max_queue_items),
            ("max_batch_items", max_batch_items),
            ("schedule_delay_millis", schedule_delay_millis),
        ):
            _positive_int(name, value)
        if isinstance(enqueue_timeout_millis, bool) or not isinstance(enqueue_timeout_millis, int) or (
            enqueue_timeout_millis < 0
        ):
            raise ValueError(f"enqueue_timeout_millis must be an integer >= 0, got {enqueue_timeout_millis!r}")
        if fsync_interval_s < 0 or backoff_initial_s <= 0 or backoff_max_s < backoff_initial_s:
            raise ValueError(
                "fsync_interval_s must be >= 0 and 0 < backoff_initial_s <= backoff_max_s, got "
                f"{fsync_interval_s!r}, {backoff_initial_s!r}, {backoff_max_s!r}"
            )
        sender = sender_for(inner, self._signal)
        directory = (Path(spool_dir).expanduser() if spool_dir is not None else default_spool_dir()) / self._signal
        lane_options: dict[str, Any] = {
            "max_bytes": bound,
            "max_age_s": age,
            "segment_bytes": max(min(bound // 8, _MAX_SEGMENT_BYTES), 1),
            "fsync_interval_s": fsync_interval_s,
        }
        spool = open_lane(directory, **lane_options)
        self.inner = inner
        self._pipeline = Pipeline(
            signal=self._signal,
            encode=encode,
            count=count,
            sender=sender,
            spool=spool,
            max_queue_items=max_queue_items,
            max_batch_items=max_batch_items,
            schedule_delay_millis=schedule_delay_millis,
            enqueue_timeout_millis=enqueue_timeout_millis,
            send_timeout_s=_send_timeout_s(inner),
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
            max_age_s=age,
            memory_max_bytes=min(bound, 64 * 1024 * 1024),
            write_through=bool(write_through),
            reopen=lambda: open_lane(directory, **lane_options),
        )
        if report_metrics:
            _metrics.register(self._pipeline, meter_provider)

    def report_metrics_to(self, meter_provider: MeterProvider) -> None:
        """Report this exporter's ``infertel.exporter.*`` metrics on ``meter_provider`` too.

        For a metric exporter whose own metrics should go through the ``MeterProvider`` that is
        built around it (construct it with ``report_metrics=False``, then call this).
        """
        _metrics.register(self._pipeline, meter_provider)

    @property
    def spool_directory(self) -> Path | None:
        """The lane directory this exporter owns, or ``None`` when it buffers in memory only."""
        spool = self._pipeline.spool
        return spool.directory if spool is not None else None

    @property
    def dropped(self) -> dict[str, int]:
        """Items lost for good so far, by reason (also the ``infertel.exporter.spool.dropped`` metric)."""
        return dict(self._pipeline.dropped)

    @property
    def delivered(self) -> int:
        """Items the collector acknowledged so far."""
        return self._pipeline.delivered

    @property
    def backlog(self) -> int:
        """Items accepted and not yet acknowledged."""
        return self._pipeline.backlog_items

    def offer(self, items: Sequence[Any]) -> bool:
        """Queue ``items`` for durable delivery; ``False`` if they were dropped (counted)."""
        return self._pipeline.offer(items)

    def _durable_force_flush(self, timeout_millis: int) -> bool:
        return self._pipeline.force_flush(timeout_millis)

    def _durable_shutdown(self, timeout_millis: int) -> None:
        if self._pipeline.shut_down:
            return
        self._pipeline.shutdown(timeout_millis)
        try:
            self.inner.shutdown()
        except Exception:  # noqa: BLE001 - shutdown never raises into the application
            _logger.warning("inner exporter %s failed to shut down", type(self.inner).__name__, exc_info=True)


_COMMON_DOC = """
    Args:
        inner: The exporter that delivers (``OTLPSpanExporter`` and friends, gRPC or HTTP; for
            spans any ``SpanExporter``).
        spool_dir: Base directory of the spool (default :func:`default_spool_dir`); this exporter
            uses ``<spool_dir>/<signal>/lane-<n>``, the first lane no other live process holds.
        max_bytes: Size bound of the spool (default ``$INFERTEL_SPOOL_MAX_BYTES`` or 256 MiB).
        max_age_s: Age bound (default ``$INFERTEL_SPOOL_MAX_AGE_S`` or 86400 s).
        max_queue_items: Bound of the in-memory queue in front of the spool writer.
        max_batch_items: Items per spooled record and per request to the collector.
        schedule_delay_millis: How long the writer lets a partial batch wait.
        enqueue_timeout_millis: Longest wait of ``export()`` for room in a full queue before it
            drops the batch (counted).
        fsync_interval_s: fsync the active segment at most this often (0: every record).
        backoff_initial_s: First retry delay after a failed delivery; doubles up to ``backoff_max_s``.
        backoff_max_s: Cap of the retry delay.
        meter_provider: Receives ``infertel.exporter.spool.*`` metrics (default: the global one).
        write_through: ``export()`` encodes and appends the batch to the spool on the calling
            thread before it returns (one encode and one ``write()``, no fsync unless
            ``fsync_interval_s=0``), so a process killed after ``span.end()`` returned loses
            nothing. Off (default): the batch waits in memory for at most
            ``schedule_delay_millis`` (or until ``max_batch_items`` are queued); a SIGKILL loses
            that queue, nothing already spooled. Default on for metrics (the reader's thread,
            not the application's, calls ``export()``).
        report_metrics: Register the metrics on ``meter_provider`` now; see
            :meth:`report_metrics_to` for a metric exporter inside the provider it reports to.

    Raises:
        ValueError: A bound or option is invalid, or ``inner`` cannot be replayed through.
"""


class DurableSpanExporter(_DurableBase, SpanExporter):
    """A span exporter that never loses a batch to a collector outage (bounded by disk and age).

    ``export()`` only queues the batch (bounded wait, no disk, no network) and returns
    ``SUCCESS``, or ``FAILURE`` when the queue stayed full (the batch is dropped and counted).
    Threading: any thread may call ``export``/``force_flush``/``shutdown``; two daemon threads
    write the spool and deliver. Exceptions: none are raised after construction.
    """ + _COMMON_DOC + """
    Example:
        >>> from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        >>> exporter = DurableSpanExporter(OTLPSpanExporter(endpoint="http://127.0.0.1:4318/v1/traces"),
        ...                                spool_dir="/tmp/spool")  # doctest: +SKIP
    """

    _signal = "traces"

    def __init__(
        self,
        inner: SpanExporter,
        *,
        spool_dir: str | os.PathLike[str] | None = None,
        max_bytes: int | None = None,
        max_age_s: float | None = None,
        max_queue_items: int = 65_536,
        max_batch_items: int = 4_096,
        schedule_delay_millis: int = 500,
        enqueue_timeout_millis: int = 100,
        fsync_interval_s: float = 1.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        meter_provider: MeterProvider | None = None,
        write_through: bool = False,
        report_metrics: bool = True,
    ) -> None:
        self._start(
            inner, encode=encode_span_batch, count=len, spool_dir=spool_dir, max_bytes=max_bytes,
            max_age_s=max_age_s, max_queue_items=max_queue_items, max_batch_items=max_batch_items,
            schedule_delay_millis=schedule_delay_millis, enqueue_timeout_millis=enqueue_timeout_millis,
            fsync_interval_s=fsync_interval_s, backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s,
            meter_provider=meter_provider, write_through=write_through, report_metrics=report_metrics,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Queue ``spans``; ``FAILURE`` only when they had to be dropped."""
        return SpanExportResult.SUCCESS if self.offer(spans) else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Deliver everything queued and spooled; ``False`` on timeout or after any drop since the last flush."""
        return self._durable_force_flush(timeout_millis)

    def shutdown(self, timeout_millis: int = 5_000) -> None:
        """Spool what is queued, deliver for up to ``timeout_millis`` if the collector answers, stop."""
        self._durable_shutdown(timeout_millis)


def _count_points(batch: Sequence[MetricsData]) -> int:
    return sum(
        len(metric.data.data_points)
        for data in batch
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )


class DurableMetricExporter(_DurableBase, MetricExporter):
    """A metric exporter that keeps what the collector cannot take (see :class:`DurableSpanExporter`).

    It reports the inner exporter's preferred temporality and aggregation to the reader.
    """ + _COMMON_DOC + """
    Example:
        >>> from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        >>> exporter = DurableMetricExporter(OTLPMetricExporter(), spool_dir="/tmp/spool")  # doctest: +SKIP
    """

    _signal = "metrics"

    def __init__(
        self,
        inner: MetricExporter,
        *,
        spool_dir: str | os.PathLike[str] | None = None,
        max_bytes: int | None = None,
        max_age_s: float | None = None,
        max_queue_items: int = 64,
        max_batch_items: int = 1,
        schedule_delay_millis: int = 100,
        enqueue_timeout_millis: int = 100,
        fsync_interval_s: float = 1.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        meter_provider: MeterProvider | None = None,
        write_through: bool = True,
        report_metrics: bool = True,
    ) -> None:
        MetricExporter.__init__(
            self,
            preferred_temporality=getattr(inner, "_preferred_temporality", None),
            preferred_aggregation=getattr(inner, "_preferred_aggregation", None),
        )
        self._start(
            inner, encode=encode_metric_batch, count=_count_points, spool_dir=spool_dir, max_bytes=max_bytes,
            max_age_s=max_age_s, max_queue_items=max_queue_items, max_batch_items=max_batch_items,
            schedule_delay_millis=schedule_delay_millis, enqueue_timeout_millis=enqueue_timeout_millis,
            fsync_interval_s=fsync_interval_s, backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s,
            meter_provider=meter_provider, write_through=write_through, report_metrics=report_metrics,
        )

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        """Queue one collection (a queue item is a whole ``MetricsData``)."""
        return MetricExportResult.SUCCESS if self.offer([metrics_data]) else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        """See :meth:`DurableSpanExporter.force_flush`."""
        return self._durable_force_flush(int(timeout_millis))

    def shutdown(self, timeout_millis: float = 5_000, **kwargs: Any) -> None:
        """See :meth:`DurableSpanExporter.shutdown`."""
        self._durable_shutdown(int(timeout_millis))


class DurableLogExporter(_DurableBase, LogRecordExporter):
    """A log record exporter that keeps what the collector cannot take (see :class:`DurableSpanExporter`).
    """ + _COMMON_DOC + """
    Example:
        >>> from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        >>> exporter = DurableLogExporter(OTLPLogExporter(), spool_dir="/tmp/spool")  # doctest: +SKIP
    """

    _signal = "logs"

    def __init__(
        self,
        inner: LogRecordExporter,
        *,
        spool_dir: str | os.PathLike[str] | None = None,
        max_bytes: int | None = None,
        max_age_s: float | None = None,
        max_queue_items: int = 65_536,
        max_batch_items: int = 2_048,
        schedule_delay_millis: int = 500,
        enqueue_timeout_millis: int = 100,
        fsync_interval_s: float = 1.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        meter_provider: MeterProvider | None = None,
        write_through: bool = False,
        report_metrics: bool = True,
    ) -> None:
        self._start(
            inner, encode=encode_log_batch, count=len, spool_dir=spool_dir, max_bytes=max_bytes,
            max_age_s=max_age_s, max_queue_items=max_queue_items, max_batch_items=max_batch_items,
            schedule_delay_millis=schedule_delay_millis, enqueue_timeout_millis=enqueue_timeout_millis,
            fsync_interval_s=fsync_interval_s, backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s,
            meter_provider=meter_provider, write_through=write_through, report_metrics=report_metrics,
        )

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        """Queue ``batch``; ``FAILURE`` only when it had to be dropped."""
        return LogRecordExportResult.SUCCESS if self.offer(batch) else LogRecordExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """See :meth:`DurableSpanExporter.force_flush`."""
        return self._durable_force_flush(timeout_millis)

    def shutdown(self, timeout_millis: int = 5_000) -> None:
        """See :meth:`DurableSpanExporter.shutdown`."""
        self._durable_shutdown(timeout_millis)


_E = TypeVar("_E")


def durable(inner: _E, **options: Any) -> _E:
    """Wrap a span, metric or log exporter in its durable counterpart.

    Returns ``inner`` unchanged when ``INFERTEL_DURABLE=off``. ``options`` are those of
    :class:`DurableSpanExporter`.

    Raises:
        ValueError: ``inner`` is not a span, metric or log exporter, or an option is invalid.

    Example:
        >>> from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        >>> exporter = durable(OTLPSpanExporter(endpoint="http://127.0.0.1:4317", insecure=True))  # doctest: +SKIP
    """
    if not durable_enabled():
        return inner
    wrapped: Any
    if isinstance(inner, SpanExporter):
        wrapped = DurableSpanExporter(inner, **options)
    elif isinstance(inner, MetricExporter):
        wrapped = DurableMetricExporter(inner, **options)
    elif isinstance(inner, LogRecordExporter):
        wrapped = DurableLogExporter(inner, **options)
    else:
        raise ValueError(f"durable() wraps a SpanExporter, MetricExporter or LogRecordExporter, got {type(inner)!r}")
    return wrapped
