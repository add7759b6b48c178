"""The alert engine: evaluates rules on a background thread and drives lifecycle, hooks and routing."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from infertel.alerting._dispatch import Dispatcher, group_key, payload
from infertel.alerting._engine_thread import EngineThread
from infertel.alerting._expr import Scalar
from infertel.alerting._history import LOOKBACK_S, SeriesHistory, labels_of
from infertel.alerting._leader import LeaderLock
from infertel.alerting._persist import AlertStore
from infertel.alerting._routing import InhibitRule, Receiver, Route, Silence, matchers_of
from infertel.alerting._rules import AlertSpec, RecordingSpec, Rule
from infertel.alerting._slo import SLORule
from infertel.alerting._state import Alert, RuleState

_logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 15.0
FIRING_METRIC = "infertel.alerts.firing"


class AlertEngine(EngineThread):
    """Evaluates ``rules`` every ``interval_s`` and notifies receivers through ``route``.

    Threading: :meth:`start` runs evaluation and dispatch on one daemon thread (never on a request
    path); :meth:`evaluate` and :meth:`tick` may be called directly with an injected time instead
    (tests, the parity check). With a store file, the thread evaluates only while this process holds
    the store's leader lock (:mod:`._leader`): under a prefork server one engine per host notifies,
    the others retry every interval and take over when the leader dies; a follower's
    :meth:`alerts` are the store's. The public methods (silences, acknowledgements, :meth:`alerts`) are
    safe from any thread. Exceptions: a failing round is logged and the next round runs; a
    remediation action's exception is logged once per action and never stops the engine.

    Args:
        rules: The rules (disabled ones are skipped).
        source: ``collect(now)`` giving samples (default: a :class:`LiveSource`).
        dialect: ``"live"`` (series sampled in process) or ``"prometheus"`` (Prometheus' series names).
        interval_s: Seconds between rounds (default 15).
        route: Routing tree (default: everything to the first receiver).
        receivers: Receivers by name.
        inhibit_rules: Inhibition rules.
        store: Path of the SQLite file (or an :class:`AlertStore`) that keeps history, silences and
            acknowledgements; ``None``: in memory only.
        clock: Wall-clock seconds (injected in tests).
        meter_provider: Where ``infertel.alerts.firing`` is reported (``None``: no metric).
        external_url: ``externalURL`` of notifications.

    Example:
        >>> from infertel.alerting import ThresholdRule, ReplaySource
        >>> engine = AlertEngine([ThresholdRule("Hot", signal="cpu_utilization", threshold=0.8)],
        ...                      source=ReplaySource([("infertel_live_cpu_utilization", "0.9x3")]))
        >>> [a.state for a in engine.evaluate(0.0)]
        ['firing']
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        source: Any = None,
        dialect: str = "live",
        interval_s: float = DEFAULT_INTERVAL_S,
        route: Route | None = None,
        receivers: Sequence[Receiver] = (),
        inhibit_rules: Sequence[InhibitRule] = (),
        store: str | AlertStore | None = None,
        clock: Callable[[], float] = time.time,
        meter_provider: Any = None,
        external_url: str = "",
    ) -> None:
        if dialect not in ("live", "prometheus"):
            raise ValueError(f"dialect must be 'live' or 'prometheus'; got {dialect!r}")
        if not (isinstance(interval_s, (int, float)) and interval_s > 0):
            raise ValueError(f"alert evaluation interval must be a positive number of seconds; got {interval_s!r}")
        self.rules = [r for r in rules if r.enabled]
        self.interval_s = float(interval_s)
        self._clock = clock
        self._recordings: list[RecordingSpec] = []
        self._states: list[RuleState] = []
        for rule in self.rules:
            compiled = rule.compile(dialect)
            self._recordings.extend(r for r in compiled.recordings if r.in_process)
            self._states.extend(RuleState(spec) for spec in compiled.alerts)
        # Each series is kept as far back as some expression reads it, no further.
        lookbacks: dict[str, float] = {}
        for expr in [s.spec.expr for s in self._states] + [r.expr for r in self._recordings]:
            for name, seconds in expr.lookbacks().items():
                lookbacks[name] = max(lookbacks.get(name, 0.0), seconds)
        margin = 2 * self.interval_s
        self.series = SeriesHistory(
            retention_s=LOOKBACK_S + margin, retention_by_name={n: s + margin for n, s in lookbacks.items()}
        )
        if source is None:
            from infertel.alerting._sources import LiveSource

            thresholds = [r.latency_threshold_s for r in self.rules if isinstance(r, SLORule) and r.sli == "latency"]
            source = LiveSource(latency_thresholds_s=[t for t in thresholds if t is not None])
        if isinstance(source, (list, tuple)):
            from infertel.alerting._sources import CombinedSource

            source = CombinedSource(source)
        self.source = source
        if not receivers:
            receivers = [Receiver("default")]  # no channel: alerts are kept and recorded, nothing is sent
        self.receivers = {r.name: r for r in receivers}
        if route is None:
            route = Route(receivers[0].name)
        self.route = route.resolve()
        self.store = AlertStore(store) if isinstance(store, str) else store
        self._lock = threading.Lock()
        self._round_lock = threading.RLock()
        self._silences: list[Silence] = []
        self._acks: dict[str, dict[str, Any]] = self.store.acks() if self.store is not None else {}
        self.dispatcher = Dispatcher(self.route, self.receivers, inhibit_rules, muted_by_silence=self._silenced,
                                     acknowledged=self.acknowledged, record=self._record_alert,
                                     external_url=external_url)  # fmt: skip
        self._failed_actions: set[int] = set()
        for rule in self.rules:  # remediation actions write to the alert's history through the engine
            for action in rule.actions:
                attach = getattr(action, "attach", None)
                if attach is not None:
                    attach(self)
        self._notified_before: list[Alert] | None = None
        self._snapshot: list[Alert] = []
        if self.store is not None:
            self._restore()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._leader: LeaderLock | None = None
        self.rounds = 0
        if meter_provider is not None:
            self._register_metric(meter_provider)

    def now(self) -> float:
        """The engine's time now, Unix seconds: its ``clock`` (injected in tests and replays; else ``time.time``).

        Views that show the engine's alerts and silences use it, so "active" means what it means to the engine.

        Example:
            >>> AlertEngine([], clock=lambda: 42.0).now()
            42.0
        """
        return self._clock()

    # Evaluation --------------------------------------------------------------------------------
    def evaluate(self, now: float | None = None) -> list[Alert]:
        """Run one round at ``now`` (default the clock); returns every alert held after it."""
        with self._round_lock:  # a direct call never overlaps the thread's round
            return self._evaluate(self._clock() if now is None else now)

    def _evaluate(self, now: float) -> list[Alert]:
        if self._notified_before is not None:
            self.dispatcher.restore(self._notified_before, now)
            self._notified_before = None
        self.series.memo.clear()
        for name, labels, value, at in self.source.collect(now):
            self.series.append(labels_of(name, dict(labels)), at, float(value))
        for recording in self._recordings:
            extra = dict(recording.labels)
            result = (
                {(): recording.expr.value}
                if isinstance(recording.expr, Scalar)
                else recording.expr.eval(self.series, now)
            )
            for series, value in result.items():
                labels = {k: v for k, v in series if k != "__name__"}
                labels.update(extra)
                self.series.append(labels_of(recording.record, labels), now, value)
        events: list[tuple[str, Alert, AlertSpec]] = []
        for state in self._states:
            for event, alert in state.update(state.spec.expr.eval(self.series, now), now):
                events.append((event, alert, state.spec))
        self._refresh_silences(now)
        for event, alert, spec in events:
            self._record_alert(alert, event, "")
            if event == "firing":
                self._run_actions(spec, alert, "on_fire")
            elif event == "resolved":
                self._run_actions(spec, alert, "on_resolve")
                if alert.fingerprint in self._acks:
                    with self._lock:
                        self._acks.pop(alert.fingerprint, None)
                    if self.store is not None:
                        self.store.clear_ack(alert.fingerprint)
        current = self._snapshot = self._current()
        self.dispatcher.update([a for a in current if a.state != "pending"], now)
        self.series.prune(now)
        self.series.memo.clear()
        self.rounds += 1
        return current

    def _stored(self) -> list[Alert]:
        return [_alert_of(row) for row in (self.store.active() if self.store is not None else [])]

    def _restore(self) -> None:
        """Pending and firing alerts saved by a previous run: their ``for`` clock and notification carry on."""
        notified: list[Alert] = []
        for row in self.store.active() if self.store is not None else []:
            alert = _alert_of(row)
            if any(state.restore(alert) for state in self._states):
                if row["notified"] and alert.state == "firing":
                    notified.append(alert)
            else:
                self.store.forget_active(alert.fingerprint)  # its rule is gone
        self._notified_before = notified  # grouped as notified at the first round, at its time
        self._snapshot = self._current()

    def tick(self, now: float | None = None) -> None:
        """Flush the notification groups that are due at ``now``."""
        with self._round_lock:
            now = self._clock() if now is None else now
            firing = [a.labels for a in self._current() if a.state == "firing"]
            self.dispatcher.tick(now, firing)

    @property
    def leading(self) -> bool:
        """Whether this engine evaluates and notifies: not started, without a store file, or holding the lock."""
        return self._leader is None or self._leader.held

    def alerts(self) -> list[Alert]:
        """Pending, firing and recently resolved alerts, as of the end of the last round (any thread).

        In a process that does not lead, the pending and firing alerts the leader saved in the store.
        """
        if not self.leading:
            return self._stored()
        return list(self._snapshot)

    def _current(self) -> list[Alert]:
        return [alert for state in self._states for alert in state.alerts()]

    def _run_actions(self, spec: AlertSpec, alert: Alert, hook: str) -> None:
        for action in spec.rule.actions:
            method = getattr(action, hook, None)
            if method is None:
                continue
            try:
                method(alert)
            except Exception:  # a remediation bug must not stop evaluation
                if id(action) not in self._failed_actions:
                    self._failed_actions.add(id(action))
                    _logger.exception("alerting: action %r of rule %r failed in %s", action, spec.name, hook)
                self.record(alert.fingerprint, "action_failed", f"{type(action).__name__}.{hook} raised", alert=alert)

    # Silences and acknowledgements -------------------------------------------------------------
    def _refresh_silences(self, now: float) -> None:
        # Silences and acknowledgements another process wrote (the CLI, a standalone dashboard) count too.
        if self.store is not None:
            silences = self.store.silences(now=now)
            acks = self.store.acks()
            with self._lock:
                self._silences = silences
                self._acks = acks

    def _silenced(self, labels: Mapping[str, str], now: float) -> bool:
        with self._lock:
            return any(s.mutes(labels, now=now) for s in self._silences)

    def add_silence(self, matchers: Any, *, duration_s: float | None = None, ends_at: float | None = None,
                    created_by: str = "", comment: str = "", starts_at: float | None = None) -> str:  # fmt: skip
        """Mute alerts matching ``matchers`` (``['alertname="X"']`` or ``{"alertname": "X"}``); returns the id."""
        start = self._clock() if starts_at is None else starts_at
        end = ends_at if ends_at is not None else start + (duration_s if duration_s is not None else 3600.0)
        parsed = matchers_of(matchers)
        if self.store is not None:
            silence_id = self.store.add_silence(parsed, starts_at=start, ends_at=end, created_by=created_by,
                                                comment=comment)  # fmt: skip
            self._refresh_silences(self._clock())
            return silence_id
        if not parsed or not end > start:
            raise ValueError("silence: needs at least one matcher and an end after the start")
        silence = Silence(f"mem-{len(self._silences) + 1}", parsed, start, end, created_by, comment)
        with self._lock:
            self._silences.append(silence)
        return silence.id

    def expire_silence(self, silence_id: str) -> bool:
        """End a silence now; ``False`` when there is none with that id."""
        now = self._clock()
        if self.store is not None:
            done = self.store.expire_silence(silence_id, now=now)
            self._refresh_silences(now)
            return done
        with self._lock:
            for index, s in enumerate(self._silences):
                if s.id == silence_id and s.ends_at > now:
                    self._silences[index] = Silence(s.id, s.matchers, s.starts_at, now, s.created_by, s.comment)
                    return True
        return False

    def silences(self) -> list[Silence]:
        """Silences not yet ended."""
        now = self._clock()
        if self.store is not None:
            return self.store.silences(now=now)
        with self._lock:
            return [s for s in self._silences if s.ends_at > now]

    def acknowledge(self, fingerprint: str, *, by: str = "", comment: str = "") -> bool:
        """Acknowledge a firing alert: no repeats, no escalation until it resolves. ``False`` if unknown."""
        alert = next((a for a in self.alerts() if a.fingerprint == fingerprint and a.state == "firing"), None)
        if alert is None:
            return False
        now = self._clock()
        with self._lock:
            self._acks[fingerprint] = {"time_unix_nano": int(now * 1e9), "by": by, "comment": comment,
                                       "labels": dict(alert.labels)}  # fmt: skip
        if self.store is not None:
            self.store.acknowledge(fingerprint, time=now, by=by, comment=comment, labels=alert.labels)
        self.record(fingerprint, "acknowledged", f"by {by}: {comment}".strip(), alert=alert)
        self._acknowledge_channels(alert)
        return True

    def _acknowledge_channels(self, alert: Alert) -> None:
        # Channels that know acknowledgements (PagerDuty) hear of it; the others ignore it.
        for route in self.route.match(alert.labels):
            receiver = self.receivers.get(str(route.receiver))
            if receiver is None:
                continue
            group_by = route.group_by or ()
            labels = dict(alert.labels) if "..." in group_by else {k: alert.labels.get(k, "") for k in group_by}
            body = payload(receiver.name, group_key(route.key, labels), labels, [alert], self.dispatcher.external_url)
            for channel in receiver.channels:
                method = getattr(channel, "acknowledge", None)
                if method is None:
                    continue
                try:
                    method(body)
                except Exception:  # a channel's bug must not reach the caller
                    _logger.exception("alerting: channel %r failed to accept an acknowledgement", channel)

    def suppressed(self, alert: Alert) -> str | None:
        """Why ``alert`` is not being notified now: ``"silenced"``, ``"inhibited"``, ``"acknowledged"`` or ``None``.

        Example:
            >>> engine = AlertEngine([])
            >>> engine.suppressed(Alert("A", {"alertname": "A"}, {}, "firing", 1.0, 0.0, 0.0, None, "f"))
        """
        firing = [a.labels for a in self.alerts() if a.state == "firing"]
        reason = self.dispatcher.muted(alert, firing, self._clock())
        if reason is None and self.acknowledged(alert.fingerprint):
            return "acknowledged"
        return reason

    def acknowledged(self, fingerprint: str) -> bool:
        """Whether the alert is acknowledged."""
        with self._lock:
            return fingerprint in self._acks

    # History -----------------------------------------------------------------------------------
    def record(self, fingerprint: str, kind: str, message: str, *, alert: Alert | None = None) -> None:
        """Append an entry to an alert's history (remediation results, acknowledgements)."""
        if alert is None:
            alert = next((a for a in self.alerts() if a.fingerprint == fingerprint), None)
        if self.store is None:
            return
        self.store.record(time=self._clock(), fingerprint=fingerprint, alertname=alert.name if alert else "",
                          event=kind, state=alert.state if alert else "", labels=alert.labels if alert else {},
                          value=_finite(alert.value) if alert else None, message=message)  # fmt: skip

    def _record_alert(self, alert: Alert, event: str, message: str) -> None:
        self.record(alert.fingerprint, event, message, alert=alert)
        if self.store is None:
            return
        if event in ("pending", "firing"):
            self.store.save_active(fingerprint=alert.fingerprint, alertname=alert.name, labels=alert.labels,
                                   annotations=alert.annotations, state=alert.state, value=_finite(alert.value),
                                   active_at=alert.active_at, fired_at=alert.fired_at)  # fmt: skip
        elif event in ("resolved", "dropped"):
            self.store.forget_active(alert.fingerprint)
        elif event == "notified" and alert.state == "firing":
            self.store.mark_notified(alert.fingerprint)

    def history(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Stored history entries, newest first (empty without a store)."""
        return self.store.history(limit=limit) if self.store is not None else []

    def _register_metric(self, meter_provider: Any) -> None:
        from opentelemetry.metrics import CallbackOptions, Observation

        from infertel import semconv
        from infertel.version import __version__

        def observe(options: CallbackOptions) -> list[Observation]:
            counts: dict[tuple[str, str], int] = {}
            if not self.leading:  # the leading process reports them, once for the host
                return []
            for alert in self.alerts():
                if alert.state == "firing":
                    key = (alert.name, alert.severity)
                    counts[key] = counts.get(key, 0) + 1
            return [Observation(n, {"alertname": a, "severity": s}) for (a, s), n in sorted(counts.items())]

        meter = meter_provider.get_meter("infertel.alerting", __version__, schema_url=semconv.SCHEMA_URL)
        meter.create_observable_gauge(FIRING_METRIC, [observe], unit="{alert}", description="Alerts firing now")


def _alert_of(row: Mapping[str, Any]) -> Alert:
    return Alert(row["alertname"], row["labels"], row["annotations"], row["state"], row["value"], row["active_at"],
                 row["fired_at"], None, row["fingerprint"])  # fmt: skip


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
