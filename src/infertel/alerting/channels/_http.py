"""One HTTP POST of a JSON body with the standard library, its failures classified for retrying.

Nothing here puts the URL in an error: webhook URLs carry tokens (Slack's path, a query string).
"""

from __future__ import annotations

import email.utils
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from infertel.alerting.channels._base import DeliveryError
from infertel.version import __version__

USER_AGENT = f"infertel/{__version__}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a place to re-send a notification (and its secrets) to."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def redact(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, the path and query hidden (they may hold tokens).

    Example:
        >>> redact("https://hooks.slack.com/services/T000/B000/XXXX")
        'https://hooks.slack.com/…'
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def check_url(url: str, setting: str) -> str:
    """``url`` if it is an http(s) URL with a host; else a ``ValueError`` naming ``setting`` (not the URL)."""
    if not isinstance(url, str):
        raise ValueError(f"{setting}: expected an http:// or https:// URL string")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{setting}: expected an http:// or https:// URL with a host")
    return url


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if absent or bad.

    Example:
        >>> retry_after_s("7")
        7.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def post_json(
    url: str,
    body: Mapping[str, Any],
    *,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[int, bytes]:
    """POST ``body`` as JSON; the status and response body on 2xx, else :class:`DeliveryError`.

    Retryable: connection errors, timeouts, 429 (with ``Retry-After``), 5xx. Not retryable: other
    statuses (4xx, and 3xx since redirects are not followed), a refused TLS certificate.
    """
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", USER_AGENT)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    handlers: list[Any] = [_NoRedirect()]
    if ssl_context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=timeout_s) as response:
            return int(response.status), response.read(65_536)
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
        reason = f"HTTP {status}"
        if status == 429:
            raise DeliveryError(
                reason, retryable=True, retry_after_s=retry_after_s(exc.headers.get("Retry-After"))
            ) from None
        if status >= 500:
            raise DeliveryError(
                reason, retryable=True, retry_after_s=retry_after_s(exc.headers.get("Retry-After"))
            ) from None
        raise DeliveryError(reason, retryable=False) from None
    except urllib.error.URLError as exc:
        inner = exc.reason
        if isinstance(inner, ssl.SSLCertVerificationError):
            raise DeliveryError("TLS certificate verification failed", retryable=False) from None
        raise DeliveryError(_network_reason(inner), retryable=True) from None
    except TimeoutError:
        raise DeliveryError(f"timed out after {timeout_s:g} s", retryable=True) from None
    except (ConnectionError, OSError) as exc:
        raise DeliveryError(_network_reason(exc), retryable=True) from None


def _network_reason(exc: Any) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__ if isinstance(exc, BaseException) else "network error"
