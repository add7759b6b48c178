"""The e-mail channel against a real SMTP server (aiosmtpd) on 127.0.0.1, with STARTTLS and implicit TLS."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiosmtpd")

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402
from alert_peers import sample_payload, self_signed_cert  # noqa: E402

from infertel.alerting.channels import EmailChannel, RetryPolicy  # noqa: E402

pytestmark = pytest.mark.integration

USER, PASSWORD = "alerts", "sm7p-p4ssw0rd-SECRET"
FAST = RetryPolicy(max_attempts=3, initial_backoff_s=0.05, jitter=0)


class Mailbox:
    """aiosmtpd handler: keeps each message; answers from a script of reply codes first."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.script: list[str] = []
        self.tls_seen: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        # STARTTLS sets session.ssl; an implicit-TLS session shows on its transport.
        self.tls_seen.append(session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None)
        if self.script:
            return self.script.pop(0)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = self_signed_cert(tmp_path_factory.mktemp("smtp-tls"))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def serve(mailbox: Mailbox, server_tls: ssl.SSLContext, *, implicit: bool) -> Controller:
    port = free_port()
    if implicit:
        # The whole session is TLS; aiosmtpd's auth_require_tls only knows STARTTLS, so it is off here.
        controller = Controller(
            mailbox,
            hostname="127.0.0.1",
            port=port,
            ssl_context=server_tls,
            authenticator=authenticate,
            auth_require_tls=False,
        )
    else:
        controller = Controller(
            mailbox,
            hostname="127.0.0.1",
            port=port,
            tls_context=server_tls,
            require_starttls=True,
            authenticator=authenticate,
            auth_require_tls=True,
        )
    controller.start()
    return controller


@pytest.fixture(params=["starttls", "tls"])
def smtp(
    request: pytest.FixtureRequest, tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> Iterator[tuple[str, Mailbox, Controller]]:
    mailbox = Mailbox()
    controller = serve(mailbox, tls[0], implicit=request.param == "tls")
    yield request.param, mailbox, controller
    controller.stop()


def test_mail_over_tls_with_text_and_html(
    smtp: tuple[str, Mailbox, Controller], tls: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    security, mailbox, controller = smtp
    payload = sample_payload()
    payload["alerts"][0]["annotations"]["summary"] = "<script>alert(1)</script> & co"
    channel = EmailChannel(
        "127.0.0.1",
        port=controller.port,
        security=security,
        sender="infertel@example.com",
        recipients=["oncall@example.com", "sre@example.com"],
        username=USER,
        password=PASSWORD,
        ssl_context=tls[1],
        retry=FAST,
    )
    assert channel.submit(payload)
    assert channel.shutdown(10_000)
    assert mailbox.tls_seen == [True]
    ((sender, recipients, message),) = mailbox.messages
    assert (sender, recipients) == ("infertel@example.com", ["oncall@example.com", "sre@example.com"])
    assert message["Subject"] == "[FIRING:2] HighP99Latency"
    assert message["To"] == "oncall@example.com, sre@example.com"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    page = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert text.splitlines()[:3] == ["[FIRING:2] HighP99Latency", "", "summary: <script>alert(1)</script> & co"]
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</td>" in page and "<script>" not in page
    assert PASSWORD not in caplog.text


def test_transient_4xx_is_retried_permanent_5xx_is_not(tls: Any) -> None:
    mailbox = Mailbox()
    controller = serve(mailbox, tls[0], implicit=False)
    try:
        mailbox.script = ["451 4.3.0 try again later"]
        channel = EmailChannel(
            "127.0.0.1",
            port=controller.port,
            sender="a@example.com",
            recipients=["b@example.com"],
            username=USER,
            password=PASSWORD,
            ssl_context=tls[1],
            retry=FAST,
        )
        channel.submit(sample_payload())
        assert channel.flush(10_000)
        assert len(mailbox.messages) == 1
        assert {k: channel.status[k] for k in ("delivered", "retries", "failed")} == {
            "delivered": 1,
            "retries": 1,
            "failed": 0,
        }

        mailbox.script = ["554 5.7.1 rejected"]
        channel.submit(sample_payload())
        assert channel.flush(10_000)
        assert len(mailbox.messages) == 1
        assert {k: channel.status[k] for k in ("delivered", "retries", "failed", "last_error")} == {
            "delivered": 1,
            "retries": 1,
            "failed": 1,
            "last_error": "SMTP 554",
        }
    finally:
        controller.stop()


def test_wrong_password_and_untrusted_certificate_fail_without_retry(
    tls: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mailbox = Mailbox()
    controller = serve(mailbox, tls[0], implicit=False)
    try:
        wrong = EmailChannel(
            "127.0.0.1",
            port=controller.port,
            sender="a@example.com",
            recipients=["b@example.com"],
            username=USER,
            password="wrong-" + PASSWORD,
            ssl_context=tls[1],
            retry=FAST,
        )
        wrong.submit(sample_payload())
        assert wrong.flush(10_000)
        assert (wrong.status["failed"], wrong.status["retries"], wrong.status["last_error"]) == (
            1,
            0,
            "SMTP 535: login refused",
        )

        untrusted = EmailChannel(
            "127.0.0.1",
            port=controller.port,
            sender="a@example.com",
            recipients=["b@example.com"],
            username=USER,
            password=PASSWORD,
            retry=FAST,
        )  # the system trust store
        untrusted.submit(sample_payload())
        assert untrusted.flush(10_000)
        assert (untrusted.status["failed"], untrusted.status["retries"]) == (1, 0)
        assert untrusted.status["last_error"] == "TLS certificate verification failed"
        assert mailbox.messages == []
    finally:
        controller.stop()
    assert PASSWORD not in caplog.text


def test_cert_folder_is_temporary(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    assert cert.read_text().startswith("-----BEGIN CERTIFICATE-----") and key.exists()
