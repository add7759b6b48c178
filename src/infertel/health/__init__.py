"""Health checks and Kubernetes probes: ``/livez``, ``/readyz``, ``/startupz``.

A :class:`HealthRegistry` holds checks (sync or async callables returning pass/warn/fail with a
message and an observed value), each with its timeout, period and criticality, runs them in the
background and keeps each probe's verdict rendered: a probe never runs a check. ``/livez`` says
the process works and never depends on downstreams; ``/readyz`` passes when every critical check
passes and every gate (``"model-loaded"``, opened by the application) is open; ``/startupz``
passes once each has passed once. Answers: 200 or 503, an ``application/health+json`` body, or
the Kubernetes-style text with ``?verbose``.

Importing this package loads nothing but this facade (the FastAPI instrumentation reads
:data:`load_shedder` on the request path); each name is imported on first use.

Example:
    >>> from fastapi import FastAPI
    >>> from infertel import health
    >>> registry = health.default_registry(gates=["model-loaded"])
    >>> app = FastAPI(lifespan=health.lifespan(registry))
    >>> app.include_router(health.router(registry))
    >>> registry.open_gate("model-loaded")   # once the model is loaded
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infertel.health._asgi import health_app, router, wants_verbose
    from infertel.health._builtin import (
        default_checks,
        disk_check,
        event_loop_lag_check,
        exporters_check,
        gpu_check,
        load_shedding_check,
        memory_check,
        store_check,
    )
    from infertel.health._defaults import default_registry, lifespan
    from infertel.health._looplag import EventLoopLagMonitor
    from infertel.health._model import (
        FAIL,
        LIVEZ,
        PASS,
        PROBES,
        READYZ,
        STARTUPZ,
        STATUSES,
        WARN,
        Check,
        CheckResult,
        Observation,
    )
    from infertel.health._registry import HealthRegistry
    from infertel.health._render import HEALTH_JSON, ProbeReport
    from infertel.health._shedding import LoadShedder, load_shedder

_NAMES: dict[str, str] = {
    **dict.fromkeys(("health_app", "router", "wants_verbose"), "infertel.health._asgi"),
    **dict.fromkeys(
        (
            "default_checks",
            "disk_check",
            "event_loop_lag_check",
            "exporters_check",
            "gpu_check",
            "load_shedding_check",
            "memory_check",
            "store_check",
        ),
        "infertel.health._builtin",
    ),
    **dict.fromkeys(("default_registry", "lifespan"), "infertel.health._defaults"),
    "EventLoopLagMonitor": "infertel.health._looplag",
    **dict.fromkeys(
        ("FAIL", "LIVEZ", "PASS", "PROBES", "READYZ", "STARTUPZ", "STATUSES", "WARN", "Check", "CheckResult"),
        "infertel.health._model",
    ),
    "Observation": "infertel.health._model",
    "HealthRegistry": "infertel.health._registry",
    **dict.fromkeys(("HEALTH_JSON", "ProbeReport"), "infertel.health._render"),
    **dict.fromkeys(("LoadShedder", "load_shedder"), "infertel.health._shedding"),
}

__all__ = [
    "Check",
    "CheckResult",
    "EventLoopLagMonitor",
    "FAIL",
    "HEALTH_JSON",
    "HealthRegistry",
    "LIVEZ",
    "LoadShedder",
    "Observation",
    "PASS",
    "PROBES",
    "ProbeReport",
    "READYZ",
    "STARTUPZ",
    "STATUSES",
    "WARN",
    "default_checks",
    "default_registry",
    "disk_check",
    "event_loop_lag_check",
    "exporters_check",
    "gpu_check",
    "health_app",
    "lifespan",
    "load_shedder",
    "load_shedding_check",
    "memory_check",
    "router",
    "store_check",
    "wants_verbose",
]


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_NAMES})
