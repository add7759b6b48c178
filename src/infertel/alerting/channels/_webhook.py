"""The webhook channel: the Alertmanager webhook JSON, version 4, POSTed verbatim."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from infertel.alerting.channels._base import NOTIFY, Channel, RetryPolicy
from infertel.alerting.channels._http import check_url, post_json, redact


class WebhookChannel(Channel):
    """POSTs each notification as the Alertmanager webhook payload (version 4), unchanged.

    Existing Alertmanager receivers work as they are. ``max_alerts`` truncates ``alerts`` the way
    Alertmanager does (``truncatedAlerts`` says how many were left out). Threading and exceptions:
    see :class:`Channel`.

    Args:
        url: The receiver's URL (it may carry a token: never logged, shown as ``scheme://host/…``).
        name: The channel's name (default ``webhook``).
        headers: Extra request headers (``Authorization``: never logged).
        max_alerts: Alerts per request at most, 0 for all.
        timeout_millis: Time limit of one attempt.
        max_queue: Notifications waiting at most.
        retry: The retry policy.
        ssl_context: TLS settings for https (default: the system's trust store).

    Raises:
        ValueError: ``url`` is not an http(s) URL, ``max_alerts`` is negative.

    Example:
        >>> channel = WebhookChannel("http://127.0.0.1:5001/alerts")
        >>> channel.target
        'http://127.0.0.1:5001/…'
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "webhook",
        headers: Mapping[str, str] | None = None,
        max_alerts: int = 0,
        timeout_millis: float = 10_000,
        max_queue: int = 1_000,
        retry: RetryPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(name, timeout_millis=timeout_millis, max_queue=max_queue, retry=retry)
        self._url = check_url(url, f"WebhookChannel {name!r} url")
        if not isinstance(max_alerts, int) or max_alerts < 0:
            raise ValueError(f"WebhookChannel {name!r}: max_alerts={max_alerts!r}; expected an integer >= 0")
        self._headers = dict(headers or {})
        self.max_alerts = max_alerts
        self._ssl_context = ssl_context
        self.target = redact(url)

    def send(self, payload: Mapping[str, Any], event: str = NOTIFY) -> None:
        """POST ``payload`` (worker thread)."""
        body = dict(payload)
        alerts = list(body.get("alerts") or [])
        if self.max_alerts and len(alerts) > self.max_alerts:
            body["alerts"] = alerts[: self.max_alerts]
            body["truncatedAlerts"] = int(body.get("truncatedAlerts", 0)) + len(alerts) - self.max_alerts
        post_json(
            self._url, body, timeout_s=self.timeout_millis / 1000, headers=self._headers, ssl_context=self._ssl_context
        )
