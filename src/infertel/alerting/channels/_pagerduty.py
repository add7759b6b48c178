"""The PagerDuty channel: Events API v2 (trigger, acknowledge, resolve with a ``dedup_key``)."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Mapping
from typing import Any

from infertel.alerting.channels._base import ACKNOWLEDGE, NOTIFY, Channel, DeliveryError, RetryPolicy
from infertel.alerting.channels._format import plain_text, title
from infertel.alerting.channels._http import check_url, post_json, redact

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
"""The Events API v2 endpoint."""
SEVERITIES = ("critical", "error", "warning", "info")
"""PagerDuty's severities; an alert's ``severity`` label maps onto them (``page`` -> critical, else error)."""
_SUMMARY_MAX = 1024


def dedup_key(payload: Mapping[str, Any]) -> str:
    """The incident key of a notification group: SHA-256 of its ``groupKey`` (as Alertmanager does).

    Example:
        >>> len(dedup_key({"groupKey": "{}:{alertname='A'}"}))
        64
    """
    return hashlib.sha256(str(payload.get("groupKey", "")).encode()).hexdigest()


def _severity(payload: Mapping[str, Any]) -> str:
    raw = str((payload.get("commonLabels") or {}).get("severity", "")).lower()
    if raw in SEVERITIES:
        return raw
    return "critical" if raw == "page" else "error"


def pagerduty_event(
    payload: Mapping[str, Any], routing_key: str, event: str = NOTIFY, source: str = "infertel"
) -> dict[str, Any]:
    """The Events API v2 body for a notification (or its acknowledgement).

    Example:
        >>> pagerduty_event({"status": "resolved", "groupKey": "g", "alerts": []}, "KEY")["event_action"]
        'resolve'
    """
    if event == ACKNOWLEDGE:
        action = "acknowledge"
    else:
        action = "trigger" if payload.get("status") == "firing" else "resolve"
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key(payload)}
    if action != "trigger":
        return body
    summary = title(payload)
    common = payload.get("commonLabels") or {}
    body["payload"] = {
        "summary": summary if len(summary) <= _SUMMARY_MAX else summary[: _SUMMARY_MAX - 1] + "…",
        "source": str(common.get("instance") or common.get("service") or source),
        "severity": _severity(payload),
        "component": str(common.get("model") or common.get("service") or "infertel"),
        "group": str(common.get("service") or "infertel"),
        "class": str(common.get("alertname") or "alert"),
        "custom_details": {
            "firing": plain_text(payload),
            "num_firing": sum(1 for a in payload.get("alerts") or [] if a.get("status") == "firing"),
            "num_resolved": sum(1 for a in payload.get("alerts") or [] if a.get("status") == "resolved"),
        },
    }
    body["client"] = "infertel"
    if payload.get("externalURL"):
        body["client_url"] = str(payload["externalURL"])
    return body


class PagerDutyChannel(Channel):
    """Sends each notification group to PagerDuty Events API v2 as one incident.

    Firing -> ``trigger``, resolved -> ``resolve``, :meth:`acknowledge` -> ``acknowledge``, all
    with the same ``dedup_key`` (SHA-256 of the group key). Threading and exceptions: see
    :class:`Channel`; PagerDuty's 429 and 5xx are retried, 400 (an invalid event) is not.

    Args:
        routing_key: The integration's routing key (never logged, not in ``repr``).
        url: The Events API endpoint (default :data:`EVENTS_URL`; tests point it at 127.0.0.1).
        name: The channel's name (default ``pagerduty``).
        source: ``payload.source`` when the alert has no ``instance`` or ``service`` label.
        timeout_millis: Time limit of one attempt.
        max_queue: Notifications waiting at most.
        retry: The retry policy.
        ssl_context: TLS settings (default: the system's trust store).

    Raises:
        ValueError: An empty routing key or a bad URL.

    Example:
        >>> PagerDutyChannel("R0UT1NGK3Y").target
        'https://events.pagerduty.com/…'
    """

    supports_acknowledge = True

    def __init__(
        self,
        routing_key: str,
        *,
        url: str = EVENTS_URL,
        name: str = "pagerduty",
        source: str = "infertel",
        timeout_millis: float = 10_000,
        max_queue: int = 1_000,
        retry: RetryPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(name, timeout_millis=timeout_millis, max_queue=max_queue, retry=retry)
        if not isinstance(routing_key, str) or not routing_key.strip():
            raise ValueError(f"PagerDutyChannel {name!r}: routing_key must be a non-empty string")
        self._routing_key = routing_key
        self._url = check_url(url, f"PagerDutyChannel {name!r} url")
        self.source = source
        self._ssl_context = ssl_context
        self.target = redact(url)

    def send(self, payload: Mapping[str, Any], event: str = NOTIFY) -> None:
        """POST the event (worker thread)."""
        body = pagerduty_event(payload, self._routing_key, event, self.source)
        status, _ = post_json(self._url, body, timeout_s=self.timeout_millis / 1000, ssl_context=self._ssl_context)
        if status != 202 and not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status}", retryable=False)
