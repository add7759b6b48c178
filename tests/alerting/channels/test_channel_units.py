"""Channel pieces without peers: backoff, Retry-After, redaction, text formats, configuration errors."""

from __future__ import annotations

import email.utils
import time

import pytest

from infertel.alerting.channels import (
    CallableChannel,
    EmailChannel,
    PagerDutyChannel,
    RetryPolicy,
    SlackChannel,
    WebhookChannel,
    as_channel,
    html_body,
    pagerduty_event,
    plain_text,
    title,
)
from infertel.alerting.channels._http import redact, retry_after_s


def test_backoff_is_capped_exponential_with_bounded_jitter() -> None:
    policy = RetryPolicy(initial_backoff_s=0.5, max_backoff_s=4.0, multiplier=2.0, jitter=0.25)
    assert [policy.backoff_s(n, rand=lambda: 0.5) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert policy.backoff_s(1, rand=lambda: 0.0) == 0.375
    assert policy.backoff_s(1, rand=lambda: 1.0) == 0.625
    assert policy.backoff_s(5, rand=lambda: 1.0) == 4.0  # jitter never passes the cap
    assert policy.backoff_s(1, 3.0, rand=lambda: 0.5) == 3.0  # Retry-After is honoured ...
    assert policy.backoff_s(1, 60.0, rand=lambda: 0.5) == 4.0  # ... up to the cap


def test_retry_after_forms() -> None:
    assert retry_after_s("120") == 120.0
    assert retry_after_s(None) is None and retry_after_s("soon") is None
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= (retry_after_s(date, now=now) or 0) <= 31


def test_redaction_hides_paths_queries_and_userinfo() -> None:
    assert (
        redact("https://user:pw@hooks.example.com:8443/services/T/B/SECRET?token=x")
        == "https://hooks.example.com:8443/…"
    )
    assert "SECRET" not in repr(SlackChannel("https://hooks.slack.com/services/T/B/SECRET"))
    assert "ROUTEKEY" not in repr(PagerDutyChannel("ROUTEKEY"))
    channel = EmailChannel(
        "smtp.example.com", sender="a@example.com", recipients=["b@example.com"], username="u", password="PW"
    )
    assert "PW" not in repr(channel) and "PW" not in str(channel.status)


def test_configuration_errors_name_the_setting() -> None:
    with pytest.raises(ValueError, match="url"):
        WebhookChannel("ftp://example.com/hook")
    with pytest.raises(ValueError, match="max_alerts"):
        WebhookChannel("http://127.0.0.1/hook", max_alerts=-1)
    with pytest.raises(ValueError, match="routing_key"):
        PagerDutyChannel("")
    with pytest.raises(ValueError, match="security"):
        EmailChannel("h", sender="a@x", recipients=["b@x"], security="ssl")
    with pytest.raises(ValueError, match="clear text"):
        EmailChannel("smtp.example.com", sender="a@x", recipients=["b@x"], security="none", username="u", password="p")
    with pytest.raises(ValueError, match="recipient"):
        EmailChannel("h", sender="a@x", recipients=[])
    with pytest.raises(ValueError, match="max_queue"):
        CallableChannel(print, max_queue=0)
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=1.5)
    with pytest.raises(ValueError, match="channel"):
        as_channel(42)
    hook = WebhookChannel("http://127.0.0.1/hook")
    assert as_channel(hook) is hook and isinstance(as_channel(print), CallableChannel)
    # A bad URL's error never echoes it (it may hold a token).
    with pytest.raises(ValueError) as info:
        SlackChannel("hooks.slack.com/services/T/B/SECRET")
    assert "SECRET" not in str(info.value)


PAYLOAD = {
    "version": "4",
    "groupKey": '{}:{alertname="A"}',
    "status": "firing",
    "groupLabels": {"alertname": "A", "model": "m<1>"},
    "commonLabels": {"alertname": "A", "severity": "warning"},
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "A", "model": "m<1>"},
            "annotations": {"summary": "x & <y>"},
            "startsAt": "2026-12-07T04:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "",
            "fingerprint": "0" * 16,
        },
        {
            "status": "resolved",
            "labels": {"alertname": "A"},
            "annotations": {},
            "startsAt": "2026-12-07T04:00:00Z",
            "endsAt": "2026-12-07T04:05:00Z",
            "generatorURL": "",
            "fingerprint": "1" * 16,
        },
    ],
    "truncatedAlerts": 1,
}


def test_text_formats() -> None:
    assert title(PAYLOAD) == "[FIRING:1] A (m<1>)"
    assert title({**PAYLOAD, "status": "resolved"}) == "[RESOLVED] A (m<1>)"
    assert plain_text(PAYLOAD) == (
        "[FIRING:1] A (m<1>)\n\nsummary: x & <y>\nlabels: alertname=A, model=m<1>\nstatus: firing\n"
        "starts: 2026-12-07T04:00:00Z\n\nlabels: alertname=A\nstatus: resolved\nstarts: 2026-12-07T04:00:00Z\n"
        "ends: 2026-12-07T04:05:00Z\n\n... and 1 more alert(s)\n"
    )
    page = html_body(PAYLOAD)
    assert "<h2>[FIRING:1] A (m&lt;1&gt;)</h2>" in page
    assert "<td>x &amp; &lt;y&gt;</td>" in page and "<y>" not in page
    event = pagerduty_event(PAYLOAD, "K")
    assert (event["event_action"], event["payload"]["severity"]) == ("trigger", "warning")


def test_from_config_builds_each_type(monkeypatch: pytest.MonkeyPatch) -> None:
    from infertel.alerting.channels import from_config

    hook = from_config({"type": "webhook", "url": "http://127.0.0.1:9/hook", "max_alerts": 3, "name": "am"})
    assert (type(hook), hook.name, hook.max_alerts, hook.target) == (WebhookChannel, "am", 3, "http://127.0.0.1:9/…")
    monkeypatch.setenv("SLACK_HOOK", "https://hooks.slack.com/services/T/B/SECRET")
    slack = from_config({"type": "slack", "url_env": "SLACK_HOOK", "channel": "#alerts", "max_attempts": 2})
    assert (type(slack), slack.channel, slack.retry.max_attempts) == (SlackChannel, "#alerts", 2)
    mail = from_config(
        {
            "type": "email",
            "host": "smtp.example.com",
            "from": "a@x",
            "to": ["b@x"],
            "port": 2525,
            "security": "tls",
            "username": "u",
            "password": "p",
        }
    )
    assert (type(mail), mail.sender, mail.recipients, mail.port, mail.security) == (
        EmailChannel,
        "a@x",
        ["b@x"],
        2525,
        "tls",
    )
    pager = from_config({"type": "pagerduty", "routing_key": "K", "url": "http://127.0.0.1:9/v2/enqueue"})
    assert (type(pager), pager.target) == (PagerDutyChannel, "http://127.0.0.1:9/…")

    with pytest.raises(ValueError, match="type"):
        from_config({"type": "sms"})
    with pytest.raises(ValueError, match="unknown field 'token'"):
        from_config({"type": "webhook", "url": "http://127.0.0.1/h", "token": "x"})
    with pytest.raises(ValueError, match="'url' is required"):
        from_config({"type": "slack"})
    with pytest.raises(ValueError, match="'routing_key' is required"):
        from_config({"type": "pagerduty"})
    with pytest.raises(ValueError, match="NOT_SET_ANYWHERE"):
        from_config({"type": "email", "host": "h", "from": "a@x", "to": "b@x", "password_env": "NOT_SET_ANYWHERE"})
