"""Webhook, Slack, PagerDuty and callable channels against real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from typing import Any

import pytest

pytest.importorskip("jsonschema")

from alert_peers import HttpReceiver, Reply, sample_payload  # noqa: E402
from channel_schemas import ALERTMANAGER_V4, PAGERDUTY_EVENT_V2, SLACK_INCOMING_WEBHOOK  # noqa: E402

from infertel.alerting.channels import (  # noqa: E402
    CallableChannel,
    DeliveryError,
    PagerDutyChannel,
    RetryPolicy,
    SlackChannel,
    WebhookChannel,
    dedup_key,
)

pytestmark = pytest.mark.integration

FAST = RetryPolicy(max_attempts=4, initial_backoff_s=0.05, max_backoff_s=2.0, jitter=0.1)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_webhook_sends_the_v4_payload_verbatim() -> None:
    payload = sample_payload()
    with HttpReceiver(ALERTMANAGER_V4) as receiver:
        channel = WebhookChannel(receiver.url("/alerts?token=s3cr3t"), headers={"Authorization": "Bearer t0k3n"})
        assert channel.submit(payload) is True
        assert channel.flush(5_000)
        (got,) = receiver.wait(1)
        assert channel.shutdown()
    assert receiver.invalid == []
    assert got.body == payload
    assert got.path == "/alerts?token=s3cr3t"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["authorization"] == "Bearer t0k3n"
    assert got.headers["user-agent"].startswith("infertel/")
    assert channel.status == {
        "name": "webhook",
        "target": f"http://127.0.0.1:{receiver.server.server_address[1]}/…",
        "submitted": 1,
        "delivered": 1,
        "failed": 0,
        "dropped": 0,
        "retries": 0,
        "queued": 0,
        "last_error": None,
    }


def test_webhook_max_alerts_truncates_as_alertmanager() -> None:
    payload = sample_payload(alerts=5)
    with HttpReceiver(ALERTMANAGER_V4) as receiver:
        channel = WebhookChannel(receiver.url(), max_alerts=2)
        channel.submit(payload)
        (got,) = receiver.wait(1)
        channel.shutdown()
    assert receiver.invalid == []
    assert got.body == {**payload, "alerts": payload["alerts"][:2], "truncatedAlerts": 3}


def test_retries_on_5xx_and_429_honouring_retry_after() -> None:
    replies = [Reply(503), Reply(429, headers={"Retry-After": "1"}), Reply(200)]
    with HttpReceiver(ALERTMANAGER_V4, replies) as receiver:
        channel = WebhookChannel(receiver.url(), retry=FAST)
        channel.submit(sample_payload())
        got = receiver.wait(3)
        assert channel.flush(10_000)
        assert channel.shutdown()
    assert len(got) == 3 and receiver.invalid == []
    assert got[1].time - got[0].time < 0.9  # the backoff after the 503: about 50 ms (not a Retry-After)
    assert got[2].time - got[1].time >= 0.95  # Retry-After: 1 honoured
    assert {k: channel.status[k] for k in ("delivered", "failed", "retries")} == {
        "delivered": 1,
        "failed": 0,
        "retries": 2,
    }


@pytest.mark.parametrize("status", [400, 401, 404, 413])
def test_no_retry_on_other_4xx(status: int) -> None:
    with HttpReceiver(ALERTMANAGER_V4, [Reply(status)]) as receiver:
        channel = WebhookChannel(receiver.url(), retry=FAST)
        channel.submit(sample_payload())
        assert channel.flush(5_000)
        time.sleep(0.2)
        assert len(receiver.received) == 1
        assert channel.shutdown() is False  # a notification was lost
    assert {k: channel.status[k] for k in ("delivered", "failed", "retries", "last_error")} == {
        "delivered": 0,
        "failed": 1,
        "retries": 0,
        "last_error": f"HTTP {status}",
    }


def test_network_error_is_retried_then_given_up() -> None:
    channel = WebhookChannel(
        f"http://127.0.0.1:{closed_port()}/hook", retry=RetryPolicy(max_attempts=3, initial_backoff_s=0.02)
    )
    channel.submit(sample_payload())
    assert channel.flush(5_000)
    status = channel.status
    assert (status["failed"], status["retries"]) == (1, 2)
    assert status["last_error"] == "ConnectionRefusedError: Connection refused"


def test_per_attempt_timeout() -> None:
    with HttpReceiver(ALERTMANAGER_V4, [Reply(200, delay_s=2.0)]) as receiver:
        channel = WebhookChannel(receiver.url(), timeout_millis=200, retry=FAST)
        started = time.monotonic()
        channel.submit(sample_payload())
        got = receiver.wait(2, timeout_s=5)
        assert channel.flush(5_000)
        channel.shutdown()
    assert len(got) == 2  # the first attempt timed out after 200 ms, the second succeeded
    assert got[1].time - started < 1.5  # not after the 2 s the first answer would have taken
    assert (channel.status["delivered"], channel.status["retries"]) == (1, 1)


def test_bounded_queue_counts_drops_and_submit_never_blocks() -> None:
    with HttpReceiver(ALERTMANAGER_V4) as receiver:
        receiver.default = Reply(200, delay_s=0.5)
        channel = WebhookChannel(receiver.url(), max_queue=2, retry=FAST)
        results, durations = [], []
        for _ in range(6):
            started = time.perf_counter()
            results.append(channel.submit(sample_payload()))
            durations.append(time.perf_counter() - started)
        assert max(durations) < 0.25  # never waits for the 0.5 s deliveries
        # One is taken by the worker at once (maybe not yet), two wait: at least three are refused.
        assert results[:2] == [True, True] and results.count(False) >= 3
        assert channel.status["dropped"] == results.count(False)
        assert channel.shutdown(10_000) is False


def test_a_hanging_channel_delays_no_other() -> None:
    with HttpReceiver(ALERTMANAGER_V4) as slow, HttpReceiver(ALERTMANAGER_V4) as fast:
        slow.default = Reply(200, delay_s=3.0)
        stuck = WebhookChannel(slow.url(), name="stuck", timeout_millis=5_000)
        quick = WebhookChannel(fast.url(), name="quick")
        started = time.monotonic()
        for channel in (stuck, quick):
            for _ in range(3):
                channel.submit(sample_payload())
        submitted = time.monotonic() - started
        got = fast.wait(3, timeout_s=5)
        elapsed = time.monotonic() - started
        quick.shutdown()
        stuck.shutdown(100)
    assert submitted < 0.25
    assert len(got) == 3 and elapsed < 2.5  # before even one of the stuck channel's 3 s answers


def test_slack_message_schema_and_escaping() -> None:
    payload = sample_payload(alerts=1)
    payload["alerts"][0]["annotations"]["summary"] = "<!channel> model <https://evil|click> & more"
    payload["groupLabels"]["model"] = "<b>llama</b>"
    with HttpReceiver(SLACK_INCOMING_WEBHOOK) as receiver:
        channel = SlackChannel(
            receiver.url("/services/T000/B000/XXXXSECRET"), username="infertel", icon_emoji=":rotating_light:"
        )
        channel.submit(payload)
        (got,) = receiver.wait(1)
        channel.shutdown()
    assert receiver.invalid == []
    assert got.body == {
        "text": "[FIRING:1] HighP99Latency (&lt;b&gt;llama&lt;/b&gt;)",
        "username": "infertel",
        "icon_emoji": ":rotating_light:",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "[FIRING:1] HighP99Latency (<b>llama</b>)", "emoji": False},
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "\n".join(
                        [
                            "*summary:* &lt;!channel&gt; model &lt;https://evil|click&gt; &amp; more",
                            "*description:* above 2 s for 5 m",
                            "*labels:* alertname=HighP99Latency, model=llama-0, service=chat, severity=page",
                            "*status:* firing",
                            "*starts:* 2026-12-07T04:00:00Z",
                            "*source:* http://127.0.0.1:8686/alerts",
                        ]
                    ),
                },
            },
        ],
    }


def test_slack_many_alerts_stay_within_block_limits() -> None:
    with HttpReceiver(SLACK_INCOMING_WEBHOOK) as receiver:
        channel = SlackChannel(receiver.url())
        channel.submit({**sample_payload(alerts=60), "truncatedAlerts": 5})
        (got,) = receiver.wait(1)
        channel.shutdown()
    assert receiver.invalid == []
    assert len(got.body["blocks"]) == 22
    assert got.body["blocks"][-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "… and 45 more alert(s)"}],
    }


def test_pagerduty_trigger_acknowledge_resolve() -> None:
    accepted = Reply(
        202,
        body=b'{"status":"success","message":"Event processed","dedup_key":"x"}',
        headers={"Content-Type": "application/json"},
    )
    firing, resolved = sample_payload("firing"), sample_payload("resolved")
    with HttpReceiver(PAGERDUTY_EVENT_V2) as receiver:
        receiver.default = accepted
        channel = PagerDutyChannel("R0UTINGKEY0123456789", url=receiver.url("/v2/enqueue"), retry=FAST)
        channel.submit(firing)
        channel.acknowledge(firing)
        channel.submit(resolved)
        got = receiver.wait(3)
        assert channel.shutdown()
    assert receiver.invalid == []
    key = dedup_key(firing)
    assert [r.body["event_action"] for r in got] == ["trigger", "acknowledge", "resolve"]
    assert {r.body["dedup_key"] for r in got} == {key}
    assert got[1].body == {"routing_key": "R0UTINGKEY0123456789", "event_action": "acknowledge", "dedup_key": key}
    assert got[2].body == {"routing_key": "R0UTINGKEY0123456789", "event_action": "resolve", "dedup_key": key}
    trigger = got[0].body
    assert trigger["payload"]["summary"] == "[FIRING:2] HighP99Latency"
    assert (trigger["payload"]["severity"], trigger["payload"]["source"], trigger["payload"]["class"]) == (
        "critical",
        "chat",
        "HighP99Latency",
    )
    assert trigger["payload"]["custom_details"]["num_firing"] == 2
    assert trigger["client_url"] == "http://127.0.0.1:8686"


def test_pagerduty_400_is_not_retried_429_is() -> None:
    replies = [Reply(429, headers={"Retry-After": "0"}), Reply(202), Reply(400, body=b'{"status":"invalid event"}')]
    with HttpReceiver(PAGERDUTY_EVENT_V2, replies) as receiver:
        channel = PagerDutyChannel("KEY", url=receiver.url("/v2/enqueue"), retry=FAST)
        channel.submit(sample_payload())
        channel.submit(sample_payload("resolved"))
        got = receiver.wait(3)
        assert channel.flush(5_000)
        time.sleep(0.1)
        channel.shutdown()
    assert len(got) == 3 == len(receiver.received)
    assert {k: channel.status[k] for k in ("delivered", "failed", "retries")} == {
        "delivered": 1,
        "failed": 1,
        "retries": 1,
    }


def test_callable_channel_retries_connection_errors_only() -> None:
    calls: list[dict[str, Any]] = []
    failures = iter([ConnectionError("peer reset"), None, ValueError("bug")])

    def deliver(payload: dict[str, Any]) -> None:
        calls.append(payload)
        failure = next(failures, None)
        if failure is not None:
            raise failure

    channel = CallableChannel(deliver, retry=FAST)
    assert channel.name.endswith("deliver")
    first, second = sample_payload(), sample_payload("resolved")
    channel.submit(first)
    channel.submit(second)
    assert channel.flush(5_000)
    assert calls == [first, first, second]
    assert {k: channel.status[k] for k in ("delivered", "failed", "retries", "last_error")} == {
        "delivered": 1,
        "failed": 1,
        "retries": 1,
        "last_error": "the callable raised ValueError",
    }
    told: list[Any] = []
    acking = CallableChannel(lambda p, event="notify": told.append((event, p["status"])), acknowledgements=True)
    acking.submit(first)
    acking.acknowledge(first)
    assert acking.flush(5_000) and told == [("notify", "firing"), ("acknowledge", "firing")]
    retryable = CallableChannel(lambda p: (_ for _ in ()).throw(DeliveryError("busy", retryable=True)), retry=FAST)
    retryable.submit(first)
    assert retryable.flush(5_000) and retryable.status["retries"] == 3


def test_secrets_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    secrets = ["XXXXSLACKSECRET", "s3cr3t-query-token", "R0UT1NGK3YSECRET", "Bearer-h3ad3r-secret"]
    caplog.set_level(logging.DEBUG)
    dead = closed_port()
    with HttpReceiver(None) as receiver:
        receiver.default = Reply(500, body=b"failure")
        channels = [
            SlackChannel(f"http://127.0.0.1:{dead}/services/T0/B0/XXXXSLACKSECRET", retry=FAST),
            WebhookChannel(
                receiver.url("/hook?token=s3cr3t-query-token"),
                headers={"Authorization": "Bearer-h3ad3r-secret"},
                retry=FAST,
            ),
            PagerDutyChannel("R0UT1NGK3YSECRET", url=receiver.url("/v2/enqueue"), retry=FAST),
            WebhookChannel(receiver.url("/hook?token=s3cr3t-query-token"), retry=RetryPolicy(max_attempts=1)),
        ]
        for channel in channels:
            channel.submit(sample_payload())
        for channel in channels:
            assert channel.flush(10_000)
        from infertel._internal import errors

        errors.reset_for_tests()  # (rate limit) each channel's give-up line logs now, whatever came before
        for channel in channels:
            channel.submit(sample_payload())
            assert channel.flush(10_000)
    shown = caplog.text + "".join(repr(c) + json.dumps(c.status) for c in channels)
    assert shown.count("gave up a notification") >= 4
    for secret in secrets:
        assert secret not in shown


def test_concurrent_submitters_lose_nothing_within_bounds() -> None:
    received: list[int] = []
    lock = threading.Lock()

    def record(payload: dict[str, Any]) -> None:
        with lock:
            received.append(payload["n"])

    channel = CallableChannel(record, max_queue=10_000)
    threads = [
        threading.Thread(target=lambda k=k: [channel.submit({"n": k * 1000 + i}) for i in range(500)]) for k in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert channel.shutdown(10_000)
    assert sorted(received) == sorted(k * 1000 + i for k in range(4) for i in range(500))


def test_through_the_engine_a_hanging_channel_delays_neither_evaluation_nor_the_others() -> None:
    from infertel.alerting import AlertEngine, Receiver, ReplaySource, Route, ThresholdRule

    got: list[tuple[float, dict[str, Any]]] = []
    with HttpReceiver(ALERTMANAGER_V4) as slow:
        slow.default = Reply(200, delay_s=3.0)
        stuck = WebhookChannel(slow.url(), name="stuck", timeout_millis=5_000)
        quick = CallableChannel(lambda payload: got.append((time.monotonic(), payload)), name="quick")
        engine = AlertEngine(
            [ThresholdRule("Overloaded", signal="in_flight", threshold=50)],
            source=ReplaySource([('infertel_live_in_flight{gen_ai_request_model="m1"}', "100 100 100")], interval_s=15),
            route=Route("oncall", group_wait_s=0),
            receivers=[Receiver("oncall", channels=[stuck, quick])],
        )
        started = time.monotonic()
        engine.evaluate(0.0)
        engine.tick(0.0)
        engine.evaluate(15.0)
        spent = time.monotonic() - started
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        slow.wait(1)
        engine.shutdown(100)
    assert spent < 0.5  # two rounds and a dispatch while one channel's receiver takes 3 s to answer
    assert got and got[0][0] - started < 1.0
    assert got[0][1]["status"] == "firing" and got[0][1]["alerts"][0]["labels"]["alertname"] == "Overloaded"
    assert slow.invalid == [] and len(slow.received) == 1
