"""The daily digest: the day's SLO status, alerts and top latency regressions, to any channel.

:func:`build_digest` computes it as plain data and wraps it in an Alertmanager webhook v4
payload (one ``info`` alert named ``InfertelDailyDigest`` whose ``description`` is the text), so
every channel takes it unchanged. :func:`daily_digest` schedules it on a :class:`Scheduler`.

Example:
    >>> from infertel.alerting.digest import daily_digest
    >>> from infertel.alerting.schedule import Scheduler
    >>> scheduler = Scheduler(engine=engine)                               # doctest: +SKIP
    >>> daily_digest(scheduler, [slack], engine=engine, at="08:00")         # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

DIGEST_ALERTNAME = "InfertelDailyDigest"
"""The ``alertname`` of the digest's one alert."""
DAY_S = 86_400.0


def _rfc3339(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def digest_data(
    *, engine: Any = None, stats: Callable[[float], Any] | None = None, now: float | None = None, top: int = 5
) -> dict[str, Any]:
    """The digest as plain data: ``slo``, ``alerts`` (fired today by name, firing now) and ``regressions``.

    Args:
        engine: The :class:`~infertel.alerting.AlertEngine` (rules, current alerts, history).
        stats: ``(window_s) -> Snapshot`` (``infertel.stats``): p99 latency of the last hour against
            the last day per series gives the regressions; skipped when a window is not configured.
        now: Wall-clock Unix seconds (default: now).
        top: Regressions kept.

    Example:
        >>> digest_data()["alerts"]
        {'fired_today': {}, 'firing_now': []}
    """
    now = time.time() if now is None else now
    alerts = list(engine.alerts()) if engine is not None else []
    firing_now = sorted(a.name for a in alerts if a.state == "firing")
    fired: Counter[str] = Counter()
    if engine is not None:
        for entry in engine.history(limit=10_000):
            if entry.get("event") == "firing" and now - entry["time_unix_nano"] / 1e9 <= DAY_S:
                fired[entry.get("alertname") or "?"] += 1
    slo = []
    for rule in getattr(engine, "rules", []) or []:
        if type(rule).__name__ == "SLORule":
            burning = sorted(
                {a.labels.get("severity", "") for a in alerts if a.state == "firing" and a.name.startswith(rule.name)}
            )
            slo.append(
                {
                    "name": rule.name,
                    "objective": rule.objective,
                    "status": "burning" if burning else "ok",
                    "severities": burning,
                }
            )
    regressions = []
    if stats is not None:
        try:
            hour, day = stats(3_600.0), stats(DAY_S)
        except Exception:  # the windows are not configured: no regressions to compare
            hour = day = None
        if hour is not None and day is not None:
            for key in hour:
                recent, base = hour[key].latency.p99, day[key].latency.p99 if key in day else None
                if recent and base:
                    regressions.append(
                        {
                            "model": hour[key].model,
                            "operation": hour[key].operation,
                            "p99_last_hour_s": recent,
                            "p99_last_day_s": base,
                            "change": recent / base - 1,
                        }
                    )
            regressions.sort(key=lambda r: r["change"], reverse=True)
    return {
        "time": _rfc3339(now),
        "slo": slo,
        "alerts": {"fired_today": dict(sorted(fired.items())), "firing_now": firing_now},
        "regressions": [r for r in regressions if r["change"] > 0][:top],
    }


def digest_text(data: Mapping[str, Any]) -> str:
    """The digest data as text (the notification's ``description``).

    Example:
        >>> digest_text(digest_data(now=0)).splitlines()[0]
        'infertel daily digest, 1970-01-01T00:00:00Z'
    """
    lines = [f"infertel daily digest, {data['time']}", "", "SLOs:"]
    lines += [f"  {s['name']} (objective {s['objective']:.4%}): {s['status']}" for s in data["slo"]] or [
        "  none defined"
    ]
    lines += ["", "Alerts fired in the last 24 h:"]
    fired = data["alerts"]["fired_today"]
    lines += [f"  {name}: {count}" for name, count in fired.items()] or ["  none"]
    lines += [
        f"Firing now: {', '.join(data['alerts']['firing_now']) or 'none'}",
        "",
        "Top latency regressions (p99, last hour vs last day):",
    ]
    lines += [
        f"  {r['model']} {r['operation']}: {r['p99_last_day_s']:.3f} s -> {r['p99_last_hour_s']:.3f} s "
        f"({r['change']:+.0%})"
        for r in data["regressions"]
    ] or ["  none"]
    return "\n".join(lines) + "\n"


def build_digest(
    *,
    engine: Any = None,
    stats: Callable[[float], Any] | None = None,
    now: float | None = None,
    receiver: str = "digest",
) -> dict[str, Any]:
    """The digest as an Alertmanager webhook v4 payload (one ``info`` alert, ``status`` firing).

    Example:
        >>> build_digest(now=0)["alerts"][0]["labels"]["alertname"]
        'InfertelDailyDigest'
    """
    now = time.time() if now is None else now
    data = digest_data(engine=engine, stats=stats, now=now)
    fired = sum(data["alerts"]["fired_today"].values())
    summary = (
        f"{fired} alert(s) fired in the last 24 h, {len(data['alerts']['firing_now'])} firing now, "
        f"{sum(1 for s in data['slo'] if s['status'] != 'ok')} SLO(s) burning"
    )
    labels = {"alertname": DIGEST_ALERTNAME, "severity": "info"}
    annotations = {"summary": summary, "description": digest_text(data)}
    day = _rfc3339(now)[:10]
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{DIGEST_ALERTNAME}",day="{day}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": receiver,
        "groupLabels": {"alertname": DIGEST_ALERTNAME},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": annotations,
                "startsAt": _rfc3339(now),
                "endsAt": _rfc3339(now),
                "generatorURL": "",
                "fingerprint": hashlib.sha256(day.encode()).hexdigest()[:16],
            }
        ],
    }


def daily_digest(
    scheduler: Any,
    channels: Sequence[Any],
    *,
    engine: Any = None,
    stats: Callable[[float], Any] | None = None,
    at: str = "08:00",
    timezone: datetime.tzinfo = datetime.timezone.utc,
    name: str = "daily_digest",
) -> Any:
    """Schedule the digest on ``scheduler`` daily at ``at``, submitted to every channel in ``channels``.

    Each run is recorded like any scheduled action; its message says where the digest went.

    Example:
        >>> daily_digest(Scheduler(), [slack], engine=engine, at="07:30")  # doctest: +SKIP
    """
    if not channels:
        raise ValueError("daily_digest: give at least one channel")

    def run() -> str:
        payload = build_digest(engine=engine, stats=stats)
        accepted = [getattr(c, "name", "?") for c in channels if c.submit(payload)]
        if len(accepted) < len(channels):
            raise RuntimeError(
                f"the digest was refused by a full channel (accepted by: {', '.join(accepted) or 'none'})"
            )
        return f"digest sent to {', '.join(accepted)}: {payload['commonAnnotations']['summary']}"

    return scheduler.add(name, run, daily_at=at, timezone=timezone)
