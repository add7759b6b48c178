"""Channels from plain data (the receivers of a YAML rules file): :func:`from_config`."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from infertel.alerting.channels._base import Channel, RetryPolicy
from infertel.alerting.channels._pagerduty import PagerDutyChannel
from infertel.alerting.channels._slack import SlackChannel
from infertel.alerting.channels._smtp import EmailChannel
from infertel.alerting.channels._webhook import WebhookChannel

_COMMON = ("type", "name", "timeout_millis", "max_queue", "max_attempts")
_FIELDS: dict[str, tuple[str, ...]] = {
    "webhook": ("url", "headers", "max_alerts"),
    "slack": ("url", "channel", "username", "icon_emoji"),
    "email": ("host", "port", "sender", "from", "to", "username", "password", "security"),
    "pagerduty": ("routing_key", "url", "source"),
}
_SECRETS = {"url", "password", "routing_key"}
"""Fields that may instead be given as ``<field>_env``: the name of an environment variable."""


def _resolve(spec: Mapping[str, Any], kind: str) -> dict[str, Any]:
    allowed = set(_COMMON) | set(_FIELDS[kind]) | {f"{s}_env" for s in _SECRETS if s in _FIELDS[kind]}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f"{kind} channel: unknown field {unknown[0]!r}; accepted: {', '.join(sorted(allowed))}")
    values = dict(spec)
    for secret in _SECRETS:
        variable = values.pop(f"{secret}_env", None)
        if variable is None:
            continue
        if secret in values:
            raise ValueError(f"{kind} channel: give {secret!r} or {secret + '_env'!r}, not both")
        if not os.environ.get(str(variable)):
            raise ValueError(f"{kind} channel: {secret}_env names {variable!r}, which is not set")
        values[secret] = os.environ[str(variable)]
    return values


def _require(values: Mapping[str, Any], kind: str, field: str) -> Any:
    if values.get(field) in (None, ""):
        raise ValueError(f"{kind} channel: {field!r} is required")
    return values[field]


def from_config(spec: Mapping[str, Any]) -> Channel:
    """A channel from plain data, as a rules file's receivers give it.

    ``type`` is ``webhook`` (``url``, ``headers``, ``max_alerts``), ``slack`` (``url``,
    ``channel``, ``username``, ``icon_emoji``), ``email`` (``host``, ``port``, ``sender`` or
    ``from``, ``to``, ``username``, ``password``, ``security``) or ``pagerduty`` (``routing_key``,
    ``url``, ``source``); every type also takes ``name``, ``timeout_millis``, ``max_queue`` and
    ``max_attempts``. Secrets (``url``, ``password``, ``routing_key``) may be given as
    ``<field>_env``, the name of an environment variable, to keep them out of the file.

    Raises:
        ValueError: An unknown type or field, a missing required field (the message names it,
            never a secret's value).

    Example:
        >>> from_config({"type": "webhook", "url": "http://127.0.0.1:9095/hook"}).target
        'http://127.0.0.1:9095/…'
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"channel: expected a mapping with 'type', got {type(spec).__name__}")
    kind = spec.get("type")
    if kind not in _FIELDS:
        raise ValueError(f"channel: type={kind!r}; expected one of {', '.join(sorted(_FIELDS))}")
    values = _resolve(spec, kind)
    common: dict[str, Any] = {}
    for key in ("name", "timeout_millis", "max_queue"):
        if key in values:
            common[key] = values[key]
    if "max_attempts" in values:
        common["retry"] = RetryPolicy(max_attempts=int(values["max_attempts"]))
    builders: dict[str, Callable[[], Channel]] = {
        "webhook": lambda: WebhookChannel(
            _require(values, kind, "url"),
            headers=values.get("headers"),
            max_alerts=int(values.get("max_alerts", 0)),
            **common,
        ),
        "slack": lambda: SlackChannel(
            _require(values, kind, "url"),
            channel=values.get("channel"),
            username=values.get("username"),
            icon_emoji=values.get("icon_emoji"),
            **common,
        ),
        "email": lambda: EmailChannel(
            _require(values, kind, "host"),
            port=values.get("port"),
            sender=values.get("sender") or _require(values, kind, "from"),
            recipients=_require(values, kind, "to"),
            username=values.get("username"),
            password=values.get("password"),
            security=values.get("security", "starttls"),
            **common,
        ),
        "pagerduty": lambda: PagerDutyChannel(
            _require(values, kind, "routing_key"),
            **({"url": values["url"]} if values.get("url") else {}),
            source=values.get("source", "infertel"),
            **common,
        ),
    }
    return builders[kind]()
