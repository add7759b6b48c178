"""The e-mail channel: SMTP with STARTTLS or implicit TLS, plain-text and HTML bodies (standard library)."""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from infertel.alerting.channels._base import NOTIFY, Channel, DeliveryError, RetryPolicy
from infertel.alerting.channels._format import alert_lines, plain_text, title

SECURITY = ("starttls", "tls", "none")
"""``starttls`` (port 587: upgrade the connection), ``tls`` (port 465: TLS from the start), ``none``."""
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def html_body(payload: Mapping[str, Any]) -> str:
    """The notification as a small HTML document; every value escaped.

    Example:
        >>> "&lt;b&gt;" in html_body({"status": "firing", "groupLabels": {"alertname": "<b>"}, "alerts": []})
        True
    """
    parts = [
        "<!DOCTYPE html><html><body>",
        f"<h2>{html.escape(title(payload))}</h2>",
    ]
    for alert in payload.get("alerts") or []:
        parts.append("<table>")
        for key, value in alert_lines(alert):
            parts.append(f'<tr><th align="left">{html.escape(key)}</th><td>{html.escape(value)}</td></tr>')
        parts.append("</table><hr>")
    if payload.get("truncatedAlerts"):
        parts.append(f"<p>… and {int(payload['truncatedAlerts'])} more alert(s)</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


class EmailChannel(Channel):
    """Mails each notification over SMTP: a plain-text part and an HTML alternative.

    Threading and exceptions: see :class:`Channel`. Retried: connection errors, timeouts, SMTP
    4xx replies; not retried: SMTP 5xx replies, a refused login, a refused certificate.

    Args:
        host: The SMTP server.
        port: Its port (587 for ``starttls``, 465 for ``tls``, 25 for ``none`` by default).
        sender: The ``From`` address.
        recipients: The ``To`` addresses.
        security: One of :data:`SECURITY` (default ``starttls``).
        username: Login name, if the server wants one.
        password: Login password (never logged, not in ``repr``).
        ssl_context: TLS settings (default: the system's trust store, hostname checked).
        name: The channel's name (default ``email``).
        timeout_millis: Time limit of one attempt.
        max_queue: Notifications waiting at most.
        retry: The retry policy.

    Raises:
        ValueError: No recipient, an unknown ``security``, or a password over an unencrypted
            connection to a host other than this machine.

    Example:
        >>> channel = EmailChannel("smtp.example.com", sender="infertel@example.com",
        ...                        recipients=["oncall@example.com"], username="u", password="p")
        >>> channel.target
        'smtp://smtp.example.com:587 (starttls)'
    """

    def __init__(
        self,
        host: str,
        *,
        sender: str,
        recipients: Sequence[str],
        port: int | None = None,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        name: str = "email",
        timeout_millis: float = 10_000,
        max_queue: int = 1_000,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(name, timeout_millis=timeout_millis, max_queue=max_queue, retry=retry)
        if security not in SECURITY:
            raise ValueError(f"EmailChannel {name!r}: security={security!r}; expected one of {SECURITY}")
        recipients = [recipients] if isinstance(recipients, str) else list(recipients)
        if not recipients or not sender:
            raise ValueError(f"EmailChannel {name!r}: sender and at least one recipient are required")
        if security == "none" and password is not None and host not in _LOOPBACK:
            raise ValueError(
                f"EmailChannel {name!r}: security='none' would send the password in clear text to {host}; "
                "use 'starttls' or 'tls'"
            )
        self.host = host
        self.port = port if port is not None else {"starttls": 587, "tls": 465, "none": 25}[security]
        self.sender = sender
        self.recipients = recipients
        self.security = security
        self.username = username
        self._password = password
        self._ssl_context = ssl_context
        self.target = f"smtp://{host}:{self.port} ({security})"

    def message(self, payload: Mapping[str, Any]) -> EmailMessage:
        """The e-mail for ``payload``: subject = title, text part, HTML alternative.

        Example:
            >>> EmailChannel("h", sender="a@x", recipients=["b@x"]).message(
            ...     {"status": "resolved", "groupLabels": {"alertname": "A"}, "alerts": []})["Subject"]
            '[RESOLVED] A'
        """
        mail = EmailMessage()
        mail["Subject"] = title(payload)
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        mail.set_content(plain_text(payload))
        mail.add_alternative(html_body(payload), subtype="html")
        return mail

    def send(self, payload: Mapping[str, Any], event: str = NOTIFY) -> None:
        """Mail ``payload`` (worker thread)."""
        mail = self.message(payload)
        timeout_s = self.timeout_millis / 1000
        context = self._ssl_context if self._ssl_context is not None else ssl.create_default_context()
        try:
            if self.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout_s, context=context)
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=timeout_s)
            with client:
                client.ehlo()
                if self.security == "starttls":
                    client.starttls(context=context)
                    client.ehlo()
                if self.username is not None:
                    client.login(self.username, self._password or "")
                client.send_message(mail, from_addr=self.sender, to_addrs=self.recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}: login refused", retryable=False) from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError("SMTP: every recipient refused", retryable=False) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError("SMTP: the server does not support STARTTLS or AUTH", retryable=False) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}", retryable=400 <= exc.smtp_code < 500) from None
        except smtplib.SMTPServerDisconnected:
            raise DeliveryError("SMTP: server disconnected", retryable=True) from None
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP: {type(exc).__name__}", retryable=False) from None
        except ssl.SSLCertVerificationError:
            raise DeliveryError("TLS certificate verification failed", retryable=False) from None
        except TimeoutError:
            raise DeliveryError(f"timed out after {timeout_s:g} s", retryable=True) from None
        except OSError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc.strerror or 'network error'}", retryable=True) from None
