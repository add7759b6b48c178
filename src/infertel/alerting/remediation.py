"""Remediation hooks: actions attached to alert rules, run when an alert fires (and on resolve).

An :class:`Action` is what a rule's ``actions=[...]`` holds. The engine calls
:meth:`Action.on_fire` / :meth:`Action.on_resolve` on its evaluation thread; the action only hands
the run to its own daemon thread and returns, so nothing it does delays evaluation. Each run has
a time limit, fire runs a rate limit (resolve runs always run: they undo), and ``dry_run`` only
records what would have been done. Every run is recorded three ways: a span
(``infertel.remediation <name>``), an entry in the alert's history (``engine.record``, once the
engine attached itself) and :attr:`Action.runs`. A run that fails or times out is escalated: a
notification (the alert, with a ``remediation`` annotation) goes to the ``escalate_to`` channels.

Built-ins: :func:`shed_load` (the FastAPI instrumentation answers 503 with ``Retry-After`` on
the inference routes while the alert fires), :func:`collect_garbage` (``gc.collect()`` and cache
callbacks such as ``torch.cuda.empty_cache``), :func:`scale_request` (a webhook to an autoscaler).

Example:
    >>> from infertel.alerting import ThresholdRule
    >>> from infertel.alerting.remediation import shed_load
    >>> rule = ThresholdRule("Overloaded", signal="in_flight", threshold=64, actions=[shed_load(retry_after_s=10)])
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from infertel import semconv
from infertel._internal.errors import warn_rate_limited
from infertel.alerting._runs import BUSY, DRY_RUN, FAILED, OK, OUTCOMES, RATE_LIMITED, TIMEOUT, Run, execute
from infertel.version import __version__

_logger = logging.getLogger(__name__)

MAX_RUNS_KEPT = 100
"""Runs kept in :attr:`Action.runs` (the newest)."""


class Action:
    """A remediation attached to alert rules (``ThresholdRule(..., actions=[Action(...)])``).

    Threading and exceptions: :meth:`on_fire` and :meth:`on_resolve` return at once and never
    raise; runs happen one at a time on the action's daemon thread (a queue of 64 at most; more
    are dropped and counted in :attr:`dropped`), each on a fresh thread under its time limit.
    ``fire`` and ``resolve`` raising is a ``failed`` run, recorded and escalated.

    Args:
        name: The action's name (span, history).
        fire: Called with the :class:`~infertel.alerting.Alert` when it fires.
        resolve: Called with the alert when it resolves (only if given or ``run_on_resolve``).
        timeout_millis: Time limit of one run.
        max_runs: Fire runs allowed per ``per_s`` seconds (across the alerts of the rule); more are
            recorded as ``rate_limited`` and not run.
        per_s: The rate-limit window.
        dry_run: Record what would be done, do nothing.
        escalate_to: Channels notified when a run fails or times out.
        tracer_provider: Where the spans go (default: the global provider).
        describe: Words for the dry-run record ("shed load for 30 s").

    Example:
        >>> restart = Action("restart-worker", fire=lambda alert: "restarted", max_runs=1, per_s=600)
        >>> restart.on_fire(alert)  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str,
        *,
        fire: Callable[[Any], Any] | None = None,
        resolve: Callable[[Any], Any] | None = None,
        timeout_millis: float = 10_000,
        max_runs: int = 3,
        per_s: float = 3_600.0,
        dry_run: bool = False,
        escalate_to: Sequence[Any] = (),
        tracer_provider: Any = None,
        describe: str = "",
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"Action name: {name!r}; expected a non-empty string")
        if fire is None and resolve is None:
            raise ValueError(f"Action {name!r}: give fire= and/or resolve=")
        if not (isinstance(timeout_millis, (int, float)) and timeout_millis > 0):
            raise ValueError(f"Action {name!r}: timeout_millis={timeout_millis!r}; expected a number > 0")
        if not isinstance(max_runs, int) or max_runs < 1 or not per_s > 0:
            raise ValueError(
                f"Action {name!r}: max_runs={max_runs!r}, per_s={per_s!r}; expected an integer >= 1 and > 0"
            )
        self.name = name
        self._fire, self._resolve = fire, resolve
        self.timeout_s = timeout_millis / 1000
        self.max_runs, self.per_s = max_runs, float(per_s)
        self.dry_run = dry_run
        self.escalate_to = list(escalate_to)
        self.describe = describe
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer(
            semconv.INSTRUMENTATION_SCOPE, __version__, schema_url=semconv.SCHEMA_URL
        )
        self._record: Callable[..., Any] | None = None
        self._lock = threading.Lock()
        self._fired_at: deque[float] = deque()
        self._queue: deque[tuple[str, Any]] = deque()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._running = 0
        self.runs: deque[Run] = deque(maxlen=MAX_RUNS_KEPT)
        """The newest runs, oldest first."""
        self.dropped = 0
        """Runs not queued because 64 were already waiting."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # -- the engine's side --------------------------------------------------------------------
    def attach(self, engine: Any) -> None:
        """Record runs in ``engine``'s alert history (``engine.record(fingerprint, kind, message)``).

        Example:
            >>> Action("noop", fire=lambda a: None).attach(engine)  # doctest: +SKIP
        """
        self._record = getattr(engine, "record", None)

    def on_fire(self, alert: Any) -> None:
        """The alert fired: queue a fire run (rate limited). Never blocks, never raises."""
        if self._fire is not None:
            self._enqueue("fire", alert)

    def on_resolve(self, alert: Any) -> None:
        """The alert resolved: queue a resolve run (never rate limited). Never blocks, never raises."""
        if self._resolve is not None:
            self._enqueue("resolve", alert)

    def wait(self, timeout_millis: float = 10_000) -> bool:
        """Wait until no run is queued or running; ``False`` on timeout (tests, shutdown).

        Example:
            >>> Action("noop", fire=lambda a: None).wait()
            True
        """
        deadline = time.monotonic() + timeout_millis / 1000
        with self._wake:
            while self._queue or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.wait(min(remaining, 0.05))
        return True

    # -- internals ----------------------------------------------------------------------------
    def _enqueue(self, trigger: str, alert: Any) -> None:
        with self._lock:
            if len(self._queue) >= 64:
                self.dropped += 1
                full = True
            else:
                full = False
                self._queue.append((trigger, alert))
                self._wake.notify_all()
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._work, name=f"infertel-remediation-{self.name}", daemon=True
                    )
                    self._thread.start()
        if full:
            warn_rate_limited(
                ("remediation-full", self.name),
                "infertel alerting: action %s has 64 runs waiting; one was dropped",
                self.name,
            )

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    if not self._wake.wait(30):
                        self._thread = None  # idle: the next run starts a fresh thread
                        return
                trigger, alert = self._queue.popleft()
                self._running += 1
            try:
                self._run(trigger, alert)
            finally:
                with self._wake:
                    self._running -= 1
                    self._wake.notify_all()

    def _allowed(self) -> bool:
        now = time.monotonic()
        while self._fired_at and now - self._fired_at[0] >= self.per_s:
            self._fired_at.popleft()
        if len(self._fired_at) >= self.max_runs:
            return False
        self._fired_at.append(now)
        return True

    def _run(self, trigger: str, alert: Any) -> None:
        fingerprint = str(getattr(alert, "fingerprint", ""))
        attributes = {
            semconv.INFERTEL_ALERT_NAME: str(getattr(alert, "name", "")),
            semconv.INFERTEL_ALERT_FINGERPRINT: fingerprint,
        }
        fn = self._fire if trigger == "fire" else self._resolve
        assert fn is not None
        if trigger == "fire" and not self._allowed():
            run = Run(
                self.name,
                trigger,
                fingerprint,
                RATE_LIMITED,
                f"more than {self.max_runs} run(s) in {self.per_s:g} s",
                time.time_ns(),
                0.0,
            )
            with self._tracer.start_as_current_span(
                f"infertel.remediation {self.name}", kind=SpanKind.INTERNAL, attributes=attributes
            ) as span:
                span.set_attribute(semconv.INFERTEL_REMEDIATION_ACTION, self.name)
                span.set_attribute(semconv.INFERTEL_REMEDIATION_TRIGGER, trigger)
                span.set_attribute(semconv.INFERTEL_REMEDIATION_OUTCOME, RATE_LIMITED)
        else:
            run = execute(
                lambda: fn(alert),
                name=self.name,
                trigger=trigger,
                subject=fingerprint,
                timeout_s=self.timeout_s,
                tracer=self._tracer,
                attributes=attributes,
                dry_run=self.dry_run,
                what=self.describe,
            )
        self.runs.append(run)
        self._history(
            fingerprint,
            "remediation",
            f"{self.name} ({trigger}): {run.outcome}" + (f": {run.message}" if run.message else ""),
        )
        if run.outcome in (FAILED, TIMEOUT):
            _logger.warning(
                "infertel alerting: action %s (%s) for %s: %s: %s",
                self.name,
                trigger,
                attributes[semconv.INFERTEL_ALERT_NAME],
                run.outcome,
                run.message,
            )
            self._escalate(alert, run)

    def _history(self, fingerprint: str, kind: str, message: str) -> None:
        if self._record is None:
            return
        try:
            self._record(fingerprint, kind, message)
        except Exception as exc:  # the engine's store failing must not stop remediation
            warn_rate_limited(
                ("remediation-history", self.name),
                "infertel alerting: recording a run of %s failed: %r",
                self.name,
                exc,
            )

    def _escalate(self, alert: Any, run: Run) -> None:
        if not self.escalate_to:
            return
        payload = escalation_payload(alert, run)
        for channel in self.escalate_to:
            channel.submit(payload)
        self._history(
            run.subject,
            "remediation_escalated",
            f"{self.name} {run.outcome}; notified {', '.join(getattr(c, 'name', '?') for c in self.escalate_to)}",
        )


def escalation_payload(alert: Any, run: Run) -> dict[str, Any]:
    """An Alertmanager webhook v4 payload telling that a remediation of ``alert`` failed.

    Example:
        >>> escalation_payload(alert, run)["commonAnnotations"]["remediation"]  # doctest: +SKIP
        'restart-worker failed: RuntimeError: no permission'
    """
    entry = dict(alert.to_webhook()) if hasattr(alert, "to_webhook") else {}
    labels = {**dict(entry.get("labels") or {}), "remediation": run.action}
    annotations = {**dict(entry.get("annotations") or {}), "remediation": f"{run.action} {run.outcome}: {run.message}"}
    entry.update(labels=labels, annotations=annotations)
    group = {"alertname": labels.get("alertname", ""), "remediation": run.action}
    return {
        "version": "4",
        "groupKey": "{}:" + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(group.items())) + "}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "remediation-escalation",
        "groupLabels": group,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [entry],
    }


from infertel.alerting._actions import collect_garbage, scale_request, shed_load  # noqa: E402  (they build Actions)

__all__ = [
    "BUSY",
    "DRY_RUN",
    "FAILED",
    "MAX_RUNS_KEPT",
    "OK",
    "OUTCOMES",
    "RATE_LIMITED",
    "TIMEOUT",
    "Action",
    "Run",
    "collect_garbage",
    "escalation_payload",
    "execute",
    "scale_request",
    "shed_load",
]
