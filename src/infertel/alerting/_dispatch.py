"""Grouping, deduplication, muting, repeat and escalation of notifications, as Alertmanager does them.

Each firing or resolved alert joins one aggregation group per route it matches (the group of its
``group_by`` label values). A new group is flushed after ``group_wait``, then every
``group_interval``; a flush notifies the route's receiver when the group's firing set changed, an
alert it announced resolved, or ``repeat_interval`` passed (acknowledged alerts do not repeat).
Silenced and inhibited alerts are left out. An alert still firing and not acknowledged
``escalate_after_s`` after its first notification is also sent to ``escalate_to``, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infertel.alerting._routing import InhibitRule, Receiver, Route
from infertel.alerting._state import Alert

_logger = logging.getLogger(__name__)

MAX_ALERTS_PER_NOTIFICATION = 100
MAX_GROUPS = 10_000


@dataclass
class _Group:
    route: Route
    labels: dict[str, str]
    next_flush: float
    alerts: dict[str, Alert] = field(default_factory=dict)
    notified_firing: frozenset[str] = frozenset()
    last_notify: float | None = None
    first_notified: dict[str, float] = field(default_factory=dict)
    escalated: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Alert fingerprint -> (receiver it was last escalated to, when)."""

    @property
    def key(self) -> str:
        return group_key(self.route.key, self.labels)


def group_key(route_key: str, labels: Mapping[str, str]) -> str:
    """Alertmanager's group key: the route's path and the group's labels.

    Example:
        >>> group_key("{}/0", {"alertname": "A"})
        '{}/0:{alertname="A"}'
    """
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{route_key}:{{{body}}}"


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    common = dict(maps[0])
    for item in maps[1:]:
        common = {k: v for k, v in common.items() if item.get(k) == v}
    return common


def payload(receiver: str, group_key: str, group_labels: Mapping[str, str], alerts: Sequence[Alert],
            external_url: str) -> dict[str, Any]:  # fmt: skip
    """The Alertmanager webhook payload (version 4) for ``alerts``.

    Example:
        >>> payload("r", "{}:{}", {}, [], "http://x")["version"]
        '4'
    """
    shown = list(alerts[:MAX_ALERTS_PER_NOTIFICATION])
    firing = any(a.state != "resolved" for a in alerts)
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": len(alerts) - len(shown),
        "status": "firing" if firing else "resolved",
        "receiver": receiver,
        "groupLabels": dict(group_labels),
        "commonLabels": _common([a.labels for a in shown]),
        "commonAnnotations": _common([a.annotations for a in shown]),
        "externalURL": external_url,
        "alerts": [a.to_webhook() for a in shown],
    }


class Dispatcher:
    """Routes alerts to receivers' channels.

    Threading: called only from the engine's thread (``update`` and ``tick``). Channels are
    reached through ``submit(payload)``, which never blocks.

    Args:
        route: The resolved routing tree.
        receivers: Receivers by name (every name a route or an escalation uses).
        inhibit_rules: Inhibition rules.
        muted_by_silence: ``(labels, now) -> bool``.
        acknowledged: ``fingerprint -> bool``.
        record: ``(alert, event, message)``, called for each notification, escalation and drop.
        external_url: The payload's ``externalURL``.
    """

    def __init__(
        self,
        route: Route,
        receivers: Mapping[str, Receiver],
        inhibit_rules: Sequence[InhibitRule] = (),
        *,
        muted_by_silence: Callable[[Mapping[str, str], float], bool] = lambda labels, now: False,
        acknowledged: Callable[[str], bool] = lambda fp: False,
        record: Callable[[Alert, str, str], None] = lambda alert, event, message: None,
        external_url: str = "",
    ) -> None:
        self.route = route
        self.receivers = dict(receivers)
        self.inhibit_rules = list(inhibit_rules)
        self._muted_by_silence = muted_by_silence
        self._acknowledged = acknowledged
        self._record = record
        self.external_url = external_url
        self._groups: dict[tuple[str, tuple[tuple[str, str], ...]], _Group] = {}
        self.notifications = 0
        self.dropped = 0
        self._unknown: set[str] = set()

    def update(self, alerts: Sequence[Alert], now: float) -> None:
        """Put firing and resolved ``alerts`` into their groups (pending ones are ignored)."""
        for alert in alerts:
            if alert.state == "pending":
                continue
            for route in self.route.match(alert.labels):
                group_by = route.group_by or ()
                labels = dict(alert.labels) if "..." in group_by else {k: alert.labels.get(k, "") for k in group_by}
                key = (route.key, tuple(sorted(labels.items())))
                group = self._groups.get(key)
                if group is None:
                    if alert.state == "resolved":
                        continue
                    if len(self._groups) >= MAX_GROUPS:
                        self.dropped += 1
                        continue
                    group = self._groups[key] = _Group(route, labels, now + float(route.group_wait_s or 0))
                group.alerts[alert.fingerprint] = alert

    def restore(self, alerts: Sequence[Alert], now: float) -> None:
        """Alerts already notified before a restart: grouped as notified, so they are not sent again."""
        self.update(alerts, now)
        for group in self._groups.values():
            for fp, alert in group.alerts.items():
                if alert.state == "firing":
                    group.notified_firing = group.notified_firing | {fp}
                    group.first_notified.setdefault(fp, now)
                    group.last_notify = now

    def muted(self, alert: Alert, firing: Sequence[Mapping[str, str]], now: float) -> str | None:
        """``"silenced"``, ``"inhibited"`` or ``None``."""
        if self._muted_by_silence(alert.labels, now):
            return "silenced"
        if any(rule.inhibits(alert.labels, firing) for rule in self.inhibit_rules):
            return "inhibited"
        return None

    def tick(self, now: float, firing_labels: Sequence[Mapping[str, str]]) -> None:
        """Flush every group that is due and escalate what is overdue."""
        for key, group in list(self._groups.items()):
            if now >= group.next_flush:
                self._flush(group, now, firing_labels)
                group.next_flush = now + float(group.route.group_interval_s or 0)
            self._escalate(group, now)
            if not group.alerts:
                del self._groups[key]

    def next_flush(self) -> float | None:
        """When the earliest group is due (the engine's clock), ``None`` without groups: the engine wakes then."""
        return min((group.next_flush for group in self._groups.values()), default=None)

    def _flush(self, group: _Group, now: float, firing_labels: Sequence[Mapping[str, str]]) -> None:
        firing = [a for a in group.alerts.values()
                  if a.state == "firing" and self.muted(a, firing_labels, now) is None]  # fmt: skip
        resolved = [
            a for a in group.alerts.values() if a.state == "resolved" and a.fingerprint in group.notified_firing
        ]
        firing_set = frozenset(a.fingerprint for a in firing)
        repeat_due = group.last_notify is not None and now - group.last_notify >= float(
            group.route.repeat_interval_s or 0
        )
        unacked = any(not self._acknowledged(a.fingerprint) for a in firing)
        # Alertmanager's rule: notify for a firing alert not yet notified, for a notified one that resolved,
        # or when repeat_interval has passed; an alert that merely went quiet (silenced) sends nothing.
        new_firing = not firing_set <= group.notified_firing
        if new_firing or resolved or (firing and repeat_due and unacked):
            self._send(str(group.route.receiver), group, [*firing, *resolved], now, "notified")
            for alert in firing:
                group.first_notified.setdefault(alert.fingerprint, now)
            group.notified_firing = firing_set
            group.last_notify = now
        for fp, alert in list(group.alerts.items()):
            if alert.state == "resolved":
                del group.alerts[fp]
                group.first_notified.pop(fp, None)
                group.escalated.pop(fp, None)

    def _escalate(self, group: _Group, now: float) -> None:
        # Each unacknowledged firing alert climbs the chain: route receiver -> its escalate_to -> that
        # receiver's escalate_to ..., one step per escalate_after_s of the receiver it is at.
        due: dict[str, list[Alert]] = {}
        for fp, alert in group.alerts.items():
            if alert.state != "firing" or fp not in group.first_notified or self._acknowledged(fp):
                continue
            at, since = group.escalated.get(fp, (str(group.route.receiver), group.first_notified[fp]))
            receiver = self.receivers.get(at)
            if receiver is None or not receiver.escalate_to or receiver.escalate_after_s is None:
                continue
            if now - since >= receiver.escalate_after_s and receiver.escalate_to != group.route.receiver:
                due.setdefault(receiver.escalate_to, []).append(alert)
                group.escalated[fp] = (receiver.escalate_to, now)
        for target, alerts in due.items():
            self._send(target, group, alerts, now, "escalated")

    def _send(self, receiver_name: str, group: _Group, alerts: list[Alert], now: float, event: str) -> None:
        receiver = self.receivers.get(receiver_name)
        if receiver is None:
            if receiver_name not in self._unknown:
                self._unknown.add(receiver_name)
                _logger.warning("alerting: no receiver named %r; its notifications are dropped", receiver_name)
            self.dropped += 1
            return
        body = payload(receiver_name, group.key, group.labels, alerts, self.external_url)
        self.notifications += 1
        for channel in receiver.channels:
            try:
                accepted = channel.submit(body)
            except Exception:  # a channel's bug must not stop the others or the engine
                _logger.exception("alerting: channel %r of receiver %r failed to accept a notification",
                                  getattr(channel, "name", channel), receiver_name)  # fmt: skip
                accepted = False
            if accepted is False:
                self.dropped += 1
        for alert in alerts:
            self._record(alert, event, f"{event} to {receiver_name} ({alert.state})")

    def groups(self) -> list[dict[str, Any]]:
        """The current groups as plain data (for the API and tests)."""
        return [{"key": g.key, "receiver": g.route.receiver, "labels": dict(g.labels),
                 "alerts": sorted(g.alerts), "next_flush": g.next_flush} for g in self._groups.values()]  # fmt: skip
