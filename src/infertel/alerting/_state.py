"""Alert lifecycle as Prometheus runs it: pending -> firing -> resolved, with ``for`` and ``keep_firing_for``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from infertel.alerting import _templates
from infertel.alerting._expr import Vector
from infertel.alerting._rules import AlertSpec

RESOLVED_RETENTION_S = 900.0
"""A resolved alert is kept (and re-sent as resolved) this long, as Prometheus does."""

TIME_SLACK_S = 1e-3
"""``for`` and ``keep_firing_for`` count as elapsed 1 ms early: rounds planned exactly ``interval`` apart still
read their times from the clock a few microseconds apart (Prometheus compares whole milliseconds)."""

ZERO_TIME = "0001-01-01T00:00:00Z"


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable 16-hex-digit identity of a label set.

    Example:
        >>> fingerprint({"alertname": "A"}) == fingerprint({"alertname": "A"})
        True
    """
    text = "\xff".join(f"{k}\xfe{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rfc3339(seconds: float | None) -> str:
    """UTC RFC 3339 text of a Unix time (``ZERO_TIME`` for ``None``).

    Example:
        >>> rfc3339(0.0)
        '1970-01-01T00:00:00Z'
    """
    if seconds is None:
        return ZERO_TIME
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    micros = moment.microsecond
    return text + (f".{micros:06d}".rstrip("0") if micros else "") + "Z"


@dataclass(frozen=True)
class Alert:
    """One alert instance (a rule and a label set) at one moment.

    Attributes:
        name: The alert name.
        labels: All labels (``alertname`` and ``severity`` included).
        annotations: Rendered annotations.
        state: ``"pending"``, ``"firing"`` or ``"resolved"``.
        value: The expression's value at the last evaluation.
        active_at: Unix seconds the condition first held.
        fired_at: Unix seconds it started firing, if it did.
        resolved_at: Unix seconds it resolved, if it did.
        fingerprint: Identity of the label set.

    Example:
        >>> a = Alert("A", {"alertname": "A", "severity": "page"}, {}, "firing", 1.0, 0.0, 0.0, None, "f")
        >>> a.to_webhook()["status"], a.severity
        ('firing', 'page')
    """

    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: str
    value: float | None
    active_at: float
    fired_at: float | None
    resolved_at: float | None
    fingerprint: str
    generator_url: str = ""

    @property
    def severity(self) -> str:
        """The ``severity`` label."""
        return self.labels.get("severity", "")

    @property
    def active_at_ns(self) -> int:
        """``active_at`` in Unix nanoseconds."""
        return int(self.active_at * 1e9)

    @property
    def fired_at_ns(self) -> int | None:
        """``fired_at`` in Unix nanoseconds."""
        return None if self.fired_at is None else int(self.fired_at * 1e9)

    @property
    def resolved_at_ns(self) -> int | None:
        """``resolved_at`` in Unix nanoseconds."""
        return None if self.resolved_at is None else int(self.resolved_at * 1e9)

    def to_webhook(self) -> dict[str, object]:
        """This alert as one entry of the Alertmanager webhook payload's ``alerts``."""
        return {
            "status": "resolved" if self.state == "resolved" else "firing",
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": rfc3339(self.fired_at if self.fired_at is not None else self.active_at),
            "endsAt": rfc3339(self.resolved_at),
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }


@dataclass
class _Active:
    alert: Alert
    keep_firing_since: float | None = None


@dataclass
class RuleState:
    """The active alerts of one alerting rule; :meth:`update` applies one evaluation.

    Example:
        >>> from infertel.alerting._rules import ThresholdRule
        >>> spec = ThresholdRule("Hot", signal="cpu_utilization", threshold=0.8, for_s=60).compile("live").alerts[0]
        >>> state = RuleState(spec)
        >>> [e[0] for e in state.update({(): 0.9}, 0.0)], [e[0] for e in state.update({(): 0.9}, 60.0)]
        (['pending'], ['firing'])
    """

    spec: AlertSpec
    active: dict[str, _Active] = field(default_factory=dict)

    def update(self, result: Vector, now: float) -> list[tuple[str, Alert]]:
        """Apply the rule's result at ``now``; returns the transitions ``(event, alert)``.

        Events: ``"pending"``, ``"firing"``, ``"resolved"``, ``"dropped"`` (pending and gone).
        """
        spec = self.spec
        events: list[tuple[str, Alert]] = []
        seen: set[str] = set()
        for series, value in result.items():
            labels = {k: v for k, v in series if k != "__name__"}
            labels.update(spec.labels)
            labels["alertname"] = spec.name
            annotations = {k: _templates.expand(t, labels, value) for k, t in spec.annotations.items()}
            fp = fingerprint(labels)
            seen.add(fp)
            entry = self.active.get(fp)
            if entry is None or entry.alert.state == "resolved":
                alert = Alert(spec.name, labels, annotations, "pending", value, now, None, None, fp)
                entry = self.active[fp] = _Active(alert)
                events.append(("pending", alert))
            else:
                entry.alert = replace(entry.alert, value=value, annotations=annotations)
                entry.keep_firing_since = None
            if entry.alert.state == "pending" and now - entry.alert.active_at >= spec.for_s - TIME_SLACK_S:
                entry.alert = replace(entry.alert, state="firing", fired_at=now)
                events.append(("firing", entry.alert))
        for fp, entry in list(self.active.items()):
            if fp in seen:
                continue
            alert = entry.alert
            if alert.state == "resolved":
                if alert.resolved_at is not None and now - alert.resolved_at > RESOLVED_RETENTION_S:
                    del self.active[fp]
                continue
            if alert.state == "pending":
                del self.active[fp]
                events.append(("dropped", alert))
                continue
            if spec.keep_firing_for_s > 0:
                if entry.keep_firing_since is None:
                    entry.keep_firing_since = now
                if now - entry.keep_firing_since < spec.keep_firing_for_s - TIME_SLACK_S:
                    continue
            entry.alert = replace(alert, state="resolved", resolved_at=now)
            events.append(("resolved", entry.alert))
        return events

    def restore(self, alert: Alert) -> bool:
        """Take back a pending or firing alert saved before a restart, if it is this rule's."""
        if alert.name != self.spec.name or any(alert.labels.get(k) != v for k, v in self.spec.labels.items()):
            return False
        self.active[alert.fingerprint] = _Active(alert)
        return True

    def alerts(self) -> list[Alert]:
        """Every alert held (pending, firing, recently resolved)."""
        return [entry.alert for entry in self.active.values()]
