"""Which exporters each signal goes to: ``OTEL_{TRACES,METRICS,LOGS}_EXPORTER`` as OpenTelemetry defines them.

The rule, per signal (traces, metrics, logs), first match wins:

========================================================  =====================================
What is set                                               The signal goes to
========================================================  =====================================
an endpoint argument of ``configure()`` for the signal    ``otlp`` (to that endpoint)
``OTEL_<SIGNAL>_EXPORTER``                                the listed exporters (``none``: none)
an OTLP endpoint variable for the signal                  ``otlp``
another signal's ``OTEL_*_EXPORTER``                      ``otlp`` (the OpenTelemetry default)
nothing of the above                                      ``infertel_store`` (embedded SQLite)
========================================================  =====================================

Accepted names: ``otlp`` (protocol from ``OTEL_EXPORTER_OTLP[_<SIGNAL>]_PROTOCOL``, gRPC by default),
``otlp_proto_grpc``, ``otlp_proto_http``, ``console``, ``none``, ``infertel_store`` and every name
registered under the ``opentelemetry_<signal>_exporter`` entry points, comma-separated.
"""

from __future__ import annotations

import os
from typing import Any

SIGNALS = ("traces", "metrics", "logs")
OTLP = "otlp"
CONSOLE = "console"
NONE = "none"
STORE = "infertel_store"
"""The embedded SQLite store's exporter name (entry point of ``infertel-exporter-sqlite``)."""
OTLP_BY_NAME = {"otlp_proto_grpc": "grpc", "otlp_proto_http": "http/protobuf"}
"""The SDK's protocol-specific OTLP names: ``otlp`` with that protocol."""
BUILTIN = (OTLP, *OTLP_BY_NAME, CONSOLE, STORE)

EXPORTER_VARIABLES = {
    "traces": "OTEL_TRACES_EXPORTER",
    "metrics": "OTEL_METRICS_EXPORTER",
    "logs": "OTEL_LOGS_EXPORTER",
}


def entry_point_group(signal: str) -> str:
    """The entry-point group of ``signal``'s exporters, e.g. ``opentelemetry_traces_exporter``."""
    return f"opentelemetry_{signal}_exporter"


def registered(signal: str) -> dict[str, Any]:
    """The exporters registered under ``signal``'s entry-point group, by name (first registration wins)."""
    from importlib.metadata import entry_points  # about 20 ms to import: only configure() needs it

    found: dict[str, Any] = {}
    for entry_point in entry_points(group=entry_point_group(signal)):
        found.setdefault(entry_point.name, entry_point)
    return found


def accepted(signal: str) -> tuple[str, ...]:
    """Every exporter name ``OTEL_<SIGNAL>_EXPORTER`` accepts, built-ins first."""
    names = [NONE, *BUILTIN]
    names += sorted(n for n in registered(signal) if n not in names)
    return tuple(names)


def parse(signal: str, value: str) -> tuple[str, ...]:
    """The exporter names in ``value`` (comma-separated; ``none`` entries contribute nothing).

    Raises:
        ValueError: A name is neither built in nor registered; the message names the variable
            and every accepted name.

    Example:
        >>> parse("traces", "console, otlp")
        ('console', 'otlp')
        >>> parse("traces", "none")
        ()
    """
    variable = EXPORTER_VARIABLES[signal]
    names: list[str] = []
    known: tuple[str, ...] | None = None
    for raw in value.split(","):
        name = raw.strip()
        if not name or name.lower() == NONE:
            continue
        if name.lower() in BUILTIN:
            name = name.lower()
        else:
            known = known or accepted(signal)
            if name not in known:
                raise ValueError(
                    f"{variable}: unknown exporter {name!r} (accepted, comma-separated: {', '.join(known)})"
                )
        if name not in names:
            names.append(name)
    return tuple(names)


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value is not None and value.strip() else None


def select(signal: str, *, endpoint_argument: bool, endpoint_variable: bool) -> tuple[str, ...]:
    """The exporter names ``signal`` goes to, by the rule in this module's docstring.

    Example:
        >>> select("traces", endpoint_argument=True, endpoint_variable=False)
        ('otlp',)
    """
    value = _env(EXPORTER_VARIABLES[signal])
    names = parse(signal, value) if value is not None else None  # validated even when an argument wins
    if endpoint_argument:
        return (OTLP,)
    if names is not None:
        return names
    if endpoint_variable or any(_env(v) is not None for v in EXPORTER_VARIABLES.values()):
        return (OTLP,)
    return (STORE,)
