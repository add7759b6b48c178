"""Probe verdicts and their two renderings: ``application/health+json`` and the ``?verbose`` text.

One data model (:class:`ProbeReport`), computed when a result changes, never per probe; the HTTP
layer only picks the pre-rendered bytes. The JSON follows the IETF draft "Health Check Response
Format for HTTP APIs" (draft-inadarei-api-health-check): ``status``, ``description``, ``version``,
``serviceId`` and a ``checks`` map of ``component:measurement`` to a list of entries with
``componentType``, ``observedValue``, ``observedUnit``, ``status``, ``time`` (ISO 8601, UTC) and
``output``. The text follows the Kubernetes API server's ``?verbose`` form (``[+]name ok``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infertel.health._model import FAIL, LIVEZ, PASS, STARTUPZ, WARN, Observation, worst

HEALTH_JSON = "application/health+json"
"""The media type of the JSON body."""


@dataclass(frozen=True)
class ProbeReport:
    """One probe's verdict, rendered once.

    Attributes:
        probe: ``livez``, ``readyz`` or ``startupz``.
        status: ``pass``, ``warn`` or ``fail``.
        http_status: 200 for pass and warn, 503 for fail.
        body: The ``application/health+json`` body, UTF-8.
        text: The ``?verbose`` text, UTF-8.
        document: The body as a dict (the same data; for the dashboard and ``/api/health``).
    """

    probe: str
    status: str
    http_status: int
    body: bytes
    text: bytes
    document: Mapping[str, Any]


def iso_time(time_unix_nano: int) -> str:
    """Unix nanoseconds as ISO 8601 in UTC with milliseconds.

    Example:
        >>> iso_time(0)
        '1970-01-01T00:00:00.000Z'
    """
    moment = datetime.datetime.fromtimestamp(time_unix_nano / 1e9, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _entry(observation: Observation) -> tuple[str, dict[str, Any]]:
    """The check's effective status in the probe and its health+json entry."""
    result = observation.result
    entry: dict[str, Any]
    if result is None:
        status, entry = FAIL, {"status": FAIL, "output": "not run yet"}
    else:
        status = result.status
        if status == FAIL and not observation.check.critical:
            status = WARN
        entry = {"status": status}
        if result.component_type:
            entry["componentType"] = result.component_type
        if result.observed_value is not None:
            entry["observedValue"] = result.observed_value
        if result.observed_unit:
            entry["observedUnit"] = result.observed_unit
        if result.output:
            entry["output"] = result.output
        entry["time"] = iso_time(observation.time_unix_nano)
    return status, entry


def build_report(
    probe: str,
    observations: Iterable[Observation],
    gates: Mapping[str, tuple[bool, bool]],
    *,
    extra: Mapping[str, tuple[str, str]] | None = None,
    service: Mapping[str, str] | None = None,
) -> ProbeReport:
    """Compute and render one probe's verdict.

    Args:
        probe: The probe.
        observations: The latest observation of every check the probe considers.
        gates: Gate name -> (open now, opened once); the liveness probe ignores them.
        extra: More entries: name -> (status, output), e.g. the refresher's own heartbeat.
        service: ``version``, ``serviceId`` and ``releaseId`` to put in the body, when known.

    Example:
        >>> build_report("readyz", [], {"model": (False, False)}).http_status
        503
    """
    statuses: list[str] = []
    checks: dict[str, list[dict[str, Any]]] = {}
    lines: list[str] = []
    for observation in sorted(observations, key=lambda o: o.check.name):
        if probe == STARTUPZ and observation.passed_once:
            status, entry = PASS, {"status": PASS, "output": "passed once (startup complete for this check)"}
        else:
            status, entry = _entry(observation)
        statuses.append(status)
        checks[observation.check.name] = [entry]
        lines.append(_line(observation.check.name, status, entry.get("output", "")))
    if probe != LIVEZ:
        for name, (is_open, opened_once) in sorted(gates.items()):
            passed = opened_once if probe == STARTUPZ else is_open
            status = PASS if passed else FAIL
            entry = {"componentType": "gate", "status": status, "output": "open" if is_open else "closed"}
            statuses.append(status)
            checks[f"gate:{name}"] = [entry]
            lines.append(_line(f"gate:{name}", status, "" if passed else entry["output"]))
    for name, (status, output) in sorted((extra or {}).items()):
        statuses.append(status)
        checks[name] = [{"componentType": "component", "status": status, **({"output": output} if output else {})}]
        lines.append(_line(name, status, output))
    verdict = worst(statuses)
    document: dict[str, Any] = {"status": verdict, "description": probe}
    for key in ("version", "releaseId", "serviceId"):
        if service and service.get(key):
            document[key] = service[key]
    document["checks"] = checks
    verdict_word = "failed" if verdict == FAIL else "passed"
    lines.append(f"{probe} check {verdict_word}")
    return ProbeReport(
        probe=probe,
        status=verdict,
        http_status=503 if verdict == FAIL else 200,
        body=json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode(),
        text=("\n".join(lines) + "\n").encode(),
        document=document,
    )


def _line(name: str, status: str, output: str) -> str:
    if status == PASS:
        return f"[+]{name} ok"
    if status == WARN:
        return f"[+]{name} warn: {output}" if output else f"[+]{name} warn"
    return f"[-]{name} failed: {output}" if output else f"[-]{name} failed"
