"""DurableSpanExporter, DurableMetricExporter, DurableLogExporter and :func:`durable`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from infertel_exporters.durable import _metrics
from infertel_exporters.durable import _names as env
from infertel_exporters.durable._compat import (
    LogRecordExporter,
    LogRecordExportResult,
    preferred_metric_settings,
    send_timeout_s,
)
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
    timeout = send_timeout_s(inner)
    return 10.0 if timeout is None else timeout


class _Signal(NamedTuple):
    """What differs between the span, metric and log exporters."""

    name: str
    encode: Callable[[Sequence[Any]], bytes]
    count: Callable[[Sequence[Any]], int]
    max_queue_items: int
    max_batch_items: int
    schedule_delay_millis: int
    write_through: bool


_SIGNAL_DEFAULT: Any = object()  # the option's value in the exporter class's _Signal

_Inner = TypeVar("_Inner")


class _DurableBase(Generic[_Inner]):
    _spec: ClassVar[_Signal]

    def __init__(
        self,
        inner: _Inner,
        *,
        spool_dir: str | os.PathLike[str] | None = None,
        max_bytes: int | None = None,
        max_age_s: float | None = None,
        max_queue_items: int = _SIGNAL_DEFAULT,
        max_batch_items: int = _SIGNAL_DEFAULT,
        schedule_delay_millis: int = _SIGNAL_DEFAULT,
        enqueue_timeout_millis: int = 100,
        fsync_interval_s: float = 1.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        meter_provider: MeterProvider | None = None,
        write_through: bool = _SIGNAL_DEFAULT,
        report_metrics: bool = True,
    ) -> None:
        spec = self._spec
        max_queue_items = spec.max_queue_items if max_queue_items is _SIGNAL_DEFAULT else max_queue_items
        max_batch_items = spec.max_batch_items if max_batch_items is _SIGNAL_DEFAULT else max_batch_items
        if schedule_delay_millis is _SIGNAL_DEFAULT:
            schedule_delay_millis = spec.schedule_delay_millis
        write_through = spec.write_through if write_through is _SIGNAL_DEFAULT else write_through
        self._bind(inner)
        bound = int(_number("max_bytes", max_bytes, env.INFERTEL_SPOOL_MAX_BYTES, DEFAULT_MAX_BYTES, integer=True))
        age = _number("max_age_s", max_age_s, env.INFERTEL_SPOOL_MAX_AGE_S, DEFAULT_MAX_AGE_S, integer=False)
        for name, value in (
            ("max_queue_items", max_queue_items),
            ("max_batch_items", max_batch_items),
            ("schedule_delay_millis", schedule_delay_millis),
        ):
            _positive_int(name, value)
        if (
            isinstance(enqueue_timeout_millis, bool)
            or not isinstance(enqueue_timeout_millis, int)
            or (enqueue_timeout_millis < 0)
        ):
            raise ValueError(f"enqueue_timeout_millis must be an integer >= 0, got {enqueue_timeout_millis!r}")
        if fsync_interval_s < 0 or backoff_initial_s <= 0 or backoff_max_s < backoff_initial_s:
            raise ValueError(
                "fsync_interval_s must be >= 0 and 0 < backoff_initial_s <= backoff_max_s, got "
                f"{fsync_interval_s!r}, {backoff_initial_s!r}, {backoff_max_s!r}"
            )
        sender = sender_for(inner, spec.name)
        directory = (Path(spool_dir).expanduser() if spool_dir is not None else default_spool_dir()) / spec.name
        lane_options: dict[str, Any] = {
            "max_bytes": bound,
            "max_age_s": age,
            "segment_bytes": max(min(bound // 8, _MAX_SEGMENT_BYTES), 1),
            "fsync_interval_s": fsync_interval_s,
        }
        spool = open_lane(directory, **lane_options)
        self.inner: Any = inner
        self._pipeline = Pipeline(
            signal=spec.name,
            encode=spec.encode,
            count=spec.count,
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

    def _bind(self, inner: _Inner) -> None:
        """Set up the SDK exporter base class from ``inner`` (before the options are checked)."""

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
        """Items not yet acknowledged, a spool lane adopted from a finished process included.

        Also the ``infertel.exporter.spool.backlog`` metric.
        """
        return self._pipeline.backlog_items + self._pipeline.adopted_items

    @property
    def status(self) -> dict[str, Any]:
        """Where delivery stands, for health checks (``infertel.status()`` reads it).

        A plain dict: ``kind`` (``"durable-otlp"``), ``target`` (the collector), ``state``
        (``"failing"`` while the collector does not answer, ``"degraded"`` while the spool cannot be
        written or for a minute after items were lost, else ``"ok"``), ``last_error`` (one line or
        ``None``), ``last_error_time_unix_nano`` and ``counts``: ``delivered``, ``dropped`` (all
        reasons; :attr:`dropped` splits them), ``backlog`` and ``spool_bytes``.

        Example:
            >>> exporter.status["state"]  # doctest: +SKIP
            'ok'
        """
        pipeline = self._pipeline
        return {
            "kind": "durable-otlp",
            "target": pipeline.target,
            "state": pipeline.state,
            "last_error": pipeline.last_error,
            "last_error_time_unix_nano": pipeline.last_error_ns,
            "counts": {
                "delivered": pipeline.delivered,
                "dropped": sum(pipeline.dropped.values()),
                "backlog": self.backlog,
                "spool_bytes": pipeline.size_bytes,
            },
        }

    def offer(self, items: Sequence[Any]) -> bool:
        """Queue ``items`` for durable delivery; ``False`` if they were dropped (counted)."""
        return self._pipeline.offer(items)

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        """Deliver everything queued and spooled; ``False`` on timeout or after any drop since the last flush."""
        return self._pipeline.force_flush(int(timeout_millis))

    def shutdown(self, timeout_millis: float = 5_000, **kwargs: Any) -> None:
        """Spool what is queued, deliver for up to ``timeout_millis`` if the collector answers, stop."""
        timeout_millis = int(timeout_millis)
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
        max_queue_items: Bound of the in-memory queue in front of the spool writer (default
            65536; 64 for metrics).
        max_batch_items: Items per spooled record and per request to the collector (default
            4096 for spans, 2048 for logs, 1 for metrics).
        schedule_delay_millis: How long the writer lets a partial batch wait (default 500; 100
            for metrics).
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

_C = TypeVar("_C", bound=type)


def _common_doc(cls: _C) -> _C:
    """Put the options all three exporters share in ``cls``'s docstring, before its example."""
    if cls.__doc__:  # None under python -OO
        head, example, rest = cls.__doc__.partition("\n    Example:")
        cls.__doc__ = head + _COMMON_DOC + example + rest
    return cls


@_common_doc
class DurableSpanExporter(_DurableBase[SpanExporter], SpanExporter):
    """A span exporter that never loses a batch to a collector outage (bounded by disk and age).

    ``export()`` only queues the batch (bounded wait, no disk, no network) and returns
    ``SUCCESS``, or ``FAILURE`` when the queue stayed full (the batch is dropped and counted).
    Threading: any thread may call ``export``/``force_flush``/``shutdown``; two daemon threads
    write the spool and deliver. Exceptions: none are raised after construction.

    Example:
        >>> from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        >>> exporter = DurableSpanExporter(OTLPSpanExporter(endpoint="http://127.0.0.1:4318/v1/traces"),
        ...                                spool_dir="/tmp/spool")  # doctest: +SKIP
    """

    _spec = _Signal("traces", encode_span_batch, len, 65_536, 4_096, 500, False)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Queue ``spans``; ``FAILURE`` only when they had to be dropped."""
        return SpanExportResult.SUCCESS if self.offer(spans) else SpanExportResult.FAILURE


def _count_points(batch: Sequence[MetricsData]) -> int:
    return sum(
        len(metric.data.data_points)
        for data in batch
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )


@_common_doc
class DurableMetricExporter(_DurableBase[MetricExporter], MetricExporter):
    """A metric exporter that keeps what the collector cannot take (see :class:`DurableSpanExporter`).

    It reports the inner exporter's preferred temporality and aggregation to the reader.

    Example:
        >>> from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        >>> exporter = DurableMetricExporter(OTLPMetricExporter(), spool_dir="/tmp/spool")  # doctest: +SKIP
    """

    _spec = _Signal("metrics", encode_metric_batch, _count_points, 64, 1, 100, True)

    def _bind(self, inner: MetricExporter) -> None:
        temporality, aggregation = preferred_metric_settings(inner)
        MetricExporter.__init__(self, preferred_temporality=temporality, preferred_aggregation=aggregation)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        """Queue one collection (a queue item is a whole ``MetricsData``)."""
        return MetricExportResult.SUCCESS if self.offer([metrics_data]) else MetricExportResult.FAILURE


@_common_doc
class DurableLogExporter(_DurableBase[LogRecordExporter], LogRecordExporter):
    """A log record exporter that keeps what the collector cannot take (see :class:`DurableSpanExporter`).

    Example:
        >>> from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        >>> exporter = DurableLogExporter(OTLPLogExporter(), spool_dir="/tmp/spool")  # doctest: +SKIP
    """

    _spec = _Signal("logs", encode_log_batch, len, 65_536, 2_048, 500, False)

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        """Queue ``batch``; ``FAILURE`` only when it had to be dropped."""
        return LogRecordExportResult.SUCCESS if self.offer(batch) else LogRecordExportResult.FAILURE


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
