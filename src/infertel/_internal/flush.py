"""``infertel.force_flush()``: export everything recorded so far, stopping nothing.

For the moments a process is about to end without running ``shutdown()``: a server's ASGI
``lifespan.shutdown`` (uvicorn workers under gunicorn end by a re-raised SIGTERM whose action is
the default one, so neither ``atexit`` nor infertel's SIGTERM flush runs afterwards), or an
application that ends with ``os._exit()``. Spans and log records are flushed through their
providers and the MeterProvider collects once (statistics gauges and resource metrics included)
and exports, all at the same time, each step bounded by the same deadline as in ``shutdown()``
(:class:`~infertel._internal.teardown.Steps`). Streams still open are left open: they are still
in use (``shutdown()`` ends them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

_logger = logging.getLogger(__name__)


def force_flush(*, timeout_millis: int = 30_000) -> bool:
    """Export the spans, log records and metrics recorded so far; components keep running.

    Without :func:`infertel.configure` (the OpenTelemetry SDK configured by other means), the
    global OpenTelemetry providers that can flush are flushed. Call it
    where a process may end without :func:`infertel.shutdown`; the FastAPI instrumentation calls
    it at the ASGI ``lifespan.shutdown``.

    Args:
        timeout_millis: Time budget for the whole flush; it returns by then whatever the
            exporters do.

    Returns:
        ``True`` if every signal was flushed in time; ``False`` otherwise, with one warning line
        naming each step that failed or did not finish and where its data was going.

    Example:
        >>> import infertel
        >>> infertel.force_flush(timeout_millis=5_000)
        True
    """
    from infertel._internal import configure, teardown

    cfg = configure._active
    deadline = time.monotonic() + max(0, timeout_millis) / 1000
    if cfg is None:
        flushes = _global_flushes(deadline)
    else:
        flushes = [
            (f"{signal} flush ({teardown._where(cfg, signal)})", teardown._flusher(provider, deadline))
            for signal, provider, _owned, _hub_of in teardown._pairs(cfg)
        ]
        meter = cfg.meter_provider
        if meter is not None and hasattr(meter, "force_flush"):
            flushes.append((f"metrics flush ({teardown._where(cfg, 'metrics')})", teardown._flusher(meter, deadline)))
    if not flushes:
        return True
    steps = teardown.Steps()
    if steps.run(flushes, deadline):
        return True
    _logger.warning("infertel: flush incomplete: %s", "; ".join(steps.problems))
    return False


def _global_flushes(deadline: float) -> list[tuple[str, Callable[[], Any]]]:
    """Flush steps for the global OpenTelemetry providers that have ``force_flush`` (SDK providers)."""
    from opentelemetry import _logs, metrics, trace

    from infertel._internal import teardown

    found: list[tuple[str, Callable[[], Any]]] = []
    for signal, provider in (
        ("traces", trace.get_tracer_provider()),
        ("metrics", metrics.get_meter_provider()),
        ("logs", _logs.get_logger_provider()),
    ):
        if callable(getattr(provider, "force_flush", None)):
            found.append((f"{signal} flush ({type(provider).__name__})", teardown._flusher(provider, deadline)))
    return found
