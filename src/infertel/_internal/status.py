"""``infertel.status()``: the state and last error of every component ``configure()`` installed.

The exporter distributions do not import infertel's private modules: each of their exporters has
a public ``status`` property (a plain mapping, shape below), and this module polls the exporters of
the configuration in force. The same poll feeds two counters on infertel's MeterProvider
(``infertel.export.dropped`` and ``infertel.store.errors``) and the verdict of ``shutdown()``: it
returns ``False`` when an exporter lost items since the previous verdict, and logs one line naming
which exporter, how many items and where they were going.

The exporter side (``SQLiteSpanExporter.status``, ``DurableSpanExporter.status`` ...) is a mapping
with the keys ``kind``, ``target``, ``state``, ``last_error``, ``last_error_time_unix_nano`` and
``counts``, exactly the fields of :class:`ComponentStatus` but ``name`` and ``time_unix_nano``.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from opentelemetry.metrics import Observation

from infertel import semconv
from infertel._internal import state
from infertel.version import __version__

_logger = logging.getLogger(__name__)

OK = "ok"
"""Working normally."""
DEGRADED = "degraded"
"""Working, but it lost or could not write something recently (see ``last_error``)."""
FAILING = "failing"
"""Its last attempt failed: what it is given now is held back (durable export) or lost (the store)."""
STATES = (OK, DEGRADED, FAILING)

_lock = threading.Lock()
_reported_dropped: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_metered: weakref.WeakSet[Any] = weakref.WeakSet()


@dataclass(frozen=True)
class ComponentStatus:
    """The state of one component, as :func:`status` returns it.

    Attributes:
        name: The component: ``exporter.traces``, ``exporter.metrics`` or ``exporter.logs``.
        kind: What it is: ``sqlite-store`` (the embedded store) or ``durable-otlp`` (OTLP behind the
            on-disk spool).
        target: Where it writes: the store's file, or the collector's endpoint.
        state: ``ok``, ``degraded`` or ``failing`` (see :data:`STATES`).
        last_error: The last failure, one line (``None`` if none so far).
        last_error_time_unix_nano: When it happened, Unix nanoseconds (``None`` if none).
        counts: Counters since the process started (a forked child starts from zero): always
            ``dropped`` (items lost for good); ``written`` and ``errors`` (failed transactions) for
            the store; ``delivered`` and ``backlog`` (items not yet acknowledged) for durable export.
        time_unix_nano: When this status was read, Unix nanoseconds.

    Example:
        >>> ComponentStatus("exporter.traces", "sqlite-store", "/tmp/t.db", "ok", None, None, {"dropped": 0}, 0).state
        'ok'
    """

    name: str
    kind: str
    target: str
    state: str
    last_error: str | None
    last_error_time_unix_nano: int | None
    counts: Mapping[str, int] = field(default_factory=dict)
    time_unix_nano: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the same keys as the attributes.

        Example:
            >>> ComponentStatus("exporter.logs", "sqlite-store", "t.db", "ok", None, None, {}, 1).as_dict()["state"]
            'ok'
        """
        result = asdict(self)
        result["counts"] = dict(self.counts)
        return result


def exporters_of(extras: Mapping[str, Any]) -> dict[str, Any]:
    """Component name -> exporter, for the exporters a configuration's ``extras`` hold.

    ``exporter.<signal>`` for a signal's (first) exporter, ``exporter.<signal>.<n>`` for the n-th
    further one.
    """
    found: dict[str, Any] = {}
    every = extras.get("exporters_all")
    if isinstance(every, Mapping):
        for signal, exporters in every.items():
            for i, exporter in enumerate(exporters):
                found[f"exporter.{signal}" if i == 0 else f"exporter.{signal}.{i}"] = exporter
        return found
    first = extras.get("exporters")
    if isinstance(first, Mapping):
        for signal, exporter in first.items():
            found[f"exporter.{signal}"] = exporter
    return found


def _exporters() -> dict[str, Any]:
    return exporters_of(state.current().extras)


def _read(name: str, exporter: Any, now: int) -> ComponentStatus | None:
    try:
        reported = exporter.status
    except AttributeError:
        return None  # an exporter without a status (plain OTLP): nothing to say about it
    except Exception as exc:  # a broken status must not break the caller (health checks, metrics)
        _logger.debug("infertel: reading the status of %s failed: %r", name, exc)
        return None
    if not isinstance(reported, Mapping):
        return None
    counts = reported.get("counts") or {}
    state = reported.get("state")
    return ComponentStatus(
        name=name,
        kind=str(reported.get("kind") or type(exporter).__name__),
        target=str(reported.get("target") or ""),
        state=state if state in STATES else DEGRADED,
        last_error=reported.get("last_error"),
        last_error_time_unix_nano=reported.get("last_error_time_unix_nano"),
        counts={str(k): int(v) for k, v in counts.items()},
        time_unix_nano=now,
    )


def components(exporters: Mapping[str, Any] | None = None) -> dict[str, ComponentStatus]:
    """The status of each exporter in ``exporters`` (name -> exporter; default: the configuration in force)."""
    now = time.time_ns()
    found: dict[str, ComponentStatus] = {}
    for name, exporter in sorted((exporters if exporters is not None else _exporters()).items()):
        read = _read(name, exporter, now)
        if read is not None:
            found[name] = read
    return found


def status() -> dict[str, ComponentStatus]:
    """The state of every component ``configure()`` installed that reports one, by name.

    Each value is a :class:`ComponentStatus`: ``state`` is ``ok``, ``degraded`` or ``failing``,
    ``last_error`` the last failure (with ``last_error_time_unix_nano``) and ``counts`` what it
    wrote, delivered and lost. Before ``configure()`` and after ``shutdown()`` it is empty. A
    plain OTLP exporter (``INFERTEL_DURABLE=off``) reports nothing: the SDK keeps its outcome.

    Example:
        >>> import infertel
        >>> infertel.configure(store_path="/tmp/infertel-status.db")  # doctest: +SKIP
        >>> infertel.status()["exporter.traces"].state  # doctest: +SKIP
        'ok'
        >>> {name: s.as_dict() for name, s in infertel.status().items()}  # JSON-ready  # doctest: +SKIP
    """
    return components()


def flush_verdict(extras: Mapping[str, Any]) -> bool:
    """``False`` when an exporter of a configuration lost items since the previous verdict (one log line then).

    ``shutdown()`` calls this with the configuration's ``extras`` after flushing: a lost span,
    metric point or log record is never reported as a clean shutdown.
    """
    exporters = exporters_of(extras)
    losses: list[str] = []
    for name, current in components(exporters).items():
        exporter = exporters[name]
        dropped = current.counts.get("dropped", 0)
        with _lock:
            try:
                before = _reported_dropped.get(exporter, 0)
                _reported_dropped[exporter] = dropped
            except TypeError:  # not weak-referenceable: judge by the total
                before = 0
        if dropped > before:
            where = f" to {current.target}" if current.target else ""
            error = f" (last error: {current.last_error})" if current.last_error else ""
            losses.append(f"{name} lost {dropped - before} items{where}{error}")
    if losses:
        _logger.warning("infertel: telemetry was lost: %s", "; ".join(losses))
    return not losses


# --- metrics ---------------------------------------------------------------------------------


def _observations(counter: str, kinds: Iterable[str] | None) -> list[Any]:
    found = []
    for current in components().values():
        if kinds is not None and current.kind not in kinds:
            continue
        value = current.counts.get(counter)
        if value is not None:
            signal = current.name.split(".")[1]
            found.append(
                Observation(value, {semconv.INFERTEL_COMPONENT: current.kind, semconv.INFERTEL_SIGNAL: signal})
            )
    return found


def report_metrics_to(meter_provider: Any) -> None:
    """Register ``infertel.export.dropped`` and ``infertel.store.errors`` on ``meter_provider`` (once).

    Both are observable counters over :func:`status`, by ``infertel.component`` (the kind) and
    ``infertel.signal``.
    """
    if meter_provider is None:
        return
    with _lock:
        try:
            if meter_provider in _metered:
                return
            _metered.add(meter_provider)
        except TypeError:
            return
    meter = meter_provider.get_meter(semconv.INSTRUMENTATION_SCOPE, __version__, schema_url=semconv.SCHEMA_URL)
    meter.create_observable_counter(
        semconv.INFERTEL_EXPORT_DROPPED,
        [lambda _options: _observations("dropped", None)],
        unit=semconv.UNIT_ITEMS,
        description="Spans, metric points and log records an exporter lost for good.",
    )
    meter.create_observable_counter(
        semconv.INFERTEL_STORE_ERRORS,
        [lambda _options: _observations("errors", ("sqlite-store",))],
        unit=semconv.UNIT_ERRORS,
        description="Write transactions of the embedded store that failed.",
    )


def reset_after_fork() -> None:
    """In a forked child (the at-fork hook of :mod:`infertel._internal.forking`): nothing lost here yet."""
    global _reported_dropped
    _reported_dropped = weakref.WeakKeyDictionary()
