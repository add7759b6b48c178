"""The ordered, bounded flush behind ``infertel.shutdown()`` (also at exit and on SIGTERM).

In this order, within one time budget:

1. streams still open end with ``infertel.stream.end_reason="shutdown"`` (and streams handed to
   the reaper end with their own reason), so a stream referenced at exit is stored;
2. every signal is flushed, at the same time: spans and log records through their providers; the
   MeterProvider's last collection (shutting down a provider ``configure()`` created collects once
   more), while the statistics gauges and resource metrics still report, so even a process that
   lived a few seconds stores them;
3. only then are components stopped: infertel's processors, the providers ``configure()`` created,
   the Prometheus endpoint, the statistics and resource collectors;
4. the exporters' own counts are read (:func:`infertel._internal.status.flush_verdict`): anything
   they lost makes the verdict ``False``, and so does what an SDK batch processor dropped from a
   full queue before an exporter that counts what it received (:func:`queue_losses`).

The SDK's flush and shutdown calls do not all honour a timeout (``BatchSpanProcessor.force_flush``
exports until its queue is empty, an exporter may block forever), so each step runs on a daemon
helper thread that the caller waits for until the step's deadline, never longer. A step still
running then is reported and left behind; the steps after it still run. Problems are logged in one
warning line naming each step and where its data was going.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider as SDKLoggerProvider
from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider

from infertel import semconv
from infertel._internal import components, logs, providers

_logger = logging.getLogger(__name__)

_STREAMS_SHARE = 0.25
"""Part of the budget open streams may take (a blocking span processor must not eat the flush's time)."""
_FLUSH_SHARE = 0.8
"""Part of the budget by which the flush phase ends; the rest is for stopping components."""


def left_millis(deadline: float) -> int:
    """Milliseconds left until ``deadline`` (``time.monotonic()``), at least 0."""
    return max(0, int((deadline - time.monotonic()) * 1000))


class Steps:
    """Runs named steps on helper threads, each waited for until a deadline; collects what went wrong.

    Threading: used by one thread (the one shutting down); each step runs on its own daemon thread.
    A step that raises, returns ``False`` or is still running at its deadline is a problem.

    Example:
        >>> steps = Steps()
        >>> steps.run([("a step", lambda: True)], time.monotonic() + 1.0)
        True
        >>> steps.problems
        []
    """

    def __init__(self) -> None:
        self.problems: list[str] = []

    def run(self, steps: Sequence[tuple[str, Callable[[], Any]]], deadline: float) -> bool:
        """Run ``steps`` at the same time; ``True`` if each returned (not ``False``) by ``deadline``."""
        outcomes: list[list[Any]] = []
        threads: list[threading.Thread | None] = []
        for _what, fn in steps:
            outcome: list[Any] = []
            outcomes.append(outcome)
            thread: threading.Thread | None = threading.Thread(
                target=_capture, args=(fn, outcome), name="infertel-shutdown", daemon=True
            )
            try:
                thread.start()  # type: ignore[union-attr]
            except RuntimeError:  # no new threads (interpreter finalizing): run it here, unbounded
                _capture(fn, outcome)
                thread = None
            threads.append(thread)
        ok = True
        for (what, _fn), thread, outcome in zip(steps, threads, outcomes, strict=True):
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
            if not outcome:
                self.problems.append(f"{what} did not finish in time")
                ok = False
            elif isinstance(outcome[0], BaseException):
                self.problems.append(f"{what} failed: {outcome[0]!r}")
                ok = False
            elif outcome[0] is False:
                self.problems.append(f"{what} did not complete")
                ok = False
        return ok


def _capture(fn: Callable[[], Any], outcome: list[Any]) -> None:
    try:
        outcome.append(fn())
    except BaseException as exc:  # reported by the waiting thread, never raised on this helper
        outcome.append(exc)


def _where(cfg: Any, signal: str) -> str:
    """Where ``signal``'s data goes, for the log line: the exporter's target, else its class."""
    exporter = (cfg.extras.get("exporters") or {}).get(signal)
    if exporter is None:
        return "the provider's own exporters"
    return _where_exporter(exporter)


def end_streams(steps: Steps, deadline: float) -> bool:
    """End every stream still open with ``shutdown`` (handed-over ones with their own reason)."""
    from infertel._internal.instrument import reaper

    def end() -> bool:
        _ended, left = reaper.end_open(semconv.STREAM_END_SHUTDOWN, deadline)
        return left == 0

    return steps.run([("ending the streams still open", end)], deadline)


def shutdown_meter(cfg: Any, deadline: float, steps: Steps | None = None) -> bool:
    """The MeterProvider's last collection: shut down if ``configure()`` created it, else flushed."""
    steps = steps if steps is not None else Steps()
    return steps.run(_meter_steps(cfg, deadline), deadline) and _stop_prometheus(cfg, steps, deadline)


def _meter_steps(cfg: Any, deadline: float) -> list[tuple[str, Callable[[], Any]]]:
    provider = cfg.meter_provider
    if provider is None:
        return []
    where = _where(cfg, "metrics")
    owned, cfg.owns_meter = cfg.owns_meter, False
    if owned:
        return [(f"metrics shutdown ({where})", lambda: provider.shutdown(timeout_millis=left_millis(deadline)))]
    if hasattr(provider, "force_flush"):
        return [(f"metrics flush ({where})", lambda: provider.force_flush(left_millis(deadline)))]
    return []


def _stop_prometheus(cfg: Any, steps: Steps, deadline: float) -> bool:
    endpoint, cfg.prometheus = cfg.prometheus, None
    if endpoint is None:
        return True
    return steps.run([("stopping the Prometheus endpoint", endpoint.stop)], deadline)


def _pairs(cfg: Any) -> list[tuple[str, Any, bool, Any]]:
    found = []
    for signal, provider, owned, hub_of in (
        ("traces", cfg.tracer_provider, cfg.owns_tracer, providers.span_hub),
        ("logs", cfg.logger_provider, cfg.owns_logger, providers.log_hub),
    ):
        if isinstance(provider, (SDKTracerProvider, SDKLoggerProvider)):
            found.append((signal, provider, owned, hub_of))
    return found


def teardown(cfg: Any, deadline: float, steps: Steps | None = None) -> bool:
    """Flush every signal of ``cfg``, then stop its components (phases 2 and 3 of the module docstring).

    Returns ``False`` if a step failed or did not finish by ``deadline``; the problems are in ``steps``.
    """
    steps = steps if steps is not None else Steps()
    start = time.monotonic()
    flush_deadline = start + max(0.0, deadline - start) * _FLUSH_SHARE
    logs.detach()
    flushes: list[tuple[str, Callable[[], Any]]] = [
        (f"{signal} flush ({_where(cfg, signal)})", _flusher(provider, flush_deadline))
        for signal, provider, _owned, _hub_of in _pairs(cfg)
    ]
    # The meter's last collection, with the statistics gauges and resource metrics still reporting.
    ok = steps.run(flushes + _meter_steps(cfg, flush_deadline), flush_deadline)
    stops: list[tuple[str, Callable[[], Any]]] = [
        ("stopping statistics and resource metrics", lambda: components.shut_down(cfg.extras))
    ]
    for signal, provider, owned, hub_of in _pairs(cfg):
        stops.append((f"{signal} shutdown ({_where(cfg, signal)})", _stopper(provider, owned, hub_of, deadline)))
    ok = steps.run(stops, deadline) and ok
    return _stop_prometheus(cfg, steps, deadline) and ok


def _flusher(provider: Any, deadline: float) -> Callable[[], Any]:
    return lambda: provider.force_flush(left_millis(deadline))


def _stopper(provider: Any, owned: bool, hub_of: Any, deadline: float) -> Callable[[], None]:
    def stop() -> None:
        # Our processors go in both cases; the provider itself only when configure() created it.
        hub_of(provider).shutdown()
        if owned:
            provider.shutdown()

    return stop


def queue_losses(cfg: Any) -> list[str]:
    """What the SDK's batch processors dropped because their queue was full, per exporter.

    A ``BatchSpanProcessor`` / ``BatchLogRecordProcessor`` drops silently when its queue is full.
    After the stop phase every item the hub forwarded to it has been exported, so an exporter that
    counts what it received (the store: ``counts["received"]``) shows the difference. Exporters that
    count nothing (console, plain OTLP, the user's) cannot be judged this way; the durable span
    processor never drops silently (its exporter counts its own losses).
    """
    losses: list[str] = []
    every = cfg.extras.get("exporters_all") or {}
    for signal, provider, _owned, hub_of in _pairs(cfg):
        forwarded = hub_of(provider).retired_forwarded
        for exporter in every.get(signal, ()):
            if signal == "traces" and hasattr(exporter, "report_metrics_to"):
                continue
            try:
                received = int(exporter.status["counts"]["received"])
            except Exception:  # nothing to compare with
                continue
            if forwarded > received:
                variable = "OTEL_BSP_MAX_QUEUE_SIZE" if signal == "traces" else "OTEL_BLRP_MAX_QUEUE_SIZE"
                losses.append(
                    f"the {signal} batch processor dropped {forwarded - received} items before "
                    f"{_where_exporter(exporter)} (its queue was full: raise {variable})"
                )
    return losses


def _where_exporter(exporter: Any) -> str:
    try:
        target = exporter.status.get("target")
    except Exception:
        target = None
    name = type(exporter).__name__
    return f"{name} to {target}" if target else name


def verdict(cfg: Any, steps: Steps, deadline: float) -> bool:
    """What the exporters lost (one line, by :mod:`~infertel._internal.status`), then the steps' problems."""
    from infertel._internal import status

    lost = steps.run([("checking for lost telemetry", lambda: status.flush_verdict(cfg.extras))], deadline)
    dropped = queue_losses(cfg)
    if dropped:
        _logger.warning("infertel: telemetry was lost: %s", "; ".join(dropped))
        lost = False
    problems = [p for p in steps.problems if not p.startswith("checking for lost telemetry did not complete")]
    if problems:
        _logger.warning("infertel: shutdown incomplete: %s", "; ".join(problems))
    return lost and not problems
