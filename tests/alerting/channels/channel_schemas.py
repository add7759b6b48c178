"""JSON Schemas of what each channel sends, written from each receiver's documentation.

- Alertmanager webhook payload, version 4: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
- Slack incoming webhooks and Block Kit (header, section, context): https://api.slack.com/reference/block-kit/blocks
- PagerDuty Events API v2: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
"""

from __future__ import annotations

from typing import Any

_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_RFC3339 = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"}

ALERTMANAGER_V4: dict[str, Any] = {
    "type": "object",
    "required": [
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    ],
    "additionalProperties": False,
    "properties": {
        "version": {"const": "4"},
        "groupKey": {"type": "string"},
        "truncatedAlerts": {"type": "integer", "minimum": 0},
        "status": {"enum": ["firing", "resolved"]},
        "receiver": {"type": "string"},
        "groupLabels": _LABELS,
        "commonLabels": _LABELS,
        "commonAnnotations": _LABELS,
        "externalURL": {"type": "string"},
        "alerts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"],
                "additionalProperties": False,
                "properties": {
                    "status": {"enum": ["firing", "resolved"]},
                    "labels": {**_LABELS, "required": ["alertname"]},
                    "annotations": _LABELS,
                    "startsAt": _RFC3339,
                    "endsAt": _RFC3339,
                    "generatorURL": {"type": "string"},
                    "fingerprint": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                },
            },
        },
    },
}

_PLAIN = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"const": "plain_text"},
        "text": {"type": "string", "minLength": 1, "maxLength": 150},
        "emoji": {"type": "boolean"},
    },
    "additionalProperties": False,
}
_MRKDWN = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"const": "mrkdwn"},
        "text": {"type": "string", "minLength": 1, "maxLength": 3000},
        "verbatim": {"type": "boolean"},
    },
    "additionalProperties": False,
}
SLACK_INCOMING_WEBHOOK: dict[str, Any] = {
    "type": "object",
    "required": ["text", "blocks"],
    "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "channel": {"type": "string"},
        "username": {"type": "string"},
        "icon_emoji": {"type": "string", "pattern": "^:[a-z0-9_+-]+:$"},
        "blocks": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["type", "text"],
                        "additionalProperties": False,
                        "properties": {"type": {"const": "header"}, "text": _PLAIN},
                    },
                    {
                        "type": "object",
                        "required": ["type", "text"],
                        "additionalProperties": False,
                        "properties": {"type": {"const": "section"}, "text": _MRKDWN},
                    },
                    {
                        "type": "object",
                        "required": ["type", "elements"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "context"},
                            "elements": {"type": "array", "maxItems": 10, "items": _MRKDWN},
                        },
                    },
                ]
            },
        },
    },
}

PAGERDUTY_EVENT_V2: dict[str, Any] = {
    "type": "object",
    "required": ["routing_key", "event_action", "dedup_key"],
    "additionalProperties": False,
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
        "client": {"type": "string"},
        "client_url": {"type": "string"},
        "links": {"type": "array"},
        "images": {"type": "array"},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "additionalProperties": False,
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": _RFC3339,
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
    },
    # A trigger needs its payload; acknowledge and resolve need only the key.
    "if": {"properties": {"event_action": {"const": "trigger"}}},
    "then": {"required": ["payload"]},
    "else": {"not": {"required": ["payload"]}},
}
