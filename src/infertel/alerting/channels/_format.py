"""Human-readable text of an Alertmanager webhook v4 payload (titles and per-alert lines).

The title follows Alertmanager's default ``[FIRING:2] HighLatency (chat llama)`` form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ZERO_TIME = "0001-01-01T00:00:00Z"


def title(payload: Mapping[str, Any]) -> str:
    """``[FIRING:n] alertname (other group label values)`` or ``[RESOLVED] ...``.

    Example:
        >>> title({"status": "firing", "alerts": [{"status": "firing"}],
        ...        "groupLabels": {"alertname": "HighLatency", "model": "llama"}})
        '[FIRING:1] HighLatency (llama)'
    """
    status = str(payload.get("status", "firing"))
    alerts = payload.get("alerts") or []
    head = (
        f"[{status.upper()}:{sum(1 for a in alerts if a.get('status') == 'firing')}]"
        if status == "firing"
        else f"[{status.upper()}]"
    )
    group = dict(payload.get("groupLabels") or {})
    name = group.pop("alertname", None) or (payload.get("commonLabels") or {}).get("alertname") or "alert"
    rest = " ".join(str(v) for _, v in sorted(group.items()))
    return f"{head} {name}" + (f" ({rest})" if rest else "")


def alert_lines(alert: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, value) pairs describing one alert: summary, description, labels, times.

    Example:
        >>> alert_lines({"status": "firing", "labels": {"alertname": "A"}, "annotations": {"summary": "s"},
        ...              "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z"})[0]
        ('summary', 's')
    """
    annotations = alert.get("annotations") or {}
    found: list[tuple[str, str]] = []
    for key in ("summary", "description"):
        if annotations.get(key):
            found.append((key, str(annotations[key])))
    for key, value in sorted(annotations.items()):
        if key not in ("summary", "description"):
            found.append((key, str(value)))
    labels = alert.get("labels") or {}
    found.append(("labels", ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))))
    found.append(("status", str(alert.get("status", ""))))
    found.append(("starts", str(alert.get("startsAt", ""))))
    ends = alert.get("endsAt")
    if ends and ends != _ZERO_TIME:
        found.append(("ends", str(ends)))
    if alert.get("generatorURL"):
        found.append(("source", str(alert["generatorURL"])))
    return found


def plain_text(payload: Mapping[str, Any]) -> str:
    """The whole payload as plain text (the e-mail's text part, a log line's detail).

    Example:
        >>> plain_text({"status": "resolved", "alerts": [], "groupLabels": {"alertname": "A"}}).splitlines()[0]
        '[RESOLVED] A'
    """
    lines = [title(payload), ""]
    for alert in payload.get("alerts") or []:
        for key, value in alert_lines(alert):
            lines.append(f"{key}: {value}")
        lines.append("")
    if payload.get("truncatedAlerts"):
        lines.append(f"... and {payload['truncatedAlerts']} more alert(s)")
    return "\n".join(lines).rstrip() + "\n"
