"""Notification channels: webhook (Alertmanager v4), Slack, e-mail, PagerDuty, any Python callable.

Each channel takes the Alertmanager webhook payload, version 4, through :meth:`Channel.submit`
(never blocks: a bounded queue, drops counted) and delivers it on its own thread with retries
(capped exponential backoff with jitter on network errors, 429 with ``Retry-After`` and 5xx;
none on other 4xx), a time limit per attempt, and no secret in any log line.

Example:
    >>> from infertel.alerting.channels import SlackChannel, WebhookChannel
    >>> channels = [WebhookChannel("http://127.0.0.1:9095/hook"),
    ...             SlackChannel("https://hooks.slack.com/services/T0/B0/XXXX")]
    >>> for channel in channels:
    ...     channel.submit(payload)  # doctest: +SKIP
"""

from __future__ import annotations

from infertel.alerting.channels._base import ACKNOWLEDGE, NOTIFY, Channel, DeliveryError, RetryPolicy
from infertel.alerting.channels._callable import CallableChannel, as_channel
from infertel.alerting.channels._config import from_config
from infertel.alerting.channels._format import plain_text, title
from infertel.alerting.channels._pagerduty import EVENTS_URL, PagerDutyChannel, dedup_key, pagerduty_event
from infertel.alerting.channels._slack import SlackChannel, escape_mrkdwn, slack_message
from infertel.alerting.channels._smtp import SECURITY, EmailChannel, html_body
from infertel.alerting.channels._webhook import WebhookChannel

__all__ = [
    "ACKNOWLEDGE",
    "EVENTS_URL",
    "NOTIFY",
    "SECURITY",
    "CallableChannel",
    "Channel",
    "DeliveryError",
    "EmailChannel",
    "PagerDutyChannel",
    "RetryPolicy",
    "SlackChannel",
    "WebhookChannel",
    "as_channel",
    "dedup_key",
    "escape_mrkdwn",
    "from_config",
    "html_body",
    "pagerduty_event",
    "plain_text",
    "slack_message",
    "title",
]
