"""One recorded run of an action (remediation or scheduled): a span, a time limit, an outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode

from infertel import semconv

OK, FAILED, TIMEOUT, DRY_RUN, RATE_LIMITED, BUSY = "ok", "failed", "timeout", "dry_run", "rate_limited", "busy"
OUTCOMES = (OK, FAILED, TIMEOUT, DRY_RUN, RATE_LIMITED, BUSY)
"""What a run can come to (``infertel.remediation.outcome``)."""


@dataclass(frozen=True)
class Run:
    """One recorded run of an action.

    Attributes:
        action: The action's name.
        trigger: ``fire``, ``resolve`` or ``schedule``.
        subject: The alert's fingerprint, or ``schedule:<name>``.
        outcome: One of :data:`OUTCOMES`.
        message: What it did or why it failed (the function's return value as text, or the error).
        start_unix_nano: When it started, Unix nanoseconds.
        duration_s: How long it took.
    """

    action: str
    trigger: str
    subject: str
    outcome: str
    message: str
    start_unix_nano: int
    duration_s: float


def execute(
    fn: Callable[[], Any],
    *,
    name: str,
    trigger: str,
    subject: str,
    timeout_s: float,
    tracer: Any,
    attributes: Mapping[str, Any],
    dry_run: bool = False,
    what: str = "",
) -> Run:
    """Run ``fn`` on a fresh daemon thread under ``timeout_s`` inside a span; the recorded :class:`Run`.

    Shared by remediation and scheduled actions. ``fn``'s exception becomes a ``failed`` run
    (never raised); a run past its time becomes ``timeout`` (the thread is left to finish).
    """
    start_ns, started = time.time_ns(), time.perf_counter()
    span_attributes = {
        semconv.INFERTEL_REMEDIATION_ACTION: name,
        semconv.INFERTEL_REMEDIATION_TRIGGER: trigger,
        semconv.INFERTEL_REMEDIATION_DRY_RUN: dry_run,
        **attributes,
    }
    with tracer.start_as_current_span(
        f"infertel.remediation {name}",
        kind=SpanKind.INTERNAL,
        attributes=span_attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        if dry_run:
            outcome, message = DRY_RUN, f"dry run: would {what or 'run ' + name}"
        else:
            box: dict[str, Any] = {}

            def target() -> None:
                try:
                    box["value"] = fn()
                except Exception as exc:  # the action's failure is data, recorded below
                    box["error"] = exc

            worker = threading.Thread(target=target, name=f"infertel-action-{name}", daemon=True)
            worker.start()
            worker.join(timeout_s)
            if worker.is_alive():
                outcome, message = TIMEOUT, f"timed out after {timeout_s:g} s"
            elif "error" in box:
                error = box["error"]
                outcome, message = FAILED, f"{type(error).__name__}: {error}"[:300]
                span.set_attribute(semconv.ERROR_TYPE, type(error).__qualname__)
            else:
                value = box.get("value")
                outcome, message = OK, "" if value is None else str(value)[:300]
        span.set_attribute(semconv.INFERTEL_REMEDIATION_OUTCOME, outcome)
        if outcome in (FAILED, TIMEOUT):
            if outcome == TIMEOUT:
                span.set_attribute(semconv.ERROR_TYPE, "timeout")
            span.set_status(Status(StatusCode.ERROR, message))
    return Run(name, trigger, subject, outcome, message, start_ns, time.perf_counter() - started)
