"""The Slack channel: an incoming-webhook message with a text fallback and Block Kit blocks."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from infertel.alerting.channels._base import NOTIFY, Channel, RetryPolicy
from infertel.alerting.channels._format import alert_lines, title
from infertel.alerting.channels._http import check_url, post_json, redact

MAX_ALERT_BLOCKS = 20
"""Alerts shown as their own section; the rest are counted in a context line (Slack allows 50 blocks)."""
_SECTION_MAX = 3_000
_HEADER_MAX = 150


def escape_mrkdwn(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` as Slack requires, so no text becomes a link or a mention.

    Example:
        >>> escape_mrkdwn("<!channel> & <https://x|y>")
        '&lt;!channel&gt; &amp; &lt;https://x|y&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The incoming-webhook body for a notification: ``text`` (fallback) and ``blocks``.

    Every piece of alert data is escaped; nothing from an alert can mention ``@channel`` or
    smuggle a link.

    Example:
        >>> message = slack_message({"status": "firing", "groupLabels": {"alertname": "A"},
        ...                          "alerts": [{"status": "firing", "labels": {"alertname": "A"}}]})
        >>> message["text"], message["blocks"][0]["type"]
        ('[FIRING:1] A', 'header')
    """
    heading = title(payload)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(heading, _HEADER_MAX), "emoji": False}}
    ]
    alerts = list(payload.get("alerts") or [])
    for alert in alerts[:MAX_ALERT_BLOCKS]:
        lines = [f"*{escape_mrkdwn(key)}:* {escape_mrkdwn(value)}" for key, value in alert_lines(alert)]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(lines), _SECTION_MAX)}})
    hidden = max(len(alerts) - MAX_ALERT_BLOCKS, 0) + int(payload.get("truncatedAlerts") or 0)
    if hidden:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"… and {hidden} more alert(s)"}]})
    return {"text": escape_mrkdwn(heading), "blocks": blocks}


class SlackChannel(Channel):
    """Posts each notification to a Slack incoming webhook (text plus blocks, escaped).

    Threading and exceptions: see :class:`Channel`. Slack answers 429 with ``Retry-After`` when
    rate limited: honoured.

    Args:
        webhook_url: The incoming webhook's URL (its path is the secret: never logged).
        name: The channel's name (default ``slack``).
        channel: Overrides the webhook's Slack channel (``#alerts``), where the app allows it.
        username: Overrides the webhook's display name, if the app allows it.
        icon_emoji: Overrides its icon, e.g. ``:rotating_light:``.
        timeout_millis: Time limit of one attempt.
        max_queue: Notifications waiting at most.
        retry: The retry policy.
        ssl_context: TLS settings (default: the system's trust store).

    Example:
        >>> SlackChannel("https://hooks.slack.com/services/T0/B0/XXXX").target
        'https://hooks.slack.com/…'
    """

    def __init__(
        self,
        webhook_url: str,
        *,
        name: str = "slack",
        channel: str | None = None,
        username: str | None = None,
        icon_emoji: str | None = None,
        timeout_millis: float = 10_000,
        max_queue: int = 1_000,
        retry: RetryPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(name, timeout_millis=timeout_millis, max_queue=max_queue, retry=retry)
        self._url = check_url(webhook_url, f"SlackChannel {name!r} webhook_url")
        self.channel = channel
        self.username = username
        self.icon_emoji = icon_emoji
        self._ssl_context = ssl_context
        self.target = redact(webhook_url)

    def send(self, payload: Mapping[str, Any], event: str = NOTIFY) -> None:
        """POST the message (worker thread)."""
        message = slack_message(payload)
        if self.channel:
            message["channel"] = self.channel
        if self.username:
            message["username"] = self.username
        if self.icon_emoji:
            message["icon_emoji"] = self.icon_emoji
        post_json(self._url, message, timeout_s=self.timeout_millis / 1000, ssl_context=self._ssl_context)
